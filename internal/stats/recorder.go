package stats

import "time"

// Recorder takes each finished request: the gateway hands every request
// to it once, when the request ends, from the request's goroutine. It is
// the seam between the request path and what is done with the figures
// (the Store keeps them; a recorder that also shares them wraps one).
// Implementations must be safe for concurrent use and must not block or
// allocate.
type Recorder interface {
	Record(f Finished)
}

// Finished is one finished request as the stats see it.
type Finished struct {
	Status  int
	Elapsed time.Duration
	End     time.Time
	// Route and Backend are the series of the route and backend that
	// served the request, nil when no route matched.
	Route, Backend *Series
}

var _ Recorder = (*Store)(nil)

// Record implements Recorder: the request counts in the gateway-wide
// series and in its route's and backend's.
func (s *Store) Record(f Finished) {
	s.global.RecordAt(f.Status, f.Elapsed, f.End)
	if f.Route != nil {
		f.Route.RecordAt(f.Status, f.Elapsed, f.End)
	}
	if f.Backend != nil {
		f.Backend.RecordAt(f.Status, f.Elapsed, f.End)
	}
}
