package e2e

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics GETs /metrics and parses it with the Prometheus text parser.
func (g *gw) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	r := g.get(t, "/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want 200; body %q", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want text/plain (the text exposition format)", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("GET /metrics: parsing: %v\n%s", err, r.body)
	}
	return fams
}

// metricValue is the sum of the counter, gauge or untyped series of family
// name whose labels include labels; ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			v, ok = v+m.Counter.GetValue(), true
		case m.Gauge != nil:
			v, ok = v+m.Gauge.GetValue(), true
		case m.Untyped != nil:
			v, ok = v+m.Untyped.GetValue(), true
		}
	}
	return v, ok
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.Label {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestMetrics: GET /metrics is Prometheus text that the official parser
// reads, with every family of the issue, and values that match the traffic
// sent: requests by route, backend and code, the latency histogram with
// millisecond buckets, in-flight, breaker state, rate-limited and cache
// counts, containers per backend. Admin calls are not counted.
func TestMetrics(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "measured", map[string]string{"app_name": label})
	cached, limited := "/api/"+label, "/lim/"+label
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api/%[1]s
    backend: b
    cache: {ttl: 1m}
  - path_prefix: /lim/%[1]s
    backend: b
    rate_limit:
      default: {requests: 2, per: 1m}
  - path_prefix: /free/%[1]s
    backend: b
backends:
  - name: b
    match_labels: [app_name=%[1]s]
    circuit_breaker: {failures: 50, min_requests: 100}
`, label))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)

	sendAll(t, g, []sent{
		{cached + "/c", 200}, // miss
		{cached + "/c", 200}, // hit
		{cached + "/status?code=404", 404},
		{cached + "/other", 200}, // miss
		{limited + "/x", 200},
		{limited + "/x", 200},
		{limited + "/x", 429},
		{limited + "/x", 429},
	})
	for range 3 {
		g.get(t, "/stats")
		g.get(t, "/health")
	}
	fams := g.metrics(t)

	checkFamilies(t, fams)
	checkRequests(t, fams, cached, 3, 1)
	checkRequests(t, fams, limited, 2, 2)

	checkPolicyMetrics(t, fams)
}

// sent is a request path and the status it must get.
type sent struct {
	path string
	want int
}

// sendAll GETs each path in order, failing on an unexpected status.
func sendAll(t *testing.T, g *gw, reqs []sent) {
	t.Helper()
	for i, s := range reqs {
		if r := g.get(t, s.path); r.status != s.want {
			t.Fatalf("request %d: GET %s = %d, want %d; body %q", i+1, s.path, r.status, s.want, r.body)
		}
	}
}

// checkPolicyMetrics asserts the policy families after TestMetrics' traffic.
func checkPolicyMetrics(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	checkHistogram(t, fams["rgate_request_duration_seconds"])
	if v, ok := metricValue(fams, "rgate_in_flight_requests", nil); !ok || v < 0 || v > 1 {
		t.Errorf("rgate_in_flight_requests = %v (found %v), want 0 or 1 (the /metrics call itself)", v, ok)
	}
	if v, ok := metricValue(fams, "rgate_backend_breaker_state", map[string]string{"backend": "b"}); !ok || v != 0 {
		t.Errorf("rgate_backend_breaker_state{backend=\"b\"} = %v (found %v), want 0 (closed)", v, ok)
	}
	if v := sumCounter(fams, "rgate_rate_limited_total"); v != 2 {
		t.Errorf("rgate_rate_limited_total (all series) = %v, want 2", v)
	}
	hits, _ := metricValue(fams, "rgate_cache_requests_total", map[string]string{"result": "hit"})
	misses, _ := metricValue(fams, "rgate_cache_requests_total", map[string]string{"result": "miss"})
	if hits != 1 || misses < 2 {
		t.Errorf("rgate_cache_requests_total: hit %v, miss %v; want 1 hit and at least 2 misses", hits, misses)
	}
	if v, ok := metricValue(fams, "rgate_backend_upstreams", map[string]string{"backend": "b"}); !ok || v != 1 {
		t.Errorf("rgate_backend_upstreams{backend=\"b\"} = %v (found %v), want 1", v, ok)
	}
}

// checkFamilies asserts that every family of the issue is there, with its
// type and a HELP text, and that no series is about an admin endpoint.
func checkFamilies(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for name, typ := range map[string]dto.MetricType{
		"rgate_requests_total":           dto.MetricType_COUNTER,
		"rgate_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"rgate_in_flight_requests":       dto.MetricType_GAUGE,
		"rgate_backend_breaker_state":    dto.MetricType_GAUGE,
		"rgate_rate_limited_total":       dto.MetricType_COUNTER,
		"rgate_cache_requests_total":     dto.MetricType_COUNTER,
		"rgate_backend_upstreams":        dto.MetricType_GAUGE,
	} {
		f := fams[name]
		if f == nil {
			t.Errorf("family %s missing", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("family %s is a %v, want a %v", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("family %s has no HELP", name)
		}
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			if r := labelValue(m, "route"); r == "/stats" || r == "/health" || r == "/metrics" {
				t.Errorf("%s counts admin calls: %v", f.GetName(), m.Label)
			}
		}
	}
}

// checkHistogram asserts the millisecond buckets of the issue and a count
// that is not zero.
func checkHistogram(t *testing.T, f *dto.MetricFamily) {
	t.Helper()
	if f == nil || len(f.Metric) == 0 {
		t.Errorf("rgate_request_duration_seconds: no series")
		return
	}
	want := []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
	var count uint64
	for _, m := range f.Metric {
		h := m.GetHistogram()
		var bounds []float64
		for _, b := range h.Bucket {
			if !math.IsInf(b.GetUpperBound(), 1) {
				bounds = append(bounds, b.GetUpperBound())
			}
		}
		if !slices.Equal(bounds, want) {
			t.Errorf("rgate_request_duration_seconds%v buckets %v, want %v", m.Label, bounds, want)
			return
		}
		count += h.GetSampleCount()
	}
	if count < 8 {
		t.Errorf("rgate_request_duration_seconds: %d observations in all, want at least the 8 requests sent", count)
	}
}

// checkRequests asserts rgate_requests_total of route (backend b) by status
// class; code may be a status ("200") or a class ("2xx").
func checkRequests(t *testing.T, fams map[string]*dto.MetricFamily, route string, want2xx, want4xx float64) {
	t.Helper()
	byCode := map[string]float64{}
	class := map[byte]float64{}
	if f := fams["rgate_requests_total"]; f != nil {
		for _, m := range f.Metric {
			if labelValue(m, "route") != route || labelValue(m, "backend") != "b" {
				continue
			}
			code, n := labelValue(m, "code"), m.GetCounter().GetValue()
			byCode[code] += n
			if code != "" && n != 0 {
				class[code[0]] += n
			}
		}
	}
	if class['2'] != want2xx || class['4'] != want4xx || len(class) > 2 {
		t.Errorf("rgate_requests_total{route=%q,backend=\"b\"} by code = %v, want %v 2xx and %v 4xx",
			route, byCode, want2xx, want4xx)
	}
}

func sumCounter(fams map[string]*dto.MetricFamily, name string) float64 {
	var n float64
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}
