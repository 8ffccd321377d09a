package testkit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Backoff bounds of poll: the first wait and the longest wait between tries.
const (
	pollMin = 5 * time.Millisecond
	pollMax = 200 * time.Millisecond
)

// Eventually calls cond until it returns nil, waiting between calls with a
// backoff that starts at 5ms and grows to 200ms. When timeout passes first, it
// fails the test with the last error cond returned. Tests wait with
// Eventually, never with time.Sleep.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("eventually: %v", err)
	}
}

// poll calls cond until it returns nil or timeout passes. It returns nil on
// success and otherwise the last error, with the timeout said. A cond that
// returns an error made by giveUp stops the polling at once.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	wait := pollMin
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if g, ok := errors.AsType[*giveUpError](err); ok {
			return g.err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("condition not met after %v: %w", timeout, err)
		}
		<-time.After(min(wait, left))
		wait = min(2*wait, pollMax)
	}
}

// giveUpError wraps an error after which polling cannot succeed, such as the
// exit of the process being waited for.
type giveUpError struct{ err error }

func (e *giveUpError) Error() string { return e.err.Error() }
func (e *giveUpError) Unwrap() error { return e.err }

// giveUp marks err as final for poll.
func giveUp(err error) error { return &giveUpError{err: err} }
