// Package parts is the one list of dandan's parts, in start order; stop
// runs in reverse. A new part is a package under internal/ plus one line
// in All.
package parts

import "github.com/dandan-sre/dandan/internal/component"

// All returns every part built into dandan, in start order.
func All() []component.Part {
	return []component.Part{
		// Parts plug in here, one line each, e.g. logs.Part(), watch.Part().
	}
}
