package logs

import (
	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/component"
)

// Part returns the logs part: command-only, `dandan logs parse`. The
// watchdog agent uses the engine as a library.
func Part() component.Part {
	return component.Part{
		Name:    "logs",
		Summary: "access logs to request metrics: dandan logs parse",
		Command: func(component.Env) *cobra.Command { return Command() },
	}
}
