package stats

import "time"

// Recorder takes one finished request. Implementations must be safe for
// concurrent use and must not block or allocate on the hot path.
type Recorder interface {
	Record(status int, elapsed time.Duration)
}
