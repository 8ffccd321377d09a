package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML node tree into Go values, collecting every problem
// with its position instead of stopping at the first. yaml.v3 parses and
// decodes leaf values; the walk adds strictness, key paths and expansion.
type decoder struct {
	env      Lookup
	readFile func(string) ([]byte, error)
	problems []Problem
	file     string
	// nodes maps a key path to the node that holds its value, so that
	// Validate's path-keyed messages can be given a line and column.
	nodes map[string]*yaml.Node
	// literal turns ${…} expansion off (DecodeDocument: PromQL holds ${1}).
	literal bool
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.nodes != nil {
		d.nodes[path] = n
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		d.leaf(n, v, path)
		return
	}
	if n.ShortTag() == "!!null" && n.Kind == yaml.ScalarNode && v.Kind() != reflect.String {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%s", cleanYAMLError(err))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.leaf(n, v, path)
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]*yaml.Node{}
	d.pairs(n, path, seen, func(key, val *yaml.Node, kp string) {
		idx, ok := fields[key.Value]
		if !ok {
			msg := "unknown key"
			if s := suggest(key.Value, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(key, kp, "%s", msg)
			return
		}
		d.decode(val, v.FieldByIndex(idx), kp)
	})
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	kt, et := v.Type().Key(), v.Type().Elem()
	d.pairs(n, path, map[string]*yaml.Node{}, func(key, val *yaml.Node, kp string) {
		k := reflect.New(kt).Elem()
		if kt.Kind() != reflect.String {
			d.fail(key, kp, "map keys must be strings")
			return
		}
		k.SetString(key.Value)
		e := reflect.New(et).Elem()
		if old := v.MapIndex(k); old.IsValid() {
			e.Set(old)
		}
		d.decode(val, e, kp)
		v.SetMapIndex(k, e)
	})
}

// pairs calls f for each key/value of a mapping, after merge keys (<<), and
// reports duplicate keys.
func (d *decoder) pairs(n *yaml.Node, path string, seen map[string]*yaml.Node, f func(key, val *yaml.Node, kp string)) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			d.fail(key, path, "keys must be plain strings, got %s", kindName(key))
			continue
		}
		if key.Tag == "!!merge" || key.Value == "<<" && key.Style == 0 && key.ShortTag() == "!!merge" {
			m := val
			for m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				d.fail(val, path, "<< merges a mapping, got %s", kindName(m))
				continue
			}
			d.pairs(m, path, map[string]*yaml.Node{}, f)
			continue
		}
		kp := joinPath(path, key.Value)
		if first, dup := seen[key.Value]; dup {
			d.fail(key, kp, "duplicate key, first set at %d:%d", first.Line, first.Column)
			continue
		}
		seen[key.Value] = key
		f(key, val, kp)
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// leaf decodes a scalar after expanding ${…} references in it.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
			if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
				d.fail(n, path, "%s", err)
			}
			return
		}
		d.fail(n, path, "expected %s, got %s", want(v.Type()), kindName(n))
		return
	}
	val, expanded, err := n.Value, false, error(nil)
	if !d.literal {
		val, expanded, err = expand(n.Value, d.env, d.readFile)
	}
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	shown := strconv.Quote(val)
	if expanded {
		shown = "the expanded value"
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		cp := *n
		cp.Value = val
		if expanded {
			cp.Tag, cp.Style = "", 0
		}
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(&cp); err != nil {
			msg := err.Error()
			if expanded {
				msg = strings.ReplaceAll(msg, val, "…")
			}
			d.fail(n, path, "%s", msg)
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if !expanded && n.Style == 0 && (n.ShortTag() == "!!map" || n.ShortTag() == "!!seq") {
			d.fail(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(val)
	case reflect.Bool:
		switch strings.ToLower(val) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.fail(n, path, "expected true or false, got %s", shown)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(val, "_", ""), 10, v.Type().Bits())
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				d.fail(n, path, "%s is out of range for this setting", shown)
			} else {
				d.fail(n, path, "expected an integer, got %s", shown)
			}
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(strings.ReplaceAll(val, "_", ""), 10, v.Type().Bits())
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				d.fail(n, path, "%s is out of range for this setting", shown)
			} else {
				d.fail(n, path, "expected a non-negative integer, got %s", shown)
			}
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(val, v.Type().Bits())
		if err != nil {
			d.fail(n, path, "expected a number, got %s", shown)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "settings of type %s cannot be decoded", v.Type())
	}
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

// yamlFields maps the yaml keys of a struct to field indexes; `yaml:",inline"`
// structs contribute their own keys and `yaml:"-"` fields are skipped.
func yamlFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, idx := range yamlFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

// suggest returns the known key closest to s, if it is close enough.
func suggest(s string, fields map[string][]int) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	best, bestD := "", 3
	for _, k := range keys {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD > len(s)/2 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// cleanYAMLError turns "yaml: line 3: did not find …" into "did not find …"
// and returns the line when there is one.
func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	return s
}
