package parts

import (
	"github.com/dandan-sre/dandan/internal/boards"
	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/redis"
	"github.com/dandan-sre/dandan/internal/report"
	"github.com/dandan-sre/dandan/internal/watch"
)

// All returns every part built into dandan, in start order.
func All() []component.Part {
	return []component.Part{
		// Parts plug in here, one line each, e.g. logs.Part(), watch.Part().
		logs.Part(),
		watch.Part(),
		boards.Part(),
		report.Part(),
		redis.Part(),
	}
}
