// Package parts is the one list of dandan's parts, in start order; stop
// runs in reverse. A new part is a package under internal/ plus one line
// in All.
package parts
