// Package buildinfo tells which dandan this is: version, VCS revision and
// Go version, from the linker flag -X and the module's build info.
package buildinfo
