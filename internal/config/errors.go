package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem with a value, named by its key path
// ("shadow.url", "tokens[0].role") relative to what was validated.
type FieldError struct {
	Path string
	Msg  string
}

// Error implements error.
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors collects every problem a Validate method finds, by key path, so
// that the loader can point at each one. The zero value is ready to use.
type Errors struct {
	list []FieldError
}

// Add records a problem at path; format and args are as in fmt.Sprintf.
func (e *Errors) Add(path, format string, args ...any) {
	e.list = append(e.list, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Merge adds the problems of err (an *Errors, or any error) under prefix.
func (e *Errors) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	if fe, ok := err.(*Errors); ok {
		for _, f := range fe.list {
			e.list = append(e.list, FieldError{Path: joinPath(prefix, f.Path), Msg: f.Msg})
		}
		return
	}
	e.list = append(e.list, FieldError{Path: prefix, Msg: err.Error()})
}

// List returns the problems recorded so far.
func (e *Errors) List() []FieldError { return e.list }

// Err returns e as an error, or nil when nothing was recorded.
func (e *Errors) Err() error {
	if e == nil || len(e.list) == 0 {
		return nil
	}
	return e
}

// Error implements error: one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.list))
	for i, f := range e.list {
		lines[i] = f.Error()
	}
	return strings.Join(lines, "\n")
}

func joinPath(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	}
	return prefix + "." + p
}

// Problem is a config problem with its place in the file.
type Problem struct {
	File      string
	Line, Col int // 0 when the place is unknown
	Path      string
	Msg       string
}

// String formats the problem as file:line:col: path: reason.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// LoadError holds every problem found while loading a config file.
type LoadError struct {
	Problems []Problem
}

// Error implements error: one problem per line, in file order.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *LoadError) sort() {
	sort.SliceStable(e.Problems, func(i, j int) bool {
		a, b := e.Problems[i], e.Problems[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}
