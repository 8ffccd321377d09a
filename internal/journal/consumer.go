package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// consumersDir holds one file per consumer, under the journal's directory.
const consumersDir = "consumers"

// maxNameLen bounds a consumer name, which is a file name.
const maxNameLen = 128

// consumer is a named reader's persisted progress.
type consumer struct {
	name   string
	state  consumerState
	reader *Reader // registered Reader, nil when none
	// Losses since Open.
	droppedRecords, droppedSamples int64
}

// consumerState is the content of consumers/<name>.
type consumerState struct {
	// Acked is the last acknowledged record, or Pos{Segment: n} for
	// "before segment n".
	Acked Pos `json:"acked"`
	// Next is the offset just after Acked in its segment.
	Next int64 `json:"next"`
	// Seq is the number of the Acked record; Samples the running sample
	// total through it.
	Seq     uint64 `json:"seq"`
	Samples uint64 `json:"samples"`
	// Inflight is the end of the range a sender has in flight after Acked.
	Inflight Pos `json:"inflight"`
	// Dropped counts records and samples the size bound deleted before they
	// were acknowledged, over the consumer's life.
	DroppedRecords int64 `json:"dropped_records"`
	DroppedSamples int64 `json:"dropped_samples"`
}

// ConsumerOptions tune a consumer when it is first registered.
type ConsumerOptions struct {
	// FromStart makes a new consumer start at the oldest record on disk
	// rather than after the newest. A consumer known from an earlier run
	// resumes after its last acknowledged record either way.
	FromStart bool
}

// checkName reports whether name can be a consumer name: 1 to 128 of
// A-Z a-z 0-9 . _ -, not starting with a dot.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen || name[0] == '.' {
		return fmt.Errorf("invalid consumer name %q", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("invalid consumer name %q: character %q not in [A-Za-z0-9._-]", name, r)
		}
	}
	return nil
}

// Consumer registers the consumer name and returns its Reader, which starts
// after the consumer's last acknowledged record. A new consumer starts after
// the newest record and is persisted at once, so from then on the journal
// keeps what it has not acknowledged. Only one Reader per name may be open;
// Reader.Close releases it.
func (j *Journal) Consumer(name string) (*Reader, error) {
	return j.ConsumerWith(name, ConsumerOptions{})
}

// ConsumerWith is Consumer with options for a new consumer.
func (j *Journal) ConsumerWith(name string, opts ConsumerOptions) (*Reader, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, ErrClosed
	}
	c := j.consumers[name]
	if c == nil {
		st := j.endState()
		if opts.FromStart {
			st = before(j.segs[0])
		}
		if err := j.saveConsumer(name, st); err != nil {
			return nil, fmt.Errorf("register consumer %s: %w", name, err)
		}
		c = &consumer{name: name, state: st}
		j.consumers[name] = c
	}
	if c.reader != nil {
		return nil, fmt.Errorf("register consumer %s: a reader is already open", name)
	}
	r := newReader(j, c)
	c.reader = r
	return r, nil
}

// RemoveConsumer forgets the consumer name and deletes its file, so that it
// no longer holds records on disk. Its Reader must be closed.
func (j *Journal) RemoveConsumer(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	c := j.consumers[name]
	if c == nil {
		return nil
	}
	if c.reader != nil {
		return fmt.Errorf("remove consumer %s: its reader is open", name)
	}
	path := filepath.Join(j.dir, consumersDir, name)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove consumer %s: %w", name, err)
	}
	delete(j.consumers, name)
	if err := j.syncPath(filepath.Join(j.dir, consumersDir)); err != nil {
		return fmt.Errorf("remove consumer %s: %w", name, err)
	}
	j.collect()
	return nil
}

// endState is the state of a consumer that has seen every record. j.mu is
// held.
func (j *Journal) endState() consumerState {
	s := j.segs[len(j.segs)-1]
	if s.records == 0 {
		return before(s)
	}
	return consumerState{Acked: s.lastPos, Next: s.end, Seq: s.endSeq() - 1, Samples: s.endCum()}
}

// before is the state of a consumer that has seen every record before s.
func before(s *segment) consumerState {
	return consumerState{Acked: Pos{Segment: s.num}, Next: segHeaderSize, Seq: s.firstSeq - 1, Samples: s.firstCum}
}

// loadConsumers reads the consumer files. A damaged file starts its consumer
// from the oldest record: resending beats losing.
func (j *Journal) loadConsumers() error {
	cdir := filepath.Join(j.dir, consumersDir)
	entries, err := os.ReadDir(cdir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(cdir, name)
		if strings.HasPrefix(name, ".") {
			os.Remove(path) // a temporary file left by a crash
			continue
		}
		if !e.Type().IsRegular() || checkName(name) != nil {
			continue
		}
		c := &consumer{name: name}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &c.state); err != nil {
			j.log.Warn("damaged journal consumer file, starting it from the oldest record", "file", path, "err", err)
			c.state = consumerState{}
		}
		j.consumers[name] = c
	}
	return nil
}

// reconcileConsumers fits the loaded consumer states to the segments found:
// a consumer whose unacknowledged records were deleted (the size bound
// deleted them and the process died before saving the consumer) counts them
// as dropped; one ahead of the newest record (a tail lost with the power)
// moves back to it. j.mu is held.
func (j *Journal) reconcileConsumers() []drop {
	var drops []drop
	oldest := j.segs[0]
	for name, c := range j.consumers {
		st := c.state
		switch {
		case st.Seq >= j.nextSeq || j.endState().Acked.Less(st.Acked):
			if st.Seq >= j.nextSeq {
				j.log.Warn("journal consumer ahead of the newest record, moving it back", "consumer", name,
					"offset", st.Acked.String())
			} // else it was before an empty segment Open removed: the same place
			end := j.endState()
			end.DroppedRecords, end.DroppedSamples = st.DroppedRecords, st.DroppedSamples
			st = end
		case st.Acked.Segment < oldest.num:
			recs := int64(oldest.firstSeq) - int64(st.Seq+1)
			samples := int64(oldest.firstCum) - int64(st.Samples)
			if st.IsZero() {
				recs, samples = 0, 0 // damaged file: start from the oldest
			}
			dropped, droppedSamples := st.DroppedRecords, st.DroppedSamples
			inflight := st.Inflight
			st = before(oldest)
			st.DroppedRecords, st.DroppedSamples = dropped, droppedSamples
			if st.Acked.Less(inflight) {
				st.Inflight = inflight
			}
			if recs > 0 {
				j.log.Warn("journal records deleted before the consumer acknowledged them", "consumer", name,
					"records", recs, "samples", samples)
				st.DroppedRecords += recs
				st.DroppedSamples += max(samples, 0)
				c.droppedRecords += recs
				c.droppedSamples += max(samples, 0)
				drops = append(drops, drop{name, recs, max(samples, 0)})
			}
		default:
			continue
		}
		if st == c.state {
			continue
		}
		if err := j.saveConsumer(name, st); err != nil {
			j.log.Warn("saving journal consumer failed", "consumer", name, "err", err)
		}
		c.state = st
	}
	return drops
}

// IsZero reports whether st is the zero state, that of a damaged file.
func (st consumerState) IsZero() bool { return st == consumerState{} }

// saveConsumer replaces the consumer's file with st: written to a temporary
// file, then renamed over it, so a crash leaves the old or the new state.
func (j *Journal) saveConsumer(name string, st consumerState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	cdir := filepath.Join(j.dir, consumersDir)
	tmp := filepath.Join(cdir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = j.syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(cdir, name))
	}
	if err == nil {
		err = j.syncPath(cdir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncPath fsyncs path when Options.Sync is set.
func (j *Journal) syncPath(path string) error {
	if !j.opts.Sync {
		return nil
	}
	return syncPath(path)
}
