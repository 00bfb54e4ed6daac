package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrBadWindow is the cause of every ParseWindow error.
var ErrBadWindow = errors.New("want a Go duration from 1s to 15m, such as 60s")

// The /stats document. Field order is the key order of the output; the seed
// keys (requests_count.success/error, latency_ms.average/p95/p99) are always
// present, and everything else sits beside them.

type countsJSON struct {
	Success uint64 `json:"success"`
	Error   uint64 `json:"error"`
}

type latencyJSON struct {
	Average float64 `json:"average"`
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

type classesJSON struct {
	C1xx  uint64 `json:"1xx"`
	C2xx  uint64 `json:"2xx"`
	C3xx  uint64 `json:"3xx"`
	C4xx  uint64 `json:"4xx"`
	C5xx  uint64 `json:"5xx"`
	Other uint64 `json:"other"`
}

type seriesJSON struct {
	RequestsCount countsJSON  `json:"requests_count"`
	LatencyMs     latencyJSON `json:"latency_ms"`
	StatusClasses classesJSON `json:"status_classes"`
	// Breaker is the backend's circuit breaker state, when it has one.
	Breaker any `json:"breaker,omitempty"`
}

type storeJSON struct {
	// WindowSeconds is WindowSpan of the window asked for, in a windowed
	// document only.
	WindowSeconds float64 `json:"window_seconds,omitempty"`
	seriesJSON
	Routes   map[string]seriesJSON `json:"routes"`
	Backends map[string]seriesJSON `json:"backends"`
}

// round3 rounds to 3 decimal places (1 µs when the unit is ms). NaN and
// infinities cannot come out of a Summary; they would become 0 here anyway
// rather than break the document.
func round3(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Round(x*1000) / 1000
}

func toJSON(m Summary) seriesJSON {
	return seriesJSON{
		RequestsCount: countsJSON{Success: m.Success, Error: m.Error},
		LatencyMs: latencyJSON{
			Average: round3(m.AverageMs),
			P50:     round3(m.P50Ms),
			P95:     round3(m.P95Ms),
			P99:     round3(m.P99Ms),
			Max:     round3(m.MaxMs),
		},
		StatusClasses: classesJSON{
			C1xx: m.Classes[1], C2xx: m.Classes[2], C3xx: m.Classes[3],
			C4xx: m.Classes[4], C5xx: m.Classes[5], Other: m.Classes[0],
		},
	}
}

func snapshotJSON(snap Snapshot, breaker func(string) any) storeJSON {
	doc := storeJSON{
		seriesJSON: toJSON(snap.Global),
		Routes:     make(map[string]seriesJSON, len(snap.Routes)),
		Backends:   make(map[string]seriesJSON, len(snap.Backends)),
	}
	for n, m := range snap.Routes {
		doc.Routes[n] = toJSON(m)
	}
	for n, m := range snap.Backends {
		sj := toJSON(m)
		if breaker != nil {
			sj.Breaker = breaker(n)
		}
		doc.Backends[n] = sj
	}
	return doc
}

// MarshalJSON renders the /stats document: the seed keys requests_count and
// latency_ms for the whole gateway, with status_classes, routes and backends
// (each keyed by name, sorted, same shape) beside them. Latencies are in
// milliseconds rounded to 3 decimals.
func (s *Store) MarshalJSON() ([]byte, error) {
	return json.Marshal(snapshotJSON(s.Snapshot(), s.breakerSource()))
}

// WriteJSON writes the document of MarshalJSON to w, followed by a newline.
func (s *Store) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(snapshotJSON(s.Snapshot(), s.breakerSource()))
}

// ParseWindow parses the window query parameter of /stats: a Go duration
// (time.ParseDuration) from MinWindow to MaxWindow. Errors name the value
// and wrap ErrBadWindow.
func ParseWindow(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < MinWindow || d > MaxWindow {
		return 0, fmt.Errorf("window %q: %w", v, ErrBadWindow)
	}
	return d, nil
}

// document is the /stats document a query asks for: cumulative, or with
// window=D the figures of the last D and window_seconds.
func (s *Store) document(q url.Values) (storeJSON, error) {
	if !q.Has("window") {
		return snapshotJSON(s.Snapshot(), s.breakerSource()), nil
	}
	d, err := ParseWindow(q.Get("window"))
	if err != nil {
		return storeJSON{}, err
	}
	doc := snapshotJSON(s.WindowSnapshot(d), s.breakerSource())
	doc.WindowSeconds = WindowSpan(d).Seconds()
	return doc, nil
}

// Handler serves the /stats document to GET and HEAD; any other method gets
// 405 with an Allow header. With the query parameter window=D (see
// ParseWindow) the figures are those of the last D, as WindowSnapshot, in
// the same keys, plus window_seconds (WindowSpan(D) in seconds); a bad D
// gets 400 and a JSON error naming it.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		doc, err := s.document(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		body, err := json.Marshal(doc)
		if err != nil { // cannot happen: the document holds only numbers and strings
			writeError(w, http.StatusInternalServerError, "encoding stats")
			return
		}
		body = append(body, '\n')
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// writeError writes the gateway's small JSON error body.
func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
