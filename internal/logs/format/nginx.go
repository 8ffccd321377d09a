package format

import (
	"fmt"
	"strings"
)

// nginxKind returns what the nginx variable name means to the engine.
func nginxKind(name string) Kind {
	switch name {
	case "remote_addr", "realip_remote_addr":
		return KindClient
	case "time_local":
		return KindTimeLocal
	case "time_iso8601":
		return KindTimeISO
	case "msec":
		return KindTimeUnix
	case "request":
		return KindRequest
	case "request_method":
		return KindMethod
	case "request_uri", "uri", "document_uri":
		return KindURI
	case "status":
		return KindStatus
	case "bytes_sent", "body_bytes_sent":
		return KindBytes
	case "request_time":
		return KindDurationS
	case "upstream_response_time":
		return KindUpstream
	case "http_referer":
		return KindReferer
	}
	return KindIgnore
}

func isNameChar(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

// compileNginx compiles an nginx log_format string: $name and ${name}
// are variables, everything else is literal.
func compileNginx(s string) (*Format, error) {
	src, err := unquoteDirective(s, "log_format", true)
	if err != nil {
		return nil, err
	}
	var it items
	for i := 0; i < len(src); {
		if src[i] != '$' {
			j := strings.IndexByte(src[i:], '$')
			if j < 0 {
				j = len(src) - i
			}
			it.addLit([]byte(src[i : i+j]))
			i += j
			continue
		}
		start := i
		i++
		var name string
		if i < len(src) && src[i] == '{' {
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("position %d: ${ without a closing }", start+1)
			}
			name = src[i+1 : i+end]
			for k := 0; k < len(name); k++ {
				if !isNameChar(name[k]) {
					return nil, fmt.Errorf("position %d: ${%s}: %q is not allowed in a variable name", start+1, name, name[k])
				}
			}
			i += end + 1
		} else {
			j := i
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			name = src[i:j]
			i = j
		}
		if name == "" {
			return nil, fmt.Errorf("position %d: $ without a variable name (write $$ as a literal? nginx has no escape for $)", start+1)
		}
		it.addField(field{kind: nginxKind(name), name: "$" + name, pos: start + 1})
	}
	return it.build(Nginx, s)
}
