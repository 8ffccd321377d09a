package format

import (
	"fmt"
	"strings"
)

// apacheLetters are the directive letters of mod_log_config.
const apacheLetters = "aABbCDefhHiIklLmnopPqrRsStTuUvVXO^"

// unescapeApache undoes the escapes of an Apache config string: \" \\ \n \t.
func unescapeApache(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// apacheKind returns what the directive letter with its {arg} means, or
// an error for a directive dandan cannot read.
func apacheKind(letter byte, arg string) (Kind, error) {
	switch letter {
	case 'h', 'a':
		return KindClient, nil
	case 't':
		arg = strings.TrimPrefix(strings.TrimPrefix(arg, "begin:"), "end:")
		switch arg {
		case "":
			return KindTimeLocal, nil
		case "sec":
			return KindTimeUnix, nil
		case "msec":
			return KindTimeUnixMS, nil
		case "usec":
			return KindTimeUnixUS, nil
		}
		return KindIgnore, nil // strftime formats and fractions are skipped
	case 'r':
		return KindRequest, nil
	case 'm':
		return KindMethod, nil
	case 'U':
		return KindURI, nil
	case 's':
		return KindStatus, nil
	case 'b', 'B', 'O':
		return KindBytes, nil
	case 'D':
		return KindDurationUS, nil
	case 'T':
		switch arg {
		case "", "s":
			return KindDurationS, nil
		case "ms":
			return KindDurationMS, nil
		case "us":
			return KindDurationUS, nil
		}
		return 0, fmt.Errorf("unknown unit %q (use s, ms or us)", arg)
	case 'i':
		if arg == "" {
			return 0, fmt.Errorf("needs a header name: %%{Referer}i")
		}
		if strings.EqualFold(arg, "Referer") {
			return KindReferer, nil
		}
		return KindIgnore, nil
	case 'e', 'n', 'o', 'C', 'x', '^':
		if arg == "" {
			return 0, fmt.Errorf("needs a {name}")
		}
		return KindIgnore, nil
	}
	if strings.IndexByte(apacheLetters, letter) >= 0 {
		return KindIgnore, nil
	}
	return 0, fmt.Errorf("unknown directive")
}

// compileApache compiles an Apache LogFormat string, as written in the
// config (\" for a quote) or as pasted with the whole directive.
func compileApache(s string) (*Format, error) {
	src, err := unquoteDirective(s, "LogFormat", false)
	if err != nil {
		return nil, err
	}
	src = unescapeApache(src)
	var it items
	for i := 0; i < len(src); {
		if src[i] != '%' {
			j := strings.IndexByte(src[i:], '%')
			if j < 0 {
				j = len(src) - i
			}
			it.addLit([]byte(src[i : i+j]))
			i += j
			continue
		}
		start := i
		i++
		if i < len(src) && src[i] == '%' {
			it.addLit([]byte{'%'})
			i++
			continue
		}
		// Conditions and the original/final marks: %!200,304{X}i, %>s.
		for i < len(src) && (src[i] == '!' || src[i] == ',' || src[i] == '<' || src[i] == '>' || isDigit(src[i])) {
			i++
		}
		arg := ""
		if i < len(src) && src[i] == '{' {
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("position %d: %s: %%{ without a closing }", start+1, src[start:])
			}
			arg = src[i+1 : i+end]
			i += end + 1
		}
		if i >= len(src) {
			return nil, fmt.Errorf("position %d: %s: directive without a letter", start+1, src[start:])
		}
		letter := src[i]
		i++
		if letter == '^' {
			if i+2 > len(src) || (src[i:i+2] != "ti" && src[i:i+2] != "to") {
				return nil, fmt.Errorf("position %d: %s: use %%{name}^ti or %%{name}^to", start+1, src[start:min(i+2, len(src))])
			}
			i += 2
		}
		name := src[start:i]
		kind, err := apacheKind(letter, arg)
		if err != nil {
			return nil, fmt.Errorf("position %d: %s: %w", start+1, name, err)
		}
		if letter == 'q' && len(it.fields) > 0 && it.fields[len(it.fields)-1].kind == KindURI &&
			(len(it.lits) == len(it.fields) || len(it.lits[len(it.fields)]) == 0) {
			continue // %U%q: the query joins the path, to be dropped with it
		}
		if letter == 't' && arg == "" {
			// %t writes its own brackets: [10/Oct/2000:13:55:36 -0700]
			it.addLit([]byte{'['})
			it.addField(field{kind: kind, name: name, pos: start + 1})
			it.addLit([]byte{']'})
			continue
		}
		it.addField(field{kind: kind, name: name, pos: start + 1})
	}
	return it.build(Apache, s)
}
