package journal_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/dandan-sre/dandan/internal/journal"
)

// The agent appends one record per flush; an output reads, sends and
// acknowledges at its own pace, and resumes after its last ack on restart.
func Example() {
	dir, err := os.MkdirTemp("", "journal")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	out, err := j.Consumer("remote_write")
	if err != nil {
		log.Fatal(err)
	}
	for _, flush := range []string{"flush 1", "flush 2", "flush 3"} {
		if _, err := j.Append([]byte(flush), 100); err != nil {
			log.Fatal(err)
		}
	}
	ctx := context.Background()
	for range 2 {
		rec, pos, samples, err := out.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("send %q (%d samples)\n", rec, samples)
		if err := out.Ack(pos); err != nil {
			log.Fatal(err)
		}
	}
	j.Close()

	// After a restart the agent restores its state from the last record
	// and the output goes on after its last ack.
	j, err = journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	last, _, _, err := j.Last()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("restore from %q\n", last)
	out, err = j.Consumer("remote_write")
	if err != nil {
		log.Fatal(err)
	}
	rec, _, _, err := out.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("send %q\n", rec)
	fmt.Println("pending:", j.Stats().Consumers["remote_write"].PendingRecords)
	// Output:
	// send "flush 1" (100 samples)
	// send "flush 2" (100 samples)
	// restore from "flush 3"
	// send "flush 3"
	// pending: 1
}
