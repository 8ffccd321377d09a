// Command dandan is an SRE toolbox for web and media services in one
// binary; see `dandan --help`.
package main

import (
	"context"
	"os"

	"github.com/dandan-sre/dandan/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args))
}
