package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/config"
)

func (a *App) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a config or print a commented example",
		Example: `  dandan config example > dandan.yaml
  dandan config check dandan.yaml`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check [FILE...]",
		Short: "Check config files and print every problem with file:line:col and key",
		Long: `Check decodes each file strictly (unknown keys, wrong types and duplicate
keys are errors), expands ${ENV} and ${file:/path} references, validates
every value, and prints every problem at once. It exits 2 when any file has
a problem. Without FILE it checks --config.`,
		Example: `  dandan config check dandan.yaml
  DANDAN_ADMIN_TOKEN=… dandan config check /etc/dandan/dandan.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				f, _ := cmd.Flags().GetString("config")
				args = []string{f}
			}
			failed := false
			for _, f := range args {
				if _, err := a.load(cmd, f); err != nil {
					failed = true
					continue
				}
				fmt.Fprintf(a.stdout, "%s: ok\n", f)
			}
			if failed {
				return &exitError{code: 2, err: errSilent}
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "example",
		Short:   "Print a complete, commented config that passes check",
		Example: "  dandan config example > dandan.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(a.stdout, a.example())
			return nil
		},
	})
	return cmd
}

func (a *App) example() string {
	ex := make([]string, 0, len(a.parts))
	for _, p := range a.parts {
		if p.Example != "" {
			ex = append(ex, p.Example)
		}
	}
	return config.Example(ex...)
}
