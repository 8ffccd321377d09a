package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// State is where a component is in its life.
type State string

// States.
const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateFailed   State = "failed"
	StateStopping State = "stopping"
	StateStopped  State = "stopped"
)

// Status is one component's state as shown on /readyz and the status page.
type Status struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	Ready     bool      `json:"ready"`
	Error     string    `json:"error,omitempty"`      // why it is not ready now
	LastError string    `json:"last_error,omitempty"` // the last error seen, even if it recovered
	LastErrAt time.Time `json:"last_error_at,omitzero"`
	Since     time.Time `json:"since"` // when State last changed
}

// Runner starts components in order and stops them in reverse.
type Runner struct {
	log   *slog.Logger
	comps []Component

	mu sync.Mutex // guards state
	st map[string]*Status
}

// NewRunner returns a runner for comps, in start order.
func NewRunner(log *slog.Logger, comps []Component) *Runner {
	r := &Runner{log: log, comps: comps, st: map[string]*Status{}}
	now := time.Now()
	for _, c := range comps {
		r.st[c.Name()] = &Status{Name: c.Name(), State: StateStopped, Since: now}
	}
	return r
}

// Add appends c to the components, after the ones already added; call it
// before Start.
func (r *Runner) Add(c Component) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.comps = append(r.comps, c)
	r.st[c.Name()] = &Status{Name: c.Name(), State: StateStopped, Since: time.Now()}
}

// Start starts every component in order. When one fails, the ones already
// started are stopped (in reverse, within ctx) and the error names the part.
func (r *Runner) Start(ctx context.Context) error {
	for i, c := range r.comps {
		r.set(c.Name(), StateStarting, nil)
		t0 := time.Now()
		if err := c.Start(ctx); err != nil {
			r.set(c.Name(), StateFailed, err)
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			// A failed Start may have begun work: Stop is safe after it.
			_ = c.Stop(stopCtx)
			r.stop(stopCtx, r.comps[:i])
			return fmt.Errorf("start %s: %w", c.Name(), err)
		}
		r.set(c.Name(), StateRunning, nil)
		r.log.Info("component started", "part", c.Name(), "duration_s", time.Since(t0).Seconds())
	}
	return nil
}

// Stop stops every component in reverse order, each given what is left of
// ctx's deadline; it returns every error.
func (r *Runner) Stop(ctx context.Context) error {
	return r.stop(ctx, r.comps)
}

func (r *Runner) stop(ctx context.Context, comps []Component) error {
	var errs []error
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		r.set(c.Name(), StateStopping, nil)
		if err := c.Stop(ctx); err != nil {
			r.log.Warn("component stopped with error", "part", c.Name(), "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", c.Name(), err))
			r.set(c.Name(), StateStopped, err)
			continue
		}
		r.set(c.Name(), StateStopped, nil)
	}
	return errors.Join(errs...)
}

func (r *Runner) set(name string, s State, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st[name]
	if st.State != s {
		st.State, st.Since = s, time.Now()
	}
	if err != nil {
		st.LastError, st.LastErrAt = err.Error(), time.Now()
	}
}

// Statuses returns every component's status, asking running components
// that implement Readier whether they are ready now.
func (r *Runner) Statuses() []Status {
	out := make([]Status, 0, len(r.comps))
	for _, c := range r.comps {
		r.mu.Lock()
		st := *r.st[c.Name()]
		r.mu.Unlock()
		st.Ready = st.State == StateRunning
		if st.Ready {
			if rd, ok := c.(Readier); ok {
				if err := rd.Ready(); err != nil {
					st.Ready, st.Error = false, err.Error()
					st.LastError, st.LastErrAt = r.noteError(c.Name(), err)
				}
			}
		} else if st.State == StateFailed {
			st.Error = st.LastError
		}
		out = append(out, st)
	}
	return out
}

// Watch asks every component whether it is ready every interval until ctx
// ends, so that a component that stops working (or recovers) is logged when
// it happens, not only when somebody looks at /readyz.
func (r *Runner) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	notReady := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, st := range r.Statuses() {
			if st.State != StateRunning {
				continue
			}
			if !st.Ready {
				notReady[st.Name] = true
			} else if notReady[st.Name] {
				delete(notReady, st.Name)
				r.log.Info("component ready again", "part", st.Name)
			}
		}
	}
}

// noteError records a readiness error the first time it is seen, logs it,
// and returns the recorded error and when it was first seen.
func (r *Runner) noteError(name string, err error) (string, time.Time) {
	r.mu.Lock()
	st := r.st[name]
	changed := st.LastError != err.Error()
	if changed {
		st.LastError, st.LastErrAt = err.Error(), time.Now()
	}
	last, at := st.LastError, st.LastErrAt
	r.mu.Unlock()
	if changed {
		r.log.Warn("component not ready", "part", name, "err", err)
	}
	return last, at
}

// Ready returns nil when every component is running and ready, else an
// error naming the ones that are not.
func (r *Runner) Ready() error {
	var errs []error
	for _, s := range r.Statuses() {
		if !s.Ready {
			msg := string(s.State)
			if s.Error != "" {
				msg = s.Error
			}
			errs = append(errs, fmt.Errorf("%s: %s", s.Name, msg))
		}
	}
	return errors.Join(errs...)
}
