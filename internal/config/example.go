package config

import (
	_ "embed"
	"strings"
)

//go:embed example.yaml
var example string

// Example returns the commented example config of the shared sections
// followed by each part's commented section.
func Example(partExamples ...string) string {
	var b strings.Builder
	b.WriteString(example)
	for _, e := range partExamples {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(e, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}
