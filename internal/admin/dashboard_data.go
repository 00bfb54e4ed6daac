package admin

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/docker"

	"github.com/rgate/rgate/internal/mw/breaker"
	"github.com/rgate/rgate/internal/recent"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
	"github.com/rgate/rgate/internal/upstream"
)

// Windows of the dashboard: percentiles cover the last latencyWindow; the
// charts show the last chartSpan in points of chartStep.
const (
	latencyWindow = time.Minute
	chartSpan     = 5 * time.Minute
	chartStep     = 10 * time.Second
)

// dashDoc is the GET /dashboard/data document: everything the page shows,
// read once per poll. Counters are cumulative since start; the page derives
// rates from two successive documents (Time tells how far apart they are).
// Latencies are in milliseconds.
type dashDoc struct {
	// Time is the server's clock when the document was built, Unix ms.
	Time          int64        `json:"time"`
	Version       string       `json:"version"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Docker        dockerState  `json:"docker"`
	Config        *ConfigState `json:"config,omitempty"`
	// Explain is true when the gateway answers /explain (the page then
	// shows its form).
	Explain bool `json:"explain"`
	// Cluster is set when the config has a cluster: section: the page
	// then offers the cluster's figures (/stats?scope=cluster) beside
	// this replica's.
	Cluster *dashCluster `json:"cluster,omitempty"`
	// LatencyWindowSeconds is the window of every p50/p95/p99.
	LatencyWindowSeconds float64    `json:"latency_window_seconds"`
	Global               dashSeries `json:"global"`
	// Timeline is the whole gateway's traffic over the last 5 minutes.
	Timeline dashTimeline `json:"timeline"`
	Routes   []dashRoute  `json:"routes"`
	Backends []dashBack   `json:"backends"`
	// Certificates are the TLS listener's (absent without TLS), as in
	// /health.
	Certificates []certs.Status `json:"certificates,omitempty"`
}

// dashCluster names this replica in its cluster.
type dashCluster struct {
	Instance string `json:"instance"`
}

// dashSeries is one stats.Series: cumulative counts since start, and
// percentiles over the last latencyWindow (0 when idle).
type dashSeries struct {
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	P50      float64 `json:"p50"`
	P95      float64 `json:"p95"`
	P99      float64 `json:"p99"`
	// Classes counts statuses by class, [other, 1xx, 2xx, 3xx, 4xx, 5xx];
	// only in Global.
	Classes *[6]uint64 `json:"classes,omitempty"`
}

// dashTimeline is stats.Series.Timeline: points of StepMs, oldest first;
// the last one is the current, partial interval.
type dashTimeline struct {
	StepMs int64       `json:"step_ms"`
	Points []dashPoint `json:"points"`
}

type dashPoint struct {
	// T is the start of the interval, Unix ms.
	T        int64   `json:"t"`
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	P50      float64 `json:"p50"`
	P95      float64 `json:"p95"`
	P99      float64 `json:"p99"`
}

type dashRoute struct {
	Prefix   string   `json:"prefix"`
	Backend  string   `json:"backend"`
	Policies []string `json:"policies"`
	// Consumers are the authenticated callers among the route's latest
	// requests (of /requests), most recent first; omitted when none.
	Consumers []string `json:"consumers,omitempty"`
	dashSeries
}

type dashBack struct {
	Name string `json:"name"`
	// Selector is the match_labels, sorted, "k=v,k=v"; "" for URL-only.
	Selector string `json:"selector"`
	// Breaker is "closed", "open", "half_open", or "" when the backend
	// has no circuit breaker.
	Breaker       string    `json:"breaker"`
	BreakerSince  time.Time `json:"breaker_since,omitzero"`
	BreakerReason string    `json:"breaker_reason,omitempty"`
	// Serving counts the upstreams that get new requests now.
	Serving   int      `json:"serving"`
	Upstreams []dashUp `json:"upstreams"`
	// Excluded are the containers that carry the backend's labels but
	// are not upstreams (Backend.Skipped).
	Excluded []dashSkip `json:"excluded"`
	dashSeries
}

// dashUp is one upstream. State and Reason are its verdict
// (upstream.Health.Verdict):
// State is "serving", or the first reason's state ("unhealthy", "ejected",
// "breaker_open", "warming"); Reason is every reason, joined by "; ".
type dashUp struct {
	// Name and ID (short) are empty for a static URL, whose Address is
	// "scheme://host:port". The page keys rows by ID, else Address.
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
	// Endpoint is the container's Docker engine, when docker.endpoints
	// names them.
	Endpoint string `json:"endpoint,omitempty"`
	Address  string `json:"address"`
	Health   string `json:"health"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	// EjectedUntil is when a passive ejection ends, Unix ms (as Time); 0
	// when not ejected. The page counts down to it.
	EjectedUntil int64  `json:"ejected_until,omitempty"`
	InFlight     int64  `json:"in_flight"`
	Requests     uint64 `json:"requests"`
}

type dashSkip struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	Endpoint string `json:"endpoint,omitempty"`
	Reason   string `json:"reason"`
	// Warn marks a configuration mistake (bad label, no usable port)
	// rather than ordinary lifecycle (stopped, starting).
	Warn bool `json:"warn"`
}

// dashData builds the document. It reads atomics and walks histograms;
// it takes no lock shared with the request path.
func (o Options) dashData(now time.Time) dashDoc {
	doc := dashDoc{Time: now.UnixMilli(), Version: o.Version, UptimeSeconds: now.Sub(o.Started).Seconds(),
		LatencyWindowSeconds: stats.WindowSpan(latencyWindow).Seconds(),
		Timeline:             dashTimeline{StepMs: chartStep.Milliseconds(), Points: []dashPoint{}},
		Routes:               []dashRoute{}, Backends: []dashBack{}, Explain: o.Explain != nil}
	doc.Docker = o.dockerState()
	if o.Config != nil {
		c := o.Config()
		doc.Config = &c
	}
	if o.Certs != nil {
		doc.Certificates = o.Certs.Status()
	}
	if o.Cluster != nil && o.ClusterStats != nil {
		doc.Cluster = &dashCluster{Instance: o.Cluster.Instance()}
	}
	if o.Stats != nil {
		g := o.Stats.Global()
		total := g.Summary()
		doc.Global = seriesFrom(total, g.Window(latencyWindow))
		doc.Global.Classes = &total.Classes
		for _, p := range g.Timeline(chartSpan, chartStep) {
			doc.Timeline.Points = append(doc.Timeline.Points, dashPoint{T: p.Time.UnixMilli(),
				Requests: p.Requests, Errors: p.Errors, P50: round3(p.P50Ms), P95: round3(p.P95Ms), P99: round3(p.P99Ms)})
		}
	}
	t := o.Table()
	if t == nil {
		return doc
	}
	consumers := recentConsumers(o.Recent)
	for _, r := range t.Routes() {
		p := r.Policies
		if p == nil {
			p = []string{}
		}
		if r.Auth != nil { // the chip names the policy: "auth: partners"
			p = slices.Clone(p)
			if i := slices.Index(p, "auth"); i >= 0 {
				p[i] = "auth: " + r.Auth.Name
			}
		}
		doc.Routes = append(doc.Routes, dashRoute{Prefix: r.Prefix, Backend: r.Backend.Name, Policies: p,
			Consumers: consumers[r.Name], dashSeries: seriesOf(r.Stats)})
	}
	for _, b := range t.Backends {
		doc.Backends = append(doc.Backends, dashBackend(b))
	}
	return doc
}

// seriesOf reads the cumulative counts and the windowed percentiles of s.
func seriesOf(s *stats.Series) dashSeries {
	if s == nil {
		return dashSeries{}
	}
	return seriesFrom(s.Summary(), s.Window(latencyWindow))
}

func seriesFrom(total, window stats.Summary) dashSeries {
	return dashSeries{Requests: total.Count(), Errors: total.Error,
		P50: round3(window.P50Ms), P95: round3(window.P95Ms), P99: round3(window.P99Ms)}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// dashBackend describes b: its breaker, each upstream and whether it gets
// traffic, and the containers Compile skipped.
func dashBackend(b *route.Backend) dashBack {
	d := dashBack{Name: b.Name, Selector: selectorString(b.Selector), dashSeries: seriesOf(b.Stats),
		Upstreams: make([]dashUp, 0, len(b.Upstreams)), Excluded: make([]dashSkip, 0, len(b.Skipped))}
	st, open := route.BreakerOpen(b)
	if st != nil {
		d.Breaker, d.BreakerSince = st.Name, st.Since
		if st.Name != breaker.Closed {
			d.BreakerReason = st.LastTrip
		}
	}
	for _, u := range b.Upstreams {
		up := dashUpstream(u, open)
		if up.State == upstream.StateServing {
			d.Serving++
		}
		d.Upstreams = append(d.Upstreams, up)
	}
	for _, s := range b.Skipped {
		d.Excluded = append(d.Excluded, dashSkip{Name: strings.TrimPrefix(s.Container, "/"),
			ID: docker.ShortID(s.ContainerID), Endpoint: s.Endpoint, Reason: s.Reason, Warn: s.Warn})
	}
	return d
}

// dashUpstream describes u; breakerOpen is its backend's breaker state,
// which keeps every upstream of the backend from new requests.
func dashUpstream(u *upstream.Upstream, breakerOpen bool) dashUp {
	h := u.Health()
	v := h.Verdict(breakerOpen)
	d := dashUp{Name: strings.TrimPrefix(u.Container, "/"), ID: docker.ShortID(u.ContainerID), Endpoint: u.Endpoint,
		Address: u.Host, Health: h.Active, State: v.State, Reason: strings.Join(v.Reasons, "; "),
		InFlight: h.InFlight, Requests: h.Requests}
	if !v.EjectedUntil.IsZero() {
		d.EjectedUntil = v.EjectedUntil.UnixMilli()
	}
	if u.Static() {
		d.Address = u.Scheme + "://" + u.Host
	}
	return d
}

func selectorString(sel map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(sel)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + sel[k])
	}
	return b.String()
}

// Consumers shown per route on the dashboard: the distinct ones among the
// last recentScan requests, at most maxRouteConsumers per route.
const (
	recentScan        = 256
	maxRouteConsumers = 5
)

// recentConsumers maps route names to the consumers of their latest
// requests, most recent first.
func recentConsumers(ring *recent.Ring) map[string][]string {
	if ring == nil {
		return nil
	}
	out := map[string][]string{}
	for _, rec := range ring.Last(recentScan) {
		if c := rec.Consumer; c != "" && len(out[rec.Route]) < maxRouteConsumers && !slices.Contains(out[rec.Route], c) {
			out[rec.Route] = append(out[rec.Route], c)
		}
	}
	return out
}
