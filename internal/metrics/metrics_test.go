package metrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics through the real handler and parses it with the
// Prometheus text parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("scraping: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing exposition: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include want, or nil.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(fams, name, labels)
	if m == nil {
		t.Fatalf("no series %s%v", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	t.Fatalf("series %s%v has no scalar value", name, labels)
	return 0
}

func TestObserveCountsByClass(t *testing.T) {
	t.Parallel()
	m := New()
	h := m.Route("/api/payment", "payment")
	for _, st := range []int{200, 201, 204, 302, 404, 429, 500, 503, 503, 101, 0, 999} {
		h.Observe(st, time.Millisecond)
	}
	fams := scrape(t, m)
	for _, tc := range []struct {
		code string
		want float64
	}{
		{"1xx", 1}, {"2xx", 4}, {"3xx", 1}, {"4xx", 2}, {"5xx", 4},
	} {
		t.Run(tc.code, func(t *testing.T) {
			got := value(t, fams, "rgate_requests_total",
				map[string]string{"route": "/api/payment", "backend": "payment", "code": tc.code})
			if got != tc.want {
				t.Errorf("code %s = %v, want %v", tc.code, got, tc.want)
			}
		})
	}
}

func TestDurationHistogram(t *testing.T) {
	t.Parallel()
	m := New()
	h := m.Route("/a", "svc")
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 40 * time.Millisecond, 3 * time.Second} {
		h.Observe(200, d)
	}
	fams := scrape(t, m)
	s := find(fams, "rgate_request_duration_seconds", map[string]string{"route": "/a", "backend": "svc"})
	if s == nil || s.Histogram == nil {
		t.Fatal("no histogram series")
	}
	hist := s.Histogram
	if hist.GetSampleCount() != 4 {
		t.Errorf("count = %d, want 4", hist.GetSampleCount())
	}
	if want := 3.0435; math.Abs(hist.GetSampleSum()-want) > 1e-9 {
		t.Errorf("sum = %v, want %v", hist.GetSampleSum(), want)
	}
	wantCum := map[float64]uint64{0.001: 1, 0.0025: 1, 0.005: 2, 0.025: 2, 0.05: 3, 2.5: 3}
	var bounds []float64
	for _, b := range hist.GetBucket() {
		if math.IsInf(b.GetUpperBound(), +1) {
			continue
		}
		bounds = append(bounds, b.GetUpperBound())
		if w, ok := wantCum[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	sort.Float64s(bounds)
	if len(bounds) != len(DurationBuckets) {
		t.Fatalf("buckets %v, want %v", bounds, DurationBuckets)
	}
	for i := range bounds {
		if bounds[i] != DurationBuckets[i] {
			t.Errorf("bucket %d = %v, want %v", i, bounds[i], DurationBuckets[i])
		}
	}
}

func TestRouteHandleIsShared(t *testing.T) {
	t.Parallel()
	m := New()
	a, b := m.Route("/x", "svc"), m.Route("/x", "svc")
	if a != b {
		t.Fatal("same (route, backend) gave two handles")
	}
	if m.Route("/x", "other") == a {
		t.Fatal("different backend gave the same handle")
	}
}

func TestRateLimitedAndCache(t *testing.T) {
	t.Parallel()
	m := New()
	h := m.Route("/c", "svc")
	h.RateLimited()
	h.RateLimited()
	h.CacheResult(true)
	h.CacheResult(true)
	h.CacheResult(true)
	h.CacheResult(false)
	h.CacheStale()
	fams := scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rgate_rate_limited_total", map[string]string{"route": "/c"}, 2},
		{"rgate_cache_requests_total", map[string]string{"route": "/c", "result": "hit"}, 3},
		{"rgate_cache_requests_total", map[string]string{"route": "/c", "result": "miss"}, 1},
		{"rgate_cache_requests_total", map[string]string{"route": "/c", "result": "stale"}, 1},
	} {
		if got := value(t, fams, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestInFlight(t *testing.T) {
	t.Parallel()
	m := New()
	m.InFlight().Inc()
	m.InFlight().Inc()
	m.InFlight().Dec()
	if got := value(t, scrape(t, m), "rgate_in_flight_requests", nil); got != 1 {
		t.Errorf("in flight = %v, want 1", got)
	}
}

func TestSourcesReadAtScrape(t *testing.T) {
	t.Parallel()
	m := New()
	var mu sync.Mutex
	upstreams, connected := 2, true
	m.SetSources(Sources{
		Backends: func() []BackendState {
			mu.Lock()
			defer mu.Unlock()
			return []BackendState{
				{Name: "payment", Upstreams: upstreams, HasBreaker: true, BreakerState: BreakerOpen, BreakerTrips: 3},
				{Name: "orders", Upstreams: 1},
			}
		},
		Docker: func() bool {
			mu.Lock()
			defer mu.Unlock()
			return connected
		},
		DockerEndpoints: func() []EndpointState {
			return []EndpointState{{Name: "host-a", Connected: true}, {Name: "host-b"}}
		},
		Config: func() (uint64, bool) { return 7, false },
	})
	fams := scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rgate_backend_upstreams", map[string]string{"backend": "payment"}, 2},
		{"rgate_backend_upstreams", map[string]string{"backend": "orders"}, 1},
		{"rgate_backend_breaker_state", map[string]string{"backend": "payment"}, 1},
		{"rgate_backend_breaker_trips_total", map[string]string{"backend": "payment"}, 3},
		{"rgate_docker_connected", nil, 1},
		{"rgate_docker_endpoint_connected", map[string]string{"endpoint": "host-a"}, 1},
		{"rgate_docker_endpoint_connected", map[string]string{"endpoint": "host-b"}, 0},
		{"rgate_config_generation", nil, 7},
		{"rgate_config_last_reload_success", nil, 0},
	} {
		if got := value(t, fams, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if find(fams, "rgate_backend_breaker_state", map[string]string{"backend": "orders"}) != nil {
		t.Error("breaker state exported for a backend without a breaker")
	}

	mu.Lock()
	upstreams, connected = 0, false
	mu.Unlock()
	fams = scrape(t, m)
	if got := value(t, fams, "rgate_backend_upstreams", map[string]string{"backend": "payment"}); got != 0 {
		t.Errorf("upstreams after change = %v, want 0 (state must be read at scrape time)", got)
	}
	if got := value(t, fams, "rgate_docker_connected", nil); got != 0 {
		t.Errorf("docker_connected after change = %v, want 0", got)
	}
}

func TestNoSourcesNoStateSeries(t *testing.T) {
	t.Parallel()
	fams := scrape(t, New())
	for _, name := range []string{"rgate_backend_upstreams", "rgate_docker_connected", "rgate_config_generation"} {
		if fams[name] != nil {
			t.Errorf("%s exported without a source", name)
		}
	}
	if fams["go_goroutines"] == nil {
		t.Error("Go collector missing")
	}
}

func TestBadLabelValueDoesNotBreakScrape(t *testing.T) {
	t.Parallel()
	m := New()
	m.SetSources(Sources{
		Backends: func() []BackendState { return []BackendState{{Name: "bad\xff"}, {Name: "good", Upstreams: 4}} },
	})
	if got := value(t, scrape(t, m), "rgate_backend_upstreams", map[string]string{"backend": "good"}); got != 4 {
		t.Errorf("good backend = %v, want 4", got)
	}
}

func TestPrivateRegistries(t *testing.T) {
	t.Parallel()
	a, b := New(), New() // would panic on duplicate registration if shared
	a.Route("/r", "svc").Observe(200, time.Millisecond)
	a.Route("/r", "svc").Observe(200, time.Millisecond)
	b.Route("/r", "svc").Observe(500, time.Millisecond)
	fa, fb := scrape(t, a), scrape(t, b)
	if got := value(t, fa, "rgate_requests_total", map[string]string{"code": "2xx"}); got != 2 {
		t.Errorf("a 2xx = %v, want 2", got)
	}
	for _, tc := range []struct {
		fams map[string]*dto.MetricFamily
		code string
		want float64
	}{
		{fa, "5xx", 0}, {fb, "2xx", 0}, {fb, "5xx", 1},
	} {
		if got := value(t, tc.fams, "rgate_requests_total", map[string]string{"code": tc.code}); got != tc.want {
			t.Errorf("%s = %v, want %v (registries must not share series)", tc.code, got, tc.want)
		}
	}
	def, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range def {
		if strings.HasPrefix(f.GetName(), "rgate_") {
			t.Errorf("%s registered on the global default registry", f.GetName())
		}
	}
}

func TestForget(t *testing.T) {
	t.Parallel()
	m := New()
	m.Route("/old", "svc").Observe(200, time.Millisecond)
	m.Route("/old", "svc").RateLimited()
	m.Route("/keep", "svc").Observe(200, time.Millisecond)
	m.Route("/keep", "svc").RateLimited()
	m.Route("/keep", "moved").Observe(200, time.Millisecond)

	m.Forget(RouteKey{Route: "/keep", Backend: "moved"})
	fams := scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"rgate_requests_total", map[string]string{"route": "/old"}, false},
		{"rgate_request_duration_seconds", map[string]string{"route": "/old"}, false},
		{"rgate_rate_limited_total", map[string]string{"route": "/old"}, false},
		{"rgate_requests_total", map[string]string{"route": "/keep", "backend": "svc"}, false},
		{"rgate_requests_total", map[string]string{"route": "/keep", "backend": "moved"}, true},
		{"rgate_rate_limited_total", map[string]string{"route": "/keep"}, true},
	} {
		if got := find(fams, tc.name, tc.labels) != nil; got != tc.want {
			t.Errorf("%s%v present = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if m.Route("/old", "svc") == nil {
		t.Fatal("Route after Forget returned nil")
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New()
	h := m.Route("/api/payment", "payment")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		st := 200
		for pb.Next() {
			h.Observe(st, 3*time.Millisecond)
			st ^= 200 ^ 503
		}
	})
}

func BenchmarkCacheAndLimit(b *testing.B) {
	m := New()
	h := m.Route("/api/payment", "payment")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.CacheResult(true)
			h.RateLimited()
		}
	})
}
