package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// FingerprintLen is how many of a file's first bytes its fingerprint covers.
const FingerprintLen = 1024

// Defaults of Options.
const (
	DefaultPollInterval = 250 * time.Millisecond
	DefaultMaxLine      = 1 << 20
	DefaultChunkSize    = 256 << 10
)

const (
	// quietPolls is how many polls a rotated file must stay unchanged
	// before its end is taken as final.
	quietPolls = 2
	// forgetAfter is how long a followed path may be missing, with nothing
	// left to read, before the follower forgets it.
	forgetAfter = time.Hour
	// historyLen is how many finished files per path are remembered, so
	// that their rotated copies are not read again.
	historyLen = 8
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("tail: follower closed")

// Position is where reading a file got to: the checkpoint of one file.
type Position struct {
	Path        string `json:"path"`   // the followed path, e.g. /var/log/nginx/access.log
	Dev         uint64 `json:"dev"`    // device of the file read, when read
	Ino         uint64 `json:"ino"`    // inode of the file read, when read
	Fingerprint string `json:"fp"`     // hex SHA-256 of the file's first FPLen bytes
	FPLen       int    `json:"fp_len"` // FingerprintLen, or fewer if the file was shorter
	Offset      int64  `json:"offset"` // bytes consumed (uncompressed for .gz): just after a '\n'
}

// Options says what to follow and how.
type Options struct {
	// Globs are the files and glob patterns to follow, evaluated again at
	// every poll: files that appear later are followed from their start.
	Globs []string
	// FromStart starts a file found at New without a checkpoint at its
	// beginning; by default it starts at its end.
	FromStart bool
	// PollInterval is how often files are looked at; DefaultPollInterval
	// when 0.
	PollInterval time.Duration
	// MaxLine is the longest line, '\n' excluded; longer lines are dropped
	// and counted in Chunk.Skipped. DefaultMaxLine when 0.
	MaxLine int
	// ChunkSize is the size of one read; DefaultChunkSize when 0.
	ChunkSize int
	// Logger receives warnings (truncation, lost checkpoints); none when nil.
	Logger *slog.Logger
}

// Chunk is a run of complete lines of one file.
type Chunk struct {
	// Path is the followed path, even when the bytes came from a rotated
	// sibling such as access.log.1.gz.
	Path string
	// From is the name of the file the bytes were read from.
	From string
	// Data holds complete lines, each ending in '\n'; it is valid until
	// the next call of Next.
	Data []byte
	// FirstLine is the number of Data's first line in From, counting from
	// 1, or 0 when unknown (reading started mid-file).
	FirstLine int64
	// Skipped counts the lines longer than MaxLine dropped before Data.
	Skipped int
	// Pos is the position after Data: what the caller commits once it has
	// counted Data.
	Pos Position
}

// Lag is how far behind the follower is on one followed path.
type Lag struct {
	Path     string
	Bytes    int64     // bytes not read yet, rotated files not finished included
	LastRead time.Time // when a chunk of Path was last handed out; zero if never
}

// Follower follows the files of Options. Next and Close must not be called
// concurrently; Lag may be called from any goroutine.
type Follower struct {
	opts     Options
	log      *slog.Logger
	buf      []byte // Data of the last chunk, and the bytes being read
	head     []byte // FingerprintLen bytes, to read fingerprints into
	timer    *time.Timer
	nextPoll time.Time
	rr       int // index of the follow read first by the next Next
	closed   bool

	mu      sync.Mutex // guards follows' membership and their lag fields
	follows []*follow
}

// follow is the state of one followed path.
type follow struct {
	path string
	// srcs are the files to read, in order: srcs[0] is being read; the
	// last one is at path unless it is rotated.
	srcs []*source
	// done are the fingerprints of the last files finished.
	done []fingerprint
	// prev, when set, is the file last seen at path before it was
	// rotated: files rotated after it are newer.
	prev         *mark
	missingSince time.Time

	lagBytes int64     // guarded by Follower.mu
	lastRead time.Time // guarded by Follower.mu
}

// New returns a Follower of opts.Globs that resumes each path at its
// checkpoint, the position after the last line the caller counted. It
// opens the files that exist now; a checkpoint whose file is gone is
// looked for among the rotated siblings of its path.
func New(opts Options, checkpoints []Position) (*Follower, error) {
	if len(opts.Globs) == 0 {
		return nil, errors.New("no files to follow")
	}
	for _, g := range opts.Globs {
		if _, err := filepath.Match(g, ""); err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
	}
	if opts.PollInterval < 0 || opts.MaxLine < 0 || opts.ChunkSize < 0 {
		return nil, errors.New("negative poll interval, max line or chunk size")
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MaxLine == 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{
		opts:  opts,
		log:   log,
		buf:   make([]byte, 0, opts.ChunkSize+opts.MaxLine+1),
		head:  make([]byte, FingerprintLen),
		timer: time.NewTimer(time.Hour),
	}
	f.timer.Stop()
	cps := make(map[string]Position, len(checkpoints))
	for _, cp := range checkpoints {
		cp.Path = filepath.Clean(cp.Path)
		cps[cp.Path] = cp
	}
	now := time.Now()
	f.scan(now, cps)
	f.nextPoll = time.Now().Add(opts.PollInterval)
	return f, nil
}

// Next returns the next chunk of lines, from the followed files in turn. It
// waits for lines to be written until ctx is done, then returns ctx.Err().
func (f *Follower) Next(ctx context.Context) (Chunk, error) {
	if f.closed {
		return Chunk{}, ErrClosed
	}
	for {
		if err := ctx.Err(); err != nil {
			return Chunk{}, err
		}
		now := time.Now()
		if !now.Before(f.nextPoll) {
			f.scan(now, nil)
			// From the end of the scan, which can be long (many rotated
			// files to look at): a rotated file is finished after it
			// stayed the same for quietPolls polls, which must be as many
			// intervals.
			f.nextPoll = time.Now().Add(f.opts.PollInterval)
		}
		for i := range f.follows {
			k := (f.rr + i) % len(f.follows)
			if c, ok := f.next(f.follows[k]); ok {
				f.rr = (k + 1) % len(f.follows)
				return c, nil
			}
		}
		f.timer.Reset(time.Until(f.nextPoll))
		select {
		case <-ctx.Done():
			f.timer.Stop()
			return Chunk{}, ctx.Err()
		case <-f.timer.C:
		}
	}
}

// Lag returns, for each followed path in path order, the bytes not read
// yet as of the last poll and when a chunk of it was last handed out.
func (f *Follower) Lag() []Lag {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Lag, 0, len(f.follows))
	for _, fl := range f.follows {
		out = append(out, Lag{Path: fl.path, Bytes: fl.lagBytes, LastRead: fl.lastRead})
	}
	slices.SortFunc(out, func(a, b Lag) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Close closes the files held open. Positions already handed out stay valid
// checkpoints for a new Follower.
func (f *Follower) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.timer.Stop()
	var errs []error
	for _, fl := range f.follows {
		for _, s := range fl.srcs {
			errs = append(errs, s.close())
		}
		fl.srcs = nil
	}
	return errors.Join(errs...)
}

// scan evaluates the globs, starts following new paths and polls every
// path. cps is non-nil only for the first scan, made by New: paths found
// then start at their checkpoint, or per FromStart; later ones at 0.
func (f *Follower) scan(now time.Time, cps map[string]Position) {
	known := make(map[string]bool, len(f.follows))
	for _, fl := range f.follows {
		known[fl.path] = true
	}
	var found []string
	for _, g := range f.opts.Globs {
		literal := !strings.ContainsAny(g, `*?[\`)
		matches, _ := filepath.Glob(g) // patterns were checked by New
		for _, m := range matches {
			m = filepath.Clean(m)
			if known[m] || (!literal && looksRotated(filepath.Base(m))) {
				continue
			}
			if fi, err := os.Stat(m); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			known[m] = true
			found = append(found, m)
		}
	}
	// A checkpoint's path is followed even while it is missing, when it is
	// still wanted, so that its rotated file is finished.
	for p := range cps {
		if !known[p] && f.wanted(p) {
			known[p] = true
			found = append(found, p)
		}
	}
	slices.Sort(found)
	for _, p := range found {
		if isSibling(p, known) {
			continue
		}
		fl := &follow{path: p}
		switch cp, ok := cps[p]; {
		case ok:
			f.resume(fl, cp)
		case cps != nil && !f.opts.FromStart:
			f.open(fl, false, true)
		default:
			f.open(fl, false, false)
		}
		f.mu.Lock()
		f.follows = append(f.follows, fl)
		f.mu.Unlock()
	}
	for _, fl := range f.follows {
		f.poll(fl, now)
	}
	f.forget(now)
}

// wanted reports whether p matches one of the globs.
func (f *Follower) wanted(p string) bool {
	for _, g := range f.opts.Globs {
		if ok, _ := filepath.Match(filepath.Clean(g), p); ok {
			return true
		}
	}
	return false
}

// forget drops the paths missing for longer than forgetAfter with nothing
// left to read.
func (f *Follower) forget(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.follows = slices.DeleteFunc(f.follows, func(fl *follow) bool {
		return len(fl.srcs) == 0 && !fl.missingSince.IsZero() && now.Sub(fl.missingSince) > forgetAfter
	})
	if f.rr >= len(f.follows) {
		f.rr = 0
	}
}

// poll looks at fl's path and files: rotation, truncation, growth.
func (f *Follower) poll(fl *follow, now time.Time) {
	fi, err := os.Stat(fl.path)
	exists := err == nil && fi.Mode().IsRegular()
	if exists {
		fl.missingSince = time.Time{}
	} else if fl.missingSince.IsZero() {
		fl.missingSince = now
	}
	for _, s := range fl.srcs {
		if s.rotated {
			f.pollRotated(s)
		}
	}
	if live := fl.live(); live != nil {
		switch {
		case !exists:
			f.log.Debug("file gone, finishing it", "file", fl.path)
			f.rotate(fl, live)
		case idOf(fi) != live.id:
			f.log.Debug("file replaced, finishing the old one", "file", fl.path)
			f.rotate(fl, live)
		default:
			f.pollLive(fl, live, fi)
		}
	}
	if exists && fi.Size() > 0 && fl.live() == nil {
		if last := fl.last(); last == nil || last.id != idOf(fi) {
			f.open(fl, true, false)
		}
	}
	f.updateLag(fl, false)
}

// rotate marks live as no longer at fl's path, after a last look at it as
// the file at the path: it may have been truncated too before it went.
func (f *Follower) rotate(fl *follow, live *source) {
	mod := live.mod
	if fi, err := live.f.Stat(); err == nil {
		f.pollLive(fl, live, fi)
	}
	fl.prev = markOf(live, mod)
	live.rotated = true
	f.pollRotated(live)
}

// updateLag recomputes fl's lag; read says a chunk was just handed out.
func (f *Follower) updateLag(fl *follow, read bool) {
	var n int64
	for _, s := range fl.srcs {
		if s.gz {
			n += s.size
		} else {
			n += max(s.size, s.readOff) - s.off
		}
	}
	f.mu.Lock()
	fl.lagBytes = n
	if read {
		fl.lastRead = time.Now()
	}
	f.mu.Unlock()
}

// live returns the source at fl's path, or nil.
func (fl *follow) live() *source {
	if s := fl.last(); s != nil && !s.rotated {
		return s
	}
	return nil
}

// last returns fl's last source, or nil.
func (fl *follow) last() *source {
	if len(fl.srcs) == 0 {
		return nil
	}
	return fl.srcs[len(fl.srcs)-1]
}

// next returns the next chunk of fl, if it has one now, finishing the
// rotated files read to their end.
func (f *Follower) next(fl *follow) (Chunk, bool) {
	for len(fl.srcs) > 0 {
		s := fl.srcs[0]
		if c, ok := f.read(fl, s); ok {
			return c, true
		}
		if !s.finished() {
			return Chunk{}, false
		}
		c, ok := f.finish(fl, s)
		if err := s.close(); err != nil {
			f.log.Debug("close failed", "file", s.name, "err", err)
		}
		if fl.done = append(fl.done, s.fp); len(fl.done) > historyLen {
			fl.done = fl.done[1:]
		}
		fl.srcs = slices.Delete(fl.srcs, 0, 1)
		if ok {
			f.updateLag(fl, true)
			return c, true
		}
	}
	return Chunk{}, false
}

// chunk makes a chunk of s's data and records the read.
func (f *Follower) chunk(fl *follow, s *source, data []byte, first int64, skipped int) Chunk {
	c := Chunk{Path: fl.path, From: s.name, Data: data, FirstLine: first, Skipped: skipped, Pos: s.position(fl.path)}
	f.updateLag(fl, true)
	return c
}

// looksRotated reports whether a file name looks like a rotated or
// compressed log (x.1, x.gz, x-20261125), which a glob does not follow.
func looksRotated(name string) bool {
	for _, ext := range []string{".gz", ".bz2", ".xz", ".zst", ".zip"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	if i := strings.LastIndexAny(name, ".-"); i >= 0 {
		suffix := name[i+1:]
		if suffix != "" && strings.Trim(suffix, "0123456789") == "" && (name[i] == '.' || len(suffix) >= 8) {
			return true
		}
	}
	return false
}

// isSibling reports whether p is a rotated sibling of another path in
// paths: that path's name followed by '.' or '-' and anything.
func isSibling(p string, paths map[string]bool) bool {
	dir, name := filepath.Split(p)
	for i := len(name) - 1; i > 0; i-- {
		if (name[i] == '.' || name[i] == '-') && paths[dir+name[:i]] {
			return true
		}
	}
	return false
}

var _ io.Closer = (*Follower)(nil)
