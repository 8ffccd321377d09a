package tail_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dandan-sre/dandan/internal/tail"
)

func Example() {
	dir, _ := os.MkdirTemp("", "tail")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "access.log")
	os.WriteFile(path, []byte("GET /a 200\nGET /b 404\nGET /c"), 0o644)

	f, err := tail.New(tail.Options{Globs: []string{filepath.Join(dir, "*.log")}, FromStart: true}, nil)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := f.Next(ctx) // the partial last line waits for its newline
	if err != nil {
		panic(err)
	}
	// Count c.Data, then commit c.Pos with the counts: a new Follower
	// given c.Pos goes on from there.
	fmt.Printf("%s:%d\n%s", filepath.Base(c.From), c.FirstLine, c.Data)
	fmt.Println("offset", c.Pos.Offset)
	// Output:
	// access.log:1
	// GET /a 200
	// GET /b 404
	// offset 22
}
