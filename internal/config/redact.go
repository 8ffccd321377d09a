package config

import (
	"bytes"
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Redacted returns c as YAML with every default filled in and every Secret
// shown as [redacted]: what the UI and /api/config show.
func Redacted(c *Config) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	names := make([]string, 0, len(c.Parts))
	for n := range c.Parts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var v yaml.Node
		if err := v.Encode(c.Parts[n].Config); err != nil {
			return nil, fmt.Errorf("encode %s: %w", n, err)
		}
		if v.Kind == yaml.MappingNode && !c.Parts[n].Enabled {
			v.Content = append([]*yaml.Node{
				{Kind: yaml.ScalarNode, Value: "enabled"},
				{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"},
			}, v.Content...)
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: n}, &v)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return b.Bytes(), enc.Close()
}
