package watch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/journal"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/opentsdb"
	"github.com/dandan-sre/dandan/internal/remotewrite"
)

// An output reads the journal as one consumer and sends what it reads.
// It acknowledges a record only once the receiver has it, so after a
// crash or an outage it resumes where it left off.
type output interface {
	name() string
	run(ctx context.Context) // until ctx is done
	drain()                  // returns once it has caught up with the journal
}

// Most records one request of an output merges, and most samples.
const (
	maxBatchRecords = 64
	maxBatchSamples = 50000
)

// openOutputs registers each configured output as a journal consumer.
func (a *Agent) openOutputs() error {
	if a.cfg.Outputs.Store && a.deps.Metrics != nil {
		r, err := a.j.Consumer("store")
		if err != nil {
			return err
		}
		a.outputs = append(a.outputs, &storeOutput{base: base{j: a.j, r: r, log: a.log.With("output", "store")}, app: a.deps.Metrics, recent: &a.recent})
	}
	for _, rc := range a.cfg.Outputs.RemoteWrite {
		name := "remote_write-" + rc.Name
		rwc := remotewrite.Config{Name: rc.Name, URL: rc.URL, Headers: rc.Headers, BearerToken: rc.BearerToken, Timeout: rc.Timeout.Std(),
			MinBackoff: a.rwMinBackoff, MaxBackoff: a.rwMaxBackoff, OnOutage: a.outageRecorder(name)}
		if rc.BasicAuth.Username != "" {
			rwc.BasicAuth = &remotewrite.BasicAuth{Username: rc.BasicAuth.Username, Password: rc.BasicAuth.Password}
		}
		s, err := remotewrite.New(rwc, a.deps.Registerer, a.log.With("output", name))
		if err != nil {
			return err
		}
		r, err := a.j.Consumer(name)
		if err != nil {
			return err
		}
		a.outputs = append(a.outputs, &remoteOutput{base: base{j: a.j, r: r, log: a.log.With("output", name)}, s: s, id: name, m: a.m})
	}
	for _, oc := range a.cfg.Outputs.OpenTSDB {
		name := "opentsdb-" + oc.Name
		s := opentsdb.New(opentsdb.Config{Name: oc.Name, Addr: oc.Addr}, a.deps.Registerer, a.log.With("output", name))
		r, err := a.j.Consumer(name)
		if err != nil {
			return err
		}
		a.outputs = append(a.outputs, &tsdbOutput{base: base{j: a.j, r: r, log: a.log.With("output", name)}, s: s, id: name})
	}
	return nil
}

// base is what every output has: its journal reader.
type base struct {
	j    *journal.Journal
	r    *journal.Reader
	log  *slog.Logger
	done chan struct{}
}

// drain waits until the reader has acknowledged the journal's newest
// record, or its run has ended.
func (b *base) drain() {
	for {
		_, last, ok, err := b.j.Last()
		if err != nil || !ok || !b.r.Acked().Less(last) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// record is a journal record's payload and position.
type record struct {
	payload []byte
	pos     journal.Pos
}

// batch reads one record, waiting for it, then more while they are there
// already, up to the limits.
func (b *base) batch(ctx context.Context) (recs []record, last journal.Pos, samples int, err error) {
	rec, pos, n, err := b.r.Next(ctx)
	if err != nil {
		return nil, pos, 0, err
	}
	for {
		p, err := decodeRecord(rec, nil)
		if err != nil {
			b.log.Error("skipping a bad journal record", "pos", pos, "err", err)
		} else {
			recs = append(recs, record{p, pos})
			samples += n
		}
		last = pos
		if len(recs) >= maxBatchRecords || samples >= maxBatchSamples {
			return recs, last, samples, nil
		}
		rec, pos, n, err = b.r.TryNext()
		if err != nil || rec == nil {
			return recs, last, samples, nil
		}
	}
}

// payloads returns the payloads of recs.
func payloads(recs []record) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.payload
	}
	return out
}

// merge returns the payloads of recs as one remote_write request: the
// payload itself when there is one, which needs no re-encoding.
func merge(buf []byte, recs []record) ([]byte, error) {
	if len(recs) == 1 {
		return recs[0].payload, nil
	}
	return remotewrite.Merge(buf[:0], payloads(recs)...)
}

// recent keeps the samples of the last few commits by journal position,
// so that an output keeping up takes them as they are instead of decoding
// the record again.
type recent struct {
	mu   sync.Mutex
	pos  [4]journal.Pos
	smp  [4][]metricstore.Sample
	next int
}

func (r *recent) put(pos journal.Pos, s []metricstore.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pos[r.next], r.smp[r.next] = pos, s
	r.next = (r.next + 1) % len(r.pos)
}

func (r *recent) get(pos journal.Pos) ([]metricstore.Sample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.pos {
		if p == pos && r.smp[i] != nil {
			return r.smp[i], true
		}
	}
	return nil, false
}

// storeOutput appends to the embedded metric store.
type storeOutput struct {
	base
	app    metricstore.Appendable
	recent *recent
}

func (o *storeOutput) name() string { return "store" }

func (o *storeOutput) run(ctx context.Context) {
	for {
		recs, last, _, err := o.batch(ctx)
		if err != nil {
			return
		}
		for {
			err = o.write(ctx, recs)
			if err == nil || ctx.Err() != nil {
				break
			}
			o.log.Warn("writing to the metric store failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if err != nil {
			return
		}
		if err := o.r.Ack(last); err != nil {
			o.log.Error("ack failed", "err", err)
		}
	}
}

// write appends the samples of payloads in one transaction. Samples the
// store has already (a record written again after a crash) are skipped.
func (o *storeOutput) write(ctx context.Context, recs []record) error {
	app := o.app.Appender(ctx)
	for _, rec := range recs {
		samples, ok := o.recent.get(rec.pos)
		if !ok {
			var err error
			if samples, err = remotewrite.Decode(rec.payload); err != nil {
				o.log.Error("skipping a bad journal record", "err", err)
				continue
			}
		}
		for _, s := range samples {
			var err error
			if s.H != nil {
				// A copy: the TSDB may rewrite it, and the samples of
				// recent records are shared.
				_, err = app.AppendHistogram(0, s.Labels, s.T, s.H.Copy())
			} else {
				_, err = app.Append(0, s.Labels, s.T, s.V)
			}
			if err != nil {
				if errors.Is(err, metricstore.ErrOutOfOrder) || errors.Is(err, metricstore.ErrDuplicate) || errors.Is(err, metricstore.ErrOutOfBounds) {
					continue
				}
				app.Rollback()
				return err
			}
		}
	}
	return app.Commit()
}

// remoteOutput sends to a remote_write receiver. Before a send it records
// the range in flight; after a restart it sends exactly that range again
// first, and a receiver's 4xx to that resend means it had it already.
type remoteOutput struct {
	base
	s  *remotewrite.Sender
	id string
	m  *agentMetrics
}

func (o *remoteOutput) name() string { return o.id }

func (o *remoteOutput) run(ctx context.Context) {
	if err := o.resend(ctx); err != nil {
		return
	}
	var buf []byte
	for {
		recs, last, n, err := o.batch(ctx)
		if err != nil {
			return
		}
		if err := o.r.AckWith(o.r.Acked(), last); err != nil {
			o.log.Error("recording the batch in flight failed", "err", err)
		}
		var req []byte
		req, err = merge(buf, recs)
		if len(recs) > 1 {
			buf = req
		}
		if err != nil {
			o.log.Error("skipping bad journal records", "err", err)
		} else if err := o.s.Send(ctx, req, n); err != nil {
			var d *remotewrite.DroppedError
			if !errors.As(err, &d) {
				return // ctx done: the range stays in flight for the next start
			}
			o.m.dropped.WithLabelValues(o.id, "rejected").Add(float64(n))
		}
		if err := o.r.Ack(last); err != nil {
			o.log.Error("ack failed", "err", err)
		}
	}
}

// resend sends the range that was in flight when the agent stopped.
func (o *remoteOutput) resend(ctx context.Context) error {
	acked, end := o.r.Acked(), o.r.Inflight()
	if !acked.Less(end) {
		return nil
	}
	var payloads [][]byte
	n := 0
	for {
		rec, pos, k, err := o.r.Next(ctx)
		if err != nil {
			return err
		}
		if end.Less(pos) {
			o.r.Seek(acked)
			break
		}
		if p, err := decodeRecord(rec, nil); err == nil {
			payloads = append(payloads, p)
			n += k
		}
		if pos == end {
			break
		}
	}
	buf, err := remotewrite.Merge(nil, payloads...)
	if err == nil {
		err = o.s.Send(ctx, buf, n)
		var d *remotewrite.DroppedError
		if errors.As(err, &d) {
			o.log.Info("the receiver refused the batch in flight at the last stop: it had it already", "samples", n, "status", d.Status)
			err = nil
		}
		if err != nil {
			return err
		}
	}
	return o.r.Ack(end)
}

// tsdbOutput sends OpenTSDB put lines.
type tsdbOutput struct {
	base
	s  *opentsdb.Sender
	id string
}

func (o *tsdbOutput) name() string { return o.id }

func (o *tsdbOutput) run(ctx context.Context) {
	for {
		recs, last, _, err := o.batch(ctx)
		if err != nil {
			return
		}
		var samples []metricstore.Sample
		for _, p := range payloads(recs) {
			s, err := remotewrite.Decode(p)
			if err != nil {
				o.log.Error("skipping a bad journal record", "err", err)
				continue
			}
			for _, x := range s {
				if x.H == nil { // OpenTSDB has no native histograms
					samples = append(samples, x)
				}
			}
		}
		if err := o.s.Send(ctx, samples); err != nil {
			return
		}
		if err := o.r.Ack(last); err != nil {
			o.log.Error("ack failed", "err", err)
		}
	}
}

// outageRecorder returns a remote_write output's OnOutage: an event on
// dandan's time axis that lasts as long as the outage.
func (a *Agent) outageRecorder(output string) func(down bool, since time.Time, err error) {
	var mu sync.Mutex
	var id int64
	return func(down bool, since time.Time, err error) {
		if a.deps.Events == nil {
			return
		}
		func() { // in order: an outage's end never overtakes its start
			mu.Lock()
			defer mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if down {
				text := "remote_write " + output + " is failing"
				if err != nil {
					text += ": " + err.Error()
				}
				id, _ = a.deps.Events.Record(ctx, events.Event{Time: since, Part: "watch", Kind: "remote_write_outage", Severity: events.Warning,
					Text: text, Lasting: true, Labels: map[string]string{"output": output}, Link: "/watch"})
				return
			}
			if id != 0 {
				_ = a.deps.Events.End(ctx, id, time.Now())
				id = 0
			}
		}()
	}
}
