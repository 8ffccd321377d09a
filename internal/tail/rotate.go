package tail

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// candidate is a file that may hold the continuation of a known file: the
// file at a followed path or one of its rotated siblings.
type candidate struct {
	name string
	gz   bool
	id   fileID
	size int64 // on disk
	mod  time.Time
	head []byte // first FingerprintLen bytes, decompressed
}

// errSkip says a file is not a candidate: not a regular file, or empty.
var errSkip = errors.New("not a non-empty regular file")

// siblings returns the rotated siblings of path that are regular files:
// files of its directory named after it, then '.' or '-' and anything. A
// file renamed while they are listed (a rotation under way) makes it list
// them again.
func (f *Follower) siblings(path string) []candidate {
	dir, name := filepath.Split(path)
	for attempt := 1; ; attempt++ {
		entries, err := os.ReadDir(filepath.Clean(dir))
		if err != nil {
			f.log.Warn("list rotated files failed", "file", path, "err", err)
			return nil
		}
		var out []candidate
		moved := false
		for _, e := range entries {
			n := e.Name()
			if len(n) <= len(name)+1 || !strings.HasPrefix(n, name) || (n[len(name)] != '.' && n[len(name)] != '-') {
				continue
			}
			c, err := f.candidate(filepath.Join(dir, n))
			switch {
			case err == nil:
				out = append(out, c)
			case errors.Is(err, os.ErrNotExist):
				moved = true
			case !errors.Is(err, errSkip):
				f.log.Debug("read failed", "file", n, "err", err)
			}
		}
		if !moved || attempt == 3 {
			return out
		}
	}
}

// candidate reads what identifies the file name.
func (f *Follower) candidate(name string) (candidate, error) {
	file, err := os.Open(name)
	if err != nil {
		return candidate{}, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return candidate{}, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return candidate{}, errSkip
	}
	c := candidate{name: name, gz: isGz(name), id: idOf(fi), size: fi.Size(), mod: fi.ModTime()}
	head, err := readHead(file, c.gz, f.head)
	if err != nil {
		return candidate{}, err
	}
	c.head = append([]byte(nil), head...)
	return c, nil
}

// holds reports whether c can hold a file known by fp read up to off.
func (c *candidate) holds(fp fingerprint, off int64) bool {
	return fp.matches(c.head) && (c.gz || c.size >= off)
}

// pick returns the candidate best fitting a file known by id and fp and
// read up to off: the same file (identity and fingerprint), else a copy
// (fingerprint), plain before compressed, the earliest in cands first.
func pick(cands []candidate, id fileID, fp fingerprint, off int64) *candidate {
	var best *candidate
	score := 0
	for i := range cands {
		c := &cands[i]
		if !c.holds(fp, off) {
			continue
		}
		s := 1
		if c.id == id {
			s += 2
		}
		if !c.gz {
			s++
		}
		if s > score {
			best, score = c, s
		}
	}
	return best
}

// resume starts fl at the checkpoint cp: in the file at fl's path if it is
// still the file of cp; else in the rotated file that is (then the files
// rotated after it, then the file at the path from its start).
func (f *Follower) resume(fl *follow, cp Position) {
	fp, err := parseFingerprint(cp)
	if err != nil {
		f.log.Warn("checkpoint ignored, reading from the start", "file", fl.path, "err", err)
		f.open(fl, false, false)
		return
	}
	id := fileID{cp.Dev, cp.Ino}
	var cands []candidate
	if cur, err := f.candidate(fl.path); err == nil {
		if cur.id == id && cur.holds(fp, cp.Offset) {
			f.resumeAt(fl, fl.path, cp.Offset, false)
			return
		}
		cands = append(cands, cur)
	}
	cands = append(cands, f.siblings(fl.path)...)
	c := pick(cands, id, fp, cp.Offset)
	switch {
	case c == nil:
		f.log.Warn("checkpoint not found, lines written after it are lost", "file", fl.path, "bytes", cp.Offset)
		f.open(fl, false, false)
		return
	case c.name == fl.path:
		f.resumeAt(fl, fl.path, cp.Offset, false)
		return
	}
	f.log.Info("resuming in rotated file", "file", c.name)
	if !f.resumeAt(fl, c.name, cp.Offset, true) {
		f.open(fl, false, false)
		return
	}
	fl.done = append(fl.done, fp)
	next, err := f.openSource(fl.path, 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.log.Warn("open failed", "file", fl.path, "err", err)
	}
	fl.srcs = append(fl.srcs, f.between(fl, c.mod, next)...)
	if next != nil {
		fl.srcs = append(fl.srcs, next)
	}
}

// resumeAt adds the source name, read from off, to fl.
func (f *Follower) resumeAt(fl *follow, name string, off int64, rotated bool) bool {
	s, err := f.openSource(name, off)
	if s == nil {
		if err != nil {
			f.log.Warn("resume failed, lines written after the checkpoint are lost", "file", name, "err", err)
		}
		return false
	}
	s.rotated = s.rotated || rotated
	fl.srcs = append(fl.srcs, s)
	return true
}

// findCopy returns the copy of s, the truncated file at fl's path, that
// holds more than was read of it (copytruncate), opened at that point.
func (f *Follower) findCopy(fl *follow, s *source) *source {
	cands := slices.DeleteFunc(f.siblings(fl.path), func(c candidate) bool {
		return c.id == s.id || !c.gz && c.size <= s.off
	})
	c := pick(cands, fileID{}, s.fp, s.off)
	if c == nil {
		return nil
	}
	cs, err := f.openSource(c.name, s.off)
	if cs == nil {
		if err != nil {
			f.log.Warn("read copy failed", "file", c.name, "err", err)
		}
		return nil
	}
	cs.rotated, cs.copy = true, true
	cs.lines, cs.known = s.lines, s.known
	return cs
}

// between returns, opened from their start and oldest first, the rotated
// siblings of fl's path modified after bound that are none of the files
// fl read or reads (nor next, the file now at the path): the files rotated
// after the one fl was reading, while the follower was stopped or between
// two polls. Copies of one file are read once.
func (f *Follower) between(fl *follow, bound time.Time, next *source) []*source {
	var known []fingerprint
	known = append(known, fl.done...)
	ids := map[fileID]bool{}
	for _, s := range fl.srcs {
		known = append(known, s.fp)
		ids[s.id] = true
	}
	if next != nil {
		known = append(known, next.fp)
		ids[next.id] = true
	}
	var cands []candidate
	for _, c := range f.siblings(fl.path) {
		if !c.mod.After(bound) || ids[c.id] || slices.ContainsFunc(known, func(fp fingerprint) bool { return fp.n > 0 && fp.matches(c.head) }) {
			continue
		}
		cands = append(cands, c)
	}
	// Plain files first, so that of a file and its compressed copy the
	// plain one is kept.
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch {
		case a.gz == b.gz:
			return 0
		case b.gz:
			return -1
		}
		return 1
	})
	var keep []candidate
	for _, c := range cands {
		if !slices.ContainsFunc(keep, func(k candidate) bool {
			return newFingerprint(k.head).matches(c.head) || newFingerprint(c.head).matches(k.head)
		}) {
			keep = append(keep, c)
		}
	}
	slices.SortStableFunc(keep, func(a, b candidate) int { return a.mod.Compare(b.mod) })
	var out []*source
	for _, c := range keep {
		s, err := f.openSource(c.name, 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			f.log.Warn("read rotated file failed", "file", c.name, "err", err)
		}
		if s == nil {
			continue
		}
		f.log.Info("reading file rotated while not followed", "file", c.name)
		s.rotated = true
		out = append(out, s)
	}
	return out
}
