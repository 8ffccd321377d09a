package hostmetrics_test

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/dandan-sre/dandan/internal/hostmetrics"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// A watchdog job collects every 15 s and appends what it gets to the
// store, even when some collectors failed.
func Example() {
	ctx := context.Background()
	st, err := metricstore.Open(ctx, "/var/lib/dandan/metrics", metricstore.Options{})
	if err != nil {
		slog.Error("open store", "err", err)
		return
	}
	defer st.Close()
	for name, md := range hostmetrics.Metadata() {
		st.SetMetadata(name, md)
	}
	c := hostmetrics.New(hostmetrics.Options{Job: "node"})
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for now := range tick.C {
		samples, err := c.Collect(ctx, now)
		if err != nil {
			slog.Warn("host metrics incomplete", "err", err)
		}
		app := st.Appender(ctx)
		for _, s := range samples {
			if _, err := app.Append(0, s.Labels, s.T, s.V); err != nil && !errors.Is(err, metricstore.ErrOutOfOrder) {
				slog.Warn("append failed", "err", err)
			}
		}
		if err := app.Commit(); err != nil {
			slog.Error("commit failed", "err", err)
		}
	}
}
