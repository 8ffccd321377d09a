package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Lookup finds an environment variable; os.LookupEnv in production.
type Lookup func(name string) (string, bool)

// expand replaces ${NAME}, ${NAME:-default} and ${file:/path} in s. "$$"
// stands for a literal "$". It reports whether anything was substituted, so
// that error messages never echo a value that may be a secret.
func expand(s string, env Lookup, readFile func(string) ([]byte, error)) (string, bool, error) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	var b strings.Builder
	used := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", false, fmt.Errorf("unclosed ${ in value: write $$ for a literal $")
		}
		ref := s[i+2 : i+2+end]
		i += 2 + end
		used = true
		val, err := resolve(ref, env, readFile)
		if err != nil {
			return "", false, err
		}
		b.WriteString(val)
	}
	return b.String(), used, nil
}

func resolve(ref string, env Lookup, readFile func(string) ([]byte, error)) (string, error) {
	if path, ok := strings.CutPrefix(ref, "file:"); ok {
		if path == "" {
			return "", fmt.Errorf("${file:} needs a path")
		}
		data, err := readFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("read ${file:%s}: %w", path, err)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	name, def, hasDef := strings.Cut(ref, ":-")
	if !validEnvName(name) {
		return "", fmt.Errorf("${%s}: not an environment variable name", name)
	}
	if v, ok := env(name); ok && (v != "" || !hasDef) {
		return v, nil
	}
	if hasDef {
		return def, nil
	}
	return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} for a default)", name, name)
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			return false
		}
	}
	return true
}
