package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PartSchema tells the loader about one part's section.
type PartSchema struct {
	Name      string
	NewConfig func() Validator // returns a pointer holding the defaults
}

// Options are the loader's sources of outside values.
type Options struct {
	Parts    []PartSchema
	Env      Lookup                       // os.LookupEnv when nil
	ReadFile func(string) ([]byte, error) // os.ReadFile when nil
}

// LoadFile reads and checks the config at path. On problems it returns a
// *LoadError holding every one of them.
func LoadFile(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Load(path, data, opts)
}

// Load decodes and checks data; name is used in messages.
func Load(name string, data []byte, opts Options) (*Config, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	d := &decoder{env: opts.Env, readFile: opts.ReadFile, file: name, nodes: map[string]*yaml.Node{}}
	cfg := Default()
	cfg.File = name
	cfg.Parts = map[string]PartSection{}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &LoadError{Problems: []Problem{syntaxProblem(name, err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{Problems: []Problem{{File: name, Line: extra.Line, Col: extra.Column, Msg: "more than one YAML document: dandan reads only one"}}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	d.nodes[""] = root
	switch {
	case root.Kind == 0 || root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		// an empty file means all defaults
	case root.Kind != yaml.MappingNode:
		d.fail(root, "", "expected a mapping of sections at the top level, got %s", kindName(root))
	default:
		d.top(root, &cfg, opts.Parts)
	}

	// Validate all the same, so that every problem shows at once, but skip
	// messages on keys whose decoding already failed: one message per key.
	failed := make([]string, 0, len(d.problems))
	for _, p := range d.problems {
		failed = append(failed, p.Path)
	}
	{
		var errs Errors
		errs.Merge("", cfg.Validate())
		for _, p := range opts.Parts {
			if s, ok := cfg.Parts[p.Name]; ok {
				errs.Merge(p.Name, s.Config.Validate())
			}
		}
		for _, f := range errs.List() {
			if underAny(f.Path, failed) {
				continue
			}
			n := d.nearest(f.Path)
			d.fail(n, f.Path, "%s", f.Msg)
		}
	}
	if len(d.problems) > 0 {
		le := &LoadError{Problems: d.problems}
		le.sort()
		return nil, le
	}
	return &cfg, nil
}

// top decodes the top-level mapping: shared sections into cfg, a part's
// section into its own config, anything else is an unknown key.
func (d *decoder) top(root *yaml.Node, cfg *Config, parts []PartSchema) {
	shared := yamlFields(reflect.TypeFor[Config]())
	known := map[string][]int{}
	for k, v := range shared {
		known[k] = v
	}
	byName := map[string]PartSchema{}
	for _, p := range parts {
		byName[p.Name] = p
		known[p.Name] = nil
	}
	cv := reflect.ValueOf(cfg).Elem()
	d.pairs(root, "", map[string]*yaml.Node{}, func(key, val *yaml.Node, kp string) {
		if idx, ok := shared[key.Value]; ok {
			d.decode(val, cv.FieldByIndex(idx), kp)
			return
		}
		if strings.HasPrefix(key.Value, "x-") {
			return // extension keys hold YAML anchors for reuse, as in Compose files
		}
		p, ok := byName[key.Value]
		if !ok {
			msg := "unknown key"
			if s := suggest(key.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(key, kp, "%s", msg)
			return
		}
		pc := p.NewConfig()
		enabled := true
		body := val
		for body.Kind == yaml.AliasNode {
			body = body.Alias
		}
		if body.Kind == yaml.MappingNode {
			// `enabled` is the loader's key in every part's section.
			rest := *body
			rest.Content = nil
			for i := 0; i+1 < len(body.Content); i += 2 {
				if body.Content[i].Value == "enabled" {
					var b bool
					d.leaf(body.Content[i+1], reflect.ValueOf(&b).Elem(), kp+".enabled")
					enabled = b
					continue
				}
				rest.Content = append(rest.Content, body.Content[i], body.Content[i+1])
			}
			body = &rest
		}
		d.nodes[kp] = val
		if !(body.Kind == yaml.ScalarNode && body.ShortTag() == "!!null") {
			d.decode(body, reflect.ValueOf(pc), kp)
		}
		cfg.Parts[p.Name] = PartSection{Enabled: enabled, Config: pc}
	})
}

func underAny(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if p == "" || path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// nearest finds the node for path, or for the closest enclosing path.
func (d *decoder) nearest(path string) *yaml.Node {
	for {
		if n, ok := d.nodes[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.nodes[""]
		}
		path = path[:i]
	}
}

var lineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(name string, err error) Problem {
	msg := err.Error()
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: name, Line: line, Col: 1, Msg: "invalid YAML: " + m[2]}
	}
	return Problem{File: name, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
