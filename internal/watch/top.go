package watch

import (
	"sort"
	"time"

	"github.com/dandan-sre/dandan/internal/logs"
)

// topWindow gives the top clients of the last N minutes from the engine's
// cumulative heavy-hitters sketch: it keeps a snapshot of the sketch's top
// counts each minute and subtracts the one from N minutes ago. Counts are
// the sketch's (exact for clients that stayed in it, an upper bound for
// one that entered it late); memory is N snapshots of the top `keep`.
type topWindow struct {
	step  time.Duration
	snaps []map[string]uint64 // ring: one per step, oldest first
	at    time.Time           // start of the current step
	keep  int
}

func newTopWindow(steps int, step time.Duration) *topWindow {
	return &topWindow{step: step, snaps: make([]map[string]uint64, 0, steps+1), keep: 200}
}

// tick takes a snapshot when a step has passed.
func (w *topWindow) tick(now time.Time, agg *logs.Aggregator) {
	if now.Sub(w.at) < w.step {
		return
	}
	w.at = now.Truncate(w.step)
	m := map[string]uint64{}
	for _, c := range agg.TopClients(w.keep) {
		m[c.Addr] = c.Count
	}
	if len(w.snaps) == cap(w.snaps) {
		copy(w.snaps, w.snaps[1:])
		w.snaps = w.snaps[:len(w.snaps)-1]
	}
	w.snaps = append(w.snaps, m)
}

// top returns the n clients with the most requests since the oldest
// snapshot, most first.
func (w *topWindow) top(agg *logs.Aggregator, n int) []logs.Client {
	cur := agg.TopClients(w.keep)
	var old map[string]uint64
	if len(w.snaps) == cap(w.snaps) {
		old = w.snaps[0]
	}
	out := make([]logs.Client, 0, len(cur))
	for _, c := range cur {
		d := c.Count - min(old[c.Addr], c.Count)
		if d > 0 {
			out = append(out, logs.Client{Addr: c.Addr, Count: d})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Count > out[b].Count })
	if len(out) > n {
		out = out[:n]
	}
	return out
}
