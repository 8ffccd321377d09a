package tail

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// candidate is a file that may hold the continuation of a known file: the
// file at a followed path or one of its rotated siblings. It is held open
// from the moment it is identified, so that the file read is the file
// identified, whatever it has been renamed to since (logrotate shifts
// access.log.N.gz to access.log.N+1.gz at every rotation).
type candidate struct {
	name  string
	f     *os.File // open until taken by a source or closed
	gz    bool
	id    fileID
	size  int64 // on disk
	mod   time.Time
	gzMod time.Time // MTIME of the gzip header, when set
	rank  rank      // what the name says of the file's age
	head  []byte    // first FingerprintLen bytes, decompressed
}

// rank is what a rotated file's name says of its age: the N of x.N or
// x.N.gz (a larger N is older), or the date of x-20261125 or x.20261125.gz
// (a later date is newer).
type rank struct {
	kind  int // noRank, numbered or dated
	n     int
	stamp string
}

const (
	noRank = iota
	numbered
	dated
)

// rankOf returns the rank of a rotated file whose name is the followed
// file's, then sep ('.' or '-'), then rest.
func rankOf(sep byte, rest string) rank {
	for _, ext := range []string{".gz", ".bz2", ".xz", ".zst", ".zip"} {
		if s, ok := strings.CutSuffix(rest, ext); ok {
			rest = s
			break
		}
	}
	if rest == "" || rest[0] < '0' || rest[0] > '9' {
		return rank{}
	}
	digits := 0
	for i := range len(rest) {
		switch c := rest[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c != '-' && c != '_':
			return rank{}
		}
	}
	switch {
	case digits >= 8: // a date, maybe with a time: 20261125, 2026-11-25, 20261125-1764000000
		return rank{kind: dated, stamp: rest}
	case digits == len(rest) && sep == '.':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return rank{}
		}
		return rank{kind: numbered, n: n}
	}
	return rank{}
}

// when returns c's best known modification time: that of the file it was
// compressed from when its gzip header says it and the file's own does
// not agree (a compressor that did not keep it), else its own.
func (c *candidate) when() time.Time {
	if c.gz && !c.gzMod.IsZero() && !c.mod.Truncate(time.Second).Equal(c.gzMod) {
		return c.gzMod
	}
	return c.mod
}

// newer compares the ages of the rotated files a and b: > 0 when a was
// rotated after b, < 0 when before. Their names tell when both are
// numbered or both dated alike; else their times (see when).
func newer(a, b *candidate) int {
	if a.rank.kind != noRank && a.rank.kind == b.rank.kind {
		switch a.rank.kind {
		case numbered:
			if a.rank.n != b.rank.n {
				return cmp.Compare(b.rank.n, a.rank.n)
			}
		case dated:
			if len(a.rank.stamp) == len(b.rank.stamp) && a.rank.stamp != b.rank.stamp {
				return strings.Compare(a.rank.stamp, b.rank.stamp)
			}
		}
	}
	return a.when().Compare(b.when())
}

// close closes c's file unless a source took it.
func (c *candidate) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// closeAll closes the files of cands that no source took.
func closeAll(cands []candidate) {
	for i := range cands {
		cands[i].close()
	}
}

// errSkip says a file is not a candidate: not a regular file, or empty
// (compressed or not).
var errSkip = errors.New("not a non-empty regular file")

// listAttempts is how many times siblings lists a directory that changes
// while it is listed before it makes do with the last listing.
const listAttempts = 10

// Test hooks: testHookListed is called by siblings after it listed the
// rotated files, before it opens them; testHookSiblings when it returns
// them, opened.
var testHookListed, testHookSiblings func(path string)

// entry is a rotated sibling as listed: its name and its identity.
type entry struct {
	name string
	key  fileKey
}

// fileKey tells files apart in a listing: by identity, or by name where
// the system has no inodes.
type fileKey struct {
	id   fileID
	name string
}

func keyOf(id fileID, name string) fileKey {
	if id == (fileID{}) {
		return fileKey{name: name}
	}
	return fileKey{id: id}
}

// siblings returns, opened, the rotated siblings of path that are regular
// files: files of its directory named after it, then '.' or '-' and
// anything. The caller closes them (closeAll). They are a snapshot, each
// under the name it has in a listing of names and identities made twice
// in a row with the same result after every file in it was opened: when
// files are renamed while they are listed and opened (a rotation under
// way), they are listed again, and the files that appeared opened.
func (f *Follower) siblings(path string) []candidate {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	opened := map[fileKey]*candidate{}
	skipped := map[fileKey]bool{}
	defer func() {
		for _, c := range opened {
			c.close()
		}
	}()
	var ents []entry
	for attempt := 1; ; attempt++ {
		if ents == nil {
			var err error
			if ents, err = listSiblings(dir, name); err != nil {
				f.log.Warn("list rotated files failed", "file", path, "err", err)
				return nil
			}
		}
		if testHookListed != nil {
			testHookListed(path)
		}
		moved := f.openSiblings(dir, ents, opened, skipped)
		again, err := listSiblings(dir, name)
		if err != nil {
			f.log.Warn("list rotated files failed", "file", path, "err", err)
			return nil
		}
		stable := !moved && slices.Equal(ents, again)
		if !stable && attempt < listAttempts {
			ents = again
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		if !stable {
			// The files of the last listing not opened yet, as they are.
			f.openSiblings(dir, again, opened, skipped)
		}
		var out []candidate
		missing := 0
		for _, e := range again {
			c := opened[e.key]
			if c == nil {
				if !skipped[e.key] {
					missing++
				}
				continue
			}
			c.name = filepath.Join(dir, e.name)
			c.rank = rankOf(e.name[len(name)], e.name[len(name)+1:])
			out = append(out, *c)
			delete(opened, e.key)
		}
		if missing > 0 {
			f.log.Warn("rotated files kept being renamed while listed: some were not looked at", "file", path, "missing", missing)
		} else if !stable {
			f.log.Debug("rotated files kept being renamed while listed", "file", path)
		}
		if testHookSiblings != nil {
			testHookSiblings(path)
		}
		return out
	}
}

// openSiblings opens the files of ents not in opened yet, into opened, and
// notes in skipped those that are not candidates. It reports whether one
// of them was no longer at its name.
func (f *Follower) openSiblings(dir string, ents []entry, opened map[fileKey]*candidate, skipped map[fileKey]bool) (moved bool) {
	for _, e := range ents {
		if opened[e.key] != nil {
			continue
		}
		c, err := f.candidate(filepath.Join(dir, e.name))
		switch {
		case err == nil:
			k := keyOf(c.id, e.name)
			if k != e.key {
				moved = true // another file took the name since
			}
			if opened[k] == nil {
				opened[k] = &c
				delete(skipped, k)
			} else {
				c.close()
			}
		case errors.Is(err, os.ErrNotExist):
			moved = true
		case errors.Is(err, errSkip):
			skipped[e.key] = true
		default:
			skipped[e.key] = true
			f.log.Debug("read failed", "file", e.name, "err", err)
		}
	}
	return moved
}

// listSiblings lists the files of dir named after name, then '.' or '-'
// and anything, in name order, with their identities. A file renamed while
// they are listed makes it list them again.
func listSiblings(dir, name string) ([]entry, error) {
	for attempt := 1; ; attempt++ {
		des, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		out := []entry{}
		moved := false
		for _, de := range des {
			n := de.Name()
			if len(n) <= len(name)+1 || !strings.HasPrefix(n, name) || (n[len(name)] != '.' && n[len(name)] != '-') {
				continue
			}
			fi, err := os.Stat(filepath.Join(dir, n))
			switch {
			case err == nil:
				out = append(out, entry{name: n, key: keyOf(idOf(fi), n)})
			case errors.Is(err, os.ErrNotExist):
				moved = true
			}
		}
		if !moved || attempt == listAttempts {
			return out, nil
		}
	}
}

// candidate opens the file name and reads what identifies it.
func (f *Follower) candidate(name string) (candidate, error) {
	file, err := os.Open(name)
	if err != nil {
		return candidate{}, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return candidate{}, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		file.Close()
		return candidate{}, errSkip
	}
	c := candidate{name: name, f: file, gz: isGz(name), id: idOf(fi), size: fi.Size(), mod: fi.ModTime()}
	head, gzMod, err := readHead(file, c.gz, f.head)
	if err == nil && len(head) == 0 { // a compressed empty file
		err = errSkip
	}
	if err != nil {
		file.Close()
		return candidate{}, err
	}
	c.gzMod = gzMod
	c.head = append([]byte(nil), head...)
	return c, nil
}

// source makes a source of c, read from off, with c's file.
func (f *Follower) source(c *candidate, off int64) (*source, error) {
	file := c.f
	c.f = nil
	s, err := f.newSource(c.name, file, off)
	if s == nil {
		file.Close()
	}
	return s, err
}

// holds reports whether c can hold a file known by fp read up to off.
func (c *candidate) holds(fp fingerprint, off int64) bool {
	return fp.matches(c.head) && (c.gz || c.size >= off)
}

// pick returns the candidate best fitting a file known by id and fp and
// read up to off, of those that skip does not rule out: the same file
// (identity and fingerprint), else a copy (fingerprint), plain before
// compressed, the earliest in cands first.
func pick(cands []candidate, id fileID, fp fingerprint, off int64, skip func(*candidate) bool) *candidate {
	if fp.n == 0 {
		return nil // nothing to know the file by
	}
	var best *candidate
	score := 0
	for i := range cands {
		c := &cands[i]
		if !c.holds(fp, off) || skip != nil && skip(c) {
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
	defer func() { closeAll(cands) }()
	if cur, err := f.candidate(fl.path); err == nil {
		cands = append(cands, cur)
		if cur.id == id && cur.holds(fp, cp.Offset) {
			f.resumeAt(fl, &cands[0], cp.Offset, false)
			return
		}
	}
	cands = append(cands, f.siblings(fl.path)...)
	c := pick(cands, id, fp, cp.Offset, nil)
	switch {
	case c == nil:
		f.log.Warn("checkpoint not found, lines written after it are lost", "file", fl.path, "bytes", cp.Offset)
		f.open(fl, false, false)
		return
	case c.name == fl.path:
		f.resumeAt(fl, c, cp.Offset, false)
		return
	}
	f.log.Info("resuming in rotated file", "file", c.name)
	after := mark{id: c.id, fp: newFingerprint(c.head), mod: c.when()}
	if !f.resumeAt(fl, c, cp.Offset, true) {
		f.open(fl, false, false)
		return
	}
	fl.done = append(fl.done, fp)
	next, err := f.openSource(fl.path, 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.log.Warn("open failed", "file", fl.path, "err", err)
	}
	fl.srcs = append(fl.srcs, f.between(fl, after, next)...)
	if next != nil {
		fl.srcs = append(fl.srcs, next)
		return
	}
	// No file at the path yet, or an empty one: the files rotated after
	// the last one known, before the path has lines, are looked for when
	// it has.
	last := fl.last()
	fl.prev = markOf(last, last.mod)
}

// resumeAt adds a source of c, read from off, to fl.
func (f *Follower) resumeAt(fl *follow, c *candidate, off int64, rotated bool) bool {
	s, err := f.source(c, off)
	if s == nil {
		if err != nil {
			f.log.Warn("resume failed, lines written after the checkpoint are lost", "file", c.name, "err", err)
		}
		return false
	}
	s.rotated = s.rotated || rotated
	fl.srcs = append(fl.srcs, s)
	return true
}

// findCopy returns the copy of s, the truncated file at fl's path, that
// holds more than was read of it (copytruncate), opened at that point.
// complete says that a copy holds what was read of it and no more: the
// truncation lost nothing.
func (f *Follower) findCopy(fl *follow, s *source) (cs *source, complete bool) {
	cands := f.siblings(fl.path)
	defer closeAll(cands)
	c := pick(cands, fileID{}, s.fp, s.off, func(c *candidate) bool {
		return c.id == s.id || !c.gz && c.size <= s.off
	})
	if c == nil {
		return nil, pick(cands, fileID{}, s.fp, s.off, func(c *candidate) bool {
			return c.id == s.id || c.gz || c.size != s.off
		}) != nil
	}
	cs, err := f.source(c, s.off)
	if cs == nil {
		if err != nil {
			f.log.Warn("read copy failed", "file", c.name, "err", err)
		}
		return nil, false
	}
	cs.rotated, cs.copy = true, true
	cs.lines, cs.known = s.lines, s.known
	return cs, false
}

// mark identifies the file a follow read before the files rotated after
// it: by identity, else by fingerprint (its compressed copy), else by its
// modification time.
type mark struct {
	id  fileID
	fp  fingerprint
	mod time.Time
	src *source // the file's source, whose fingerprint may have grown since
}

// markOf returns the mark of s, whose modification time was mod.
func markOf(s *source, mod time.Time) *mark {
	return &mark{id: s.id, fp: s.fp, mod: mod, src: s}
}

// rotatedAfter reports whether c was rotated after the file of m, which is
// ref in the same listing, or nil when not there.
func rotatedAfter(c, ref *candidate, m mark) bool {
	if ref == nil {
		return c.when().After(m.mod)
	}
	return newer(c, ref) > 0
}

// between returns, opened from their start and oldest first, the rotated
// siblings of fl's path rotated after the file of after that are none of
// the files fl read or reads (nor next, the file now at the path): the
// files rotated after the one fl was reading, while the follower was
// stopped or between two polls. Copies of one file are read once.
func (f *Follower) between(fl *follow, after mark, next *source) []*source {
	var known []fingerprint
	known = append(known, fl.done...)
	ids := map[fileID]bool{}
	for _, s := range fl.srcs {
		f.sameHead(s)
		known = append(known, s.fp)
		ids[s.id] = true
	}
	if after.src != nil {
		f.sameHead(after.src)
		after.fp = after.src.fp
	}
	if next != nil {
		known = append(known, next.fp)
		ids[next.id] = true
	}
	all := f.siblings(fl.path)
	defer closeAll(all)
	// The file of after in this listing: the same file, else its
	// compressed copy.
	var ref *candidate
	for i := range all {
		c := &all[i]
		if c.id == after.id && after.fp.matches(c.head) {
			ref = c
			break
		}
		if ref == nil && after.fp.n > 0 && after.fp.matches(c.head) {
			ref = c
		}
	}
	// next, or its first copy, when rotated since next was opened: the
	// files rotated after it are for the poll that sees next rotated or
	// truncated.
	var last *candidate
	for i := range all {
		c := &all[i]
		if next != nil && next.fp.n > 0 && next.fp.matches(c.head) && (last == nil || newer(c, last) < 0) {
			last = c
		}
	}
	var cands []*candidate
	for i := range all {
		c := &all[i]
		if c == ref || c == last || !rotatedAfter(c, ref, after) || last != nil && newer(c, last) >= 0 ||
			ids[c.id] || slices.ContainsFunc(known, func(fp fingerprint) bool { return fp.n > 0 && fp.matches(c.head) }) {
			continue
		}
		cands = append(cands, c)
	}
	// Plain files first, so that of a file and its compressed copy the
	// plain one is kept.
	slices.SortStableFunc(cands, func(a, b *candidate) int {
		switch {
		case a.gz == b.gz:
			return 0
		case b.gz:
			return -1
		}
		return 1
	})
	var keep []*candidate
	for _, c := range cands {
		if !slices.ContainsFunc(keep, func(k *candidate) bool {
			return newFingerprint(k.head).matches(c.head) || newFingerprint(c.head).matches(k.head)
		}) {
			keep = append(keep, c)
		}
	}
	slices.SortStableFunc(keep, newer)
	var out []*source
	for _, c := range keep {
		s, err := f.source(c, 0)
		if err != nil {
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
