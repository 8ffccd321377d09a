package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// version is set at link time: -ldflags "-X github.com/dandan-sre/dandan/internal/buildinfo.version=v1.2.3".
var version = ""

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	BuildTime string `json:"build_time,omitempty"`
	GoVersion string `json:"go_version"`
	Modified  bool   `json:"modified,omitempty"`
}

// Get returns the running binary's build info.
func Get() Info {
	i := Info{Version: version, GoVersion: runtime.Version(), Revision: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
				if len(i.Revision) > 12 {
					i.Revision = i.Revision[:12]
				}
			case "vcs.time":
				i.BuildTime = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	return i
}

// String formats the info on one line, as `dandan version` prints it.
func (i Info) String() string {
	s := "dandan " + i.Version + " (" + i.Revision
	if i.Modified {
		s += ", modified"
	}
	if i.BuildTime != "" {
		s += ", " + i.BuildTime
	}
	return s + ", " + i.GoVersion + ")"
}
