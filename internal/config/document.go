package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// DecodeDocument decodes one YAML document (a board, a rule set: a file
// other than the config) into v, a pointer to a struct holding defaults,
// with the config's strictness: unknown keys, wrong types, duplicate keys
// and, when v is a Validator, its Validate problems, every one as
// name:line:col: key.path: reason in a *LoadError. ${ENV} is not expanded:
// such files hold no secrets.
func DecodeDocument(name string, data []byte, v any) error {
	d := &decoder{env: func(string) (string, bool) { return "", false }, readFile: os.ReadFile, file: name, nodes: map[string]*yaml.Node{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return &LoadError{Problems: []Problem{syntaxProblem(name, err)}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	d.nodes[""] = root
	if root.Kind != yaml.MappingNode {
		d.fail(root, "", "expected a mapping, got %s", kindName(root))
	} else {
		d.literal = true
		d.decode(root, reflect.ValueOf(v).Elem(), "")
	}
	if val, ok := v.(Validator); ok && len(d.problems) == 0 {
		var errs Errors
		errs.Merge("", val.Validate())
		for _, f := range errs.List() {
			d.fail(d.nearest(f.Path), f.Path, "%s", f.Msg)
		}
	}
	if len(d.problems) > 0 {
		le := &LoadError{Problems: d.problems}
		le.sort()
		return le
	}
	return nil
}
