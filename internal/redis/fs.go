package redis

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// withPartials returns fsys with the shared partials file prepended to
// every other file, so that each page, parsed on its own copy of the
// layout, has the part's partials too.
func withPartials(fsys fs.FS, partials string) (fs.FS, error) {
	shared, err := fs.ReadFile(fsys, partials)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", partials, err)
	}
	return partialFS{base: fsys, shared: shared}, nil
}

type partialFS struct {
	base   fs.FS
	shared []byte
}

// Open implements fs.FS.
func (p partialFS) Open(name string) (fs.File, error) {
	b, err := fs.ReadFile(p.base, name)
	if err != nil {
		return nil, err
	}
	data := append(append(bytes.Clone(p.shared), '\n'), b...)
	return &memFile{name: name, r: bytes.NewReader(data), size: int64(len(data))}, nil
}

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f}, nil }
func (f *memFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *memFile) Close() error               { return nil }

type memInfo struct{ f *memFile }

func (i memInfo) Name() string       { return i.f.name }
func (i memInfo) Size() int64        { return i.f.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

var _ io.Reader = (*memFile)(nil)
