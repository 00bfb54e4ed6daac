// Package metrics is rgate's Prometheus exposition, on a registry of its own.
//
// The model: one Metrics value per process, built by New, holds a private
// prometheus.Registry (never the global default one, so two instances, as
// tests make, never clash, and nothing else in the binary can add series to
// /metrics by accident). It carries three kinds of collectors:
//
//   - Per-request series, pushed on the request path. route.Compile asks
//     Route(route, backend) once per route and keeps the *RouteMetrics it gets
//     back; the request path then calls Observe, RateLimited and CacheResult
//     on that handle. Every child series a handle can touch (the five status
//     classes, the histogram, the rate-limit and cache counters) is resolved
//     when the handle is made, so the request path does no label lookup, no
//     map access and no allocation: an atomic add per series.
//   - The in-flight gauge, an atomic the gateway raises and lowers.
//   - State gauges read at scrape time (breakers, upstreams per backend,
//     Docker connection, config generation): SetSources installs callbacks
//     that a custom Collector calls on each scrape, so nothing has to push
//     state changes here and the numbers are never stale.
//
// Latency is exported in seconds, as Prometheus convention requires; the
// buckets are the millisecond buckets (1, 2.5, 5, 10, 25, 50, 100,
// 250, 500, 1000, 2500 ms) written in seconds.
//
// Cardinality is bounded by configuration, never by traffic: route labels
// are configured path_prefixes (or "" for the default response), backend
// labels are configured backend names, and code is one of five classes.
// Series of a route removed by a reload keep their last value until Forget
// drops them (or the process restarts); counters that vanish and come back
// are worse for rate() than a few idle series.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "rgate"

// DurationBuckets are the request-duration histogram's upper bounds in
// seconds: the 1..2500 ms buckets.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Cache results as exported in the result label.
const (
	resultHit   = "hit"
	resultMiss  = "miss"
	resultStale = "stale"
)

// classes are the code label values; classes[i] is the class of (i+1)xx.
var classes = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Metrics owns the private registry and every rgate collector on it.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests    *prometheus.CounterVec   // route, backend, code
	duration    *prometheus.HistogramVec // route, backend
	inFlight    prometheus.Gauge
	rateLimited *prometheus.CounterVec // route
	cache       *prometheus.CounterVec // route, result
	consumers   *prometheus.CounterVec // route, consumer, code
	authFailed  *prometheus.CounterVec // route, consumer
	cluster     clusterLimitVecs

	sources atomic.Pointer[Sources]

	mu     sync.Mutex // guards routes; taken at compile time only
	routes map[RouteKey]*RouteMetrics
}

// RouteKey names one route's series.
type RouteKey struct {
	Route   string
	Backend string
}

// New builds a Metrics with a fresh private registry holding the Go runtime
// and process collectors and rgate's own.
func New() *Metrics {
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		routes: make(map[RouteKey]*RouteMetrics),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Requests answered, by route (path_prefix), backend and status class (1xx..5xx).",
		}, []string{"route", "backend", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Time from request headers read to the last response byte, in seconds (buckets 1ms..2.5s).",
			Buckets: DurationBuckets,
		}, []string{"route", "backend"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "in_flight_requests",
			Help: "Requests being served right now.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_total",
			Help: "Requests answered 429 by a rate limit, by route.",
		}, []string{"route"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_requests_total",
			Help: "Cacheable requests by route and result (hit, miss, stale).",
		}, []string{"route", "result"}),
		cluster: newClusterLimitVecs(),
	}
	m.consumers, m.authFailed = newConsumerVecs()
	m.reg.MustRegister(m.consumers, m.authFailed)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.rateLimited, m.cache,
		&stateCollector{m: m},
	)
	m.reg.MustRegister(m.cluster.collectors()...)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// One failing collector must not blank the whole page; the failure
		// is counted in promhttp_metric_handler_errors_total instead.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the private registry, for callers that add collectors of
// their own or gather directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// InFlight is the rgate_in_flight_requests gauge: Inc when a request
// starts, Dec (in a defer) when it ends.
func (m *Metrics) InFlight() prometheus.Gauge { return m.inFlight }

// Route returns the handle for one (route, backend) pair, creating its
// series on first use. Call it when compiling a routing table, not per
// request: it takes a mutex. The same pair always gets the same handle
// (until Forget drops it), so counters survive table swaps.
func (m *Metrics) Route(route, backend string) *RouteMetrics {
	k := RouteKey{Route: route, Backend: backend}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.routes[k]; ok {
		return h
	}
	h := &RouteMetrics{
		duration:    m.duration.WithLabelValues(route, backend),
		rateLimited: m.rateLimited.WithLabelValues(route),
		cacheHit:    m.cache.WithLabelValues(route, resultHit),
		cacheMiss:   m.cache.WithLabelValues(route, resultMiss),
		cacheStale:  m.cache.WithLabelValues(route, resultStale),
	}
	for i, c := range classes {
		h.codes[i] = m.requests.WithLabelValues(route, backend, c)
	}
	m.routes[k] = h
	return h
}

// Forget deletes the series of every (route, backend) pair not in live, for
// a caller that wants removed routes to disappear from /metrics after a
// reload. Requests still running on an old table keep a working handle; what
// they record after Forget is simply not exported. Route-only series (rate
// limits, cache) are kept while any live pair has that route.
func (m *Metrics) Forget(live ...RouteKey) {
	keep := make(map[RouteKey]bool, len(live))
	keepRoute := make(map[string]bool, len(live))
	for _, k := range live {
		keep[k] = true
		keepRoute[k.Route] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.routes {
		if keep[k] {
			continue
		}
		delete(m.routes, k)
		m.requests.DeletePartialMatch(prometheus.Labels{"route": k.Route, "backend": k.Backend})
		m.duration.DeleteLabelValues(k.Route, k.Backend)
		if !keepRoute[k.Route] {
			m.rateLimited.DeleteLabelValues(k.Route)
			m.cache.DeletePartialMatch(prometheus.Labels{"route": k.Route})
			m.consumers.DeletePartialMatch(prometheus.Labels{"route": k.Route})
			m.authFailed.DeletePartialMatch(prometheus.Labels{"route": k.Route})
			m.cluster.forget(k.Route)
		}
	}
}

// RouteMetrics is one (route, backend) pair's series, resolved in advance.
// Its methods are safe for concurrent use and allocate nothing.
type RouteMetrics struct {
	codes       [5]prometheus.Counter // 1xx..5xx
	duration    prometheus.Observer
	rateLimited prometheus.Counter
	cacheHit    prometheus.Counter
	cacheMiss   prometheus.Counter
	cacheStale  prometheus.Counter
}

// Observe records one finished request: its status class and its duration.
// Status 0 (nothing written, which net/http answers as 200) counts as 2xx;
// non-standard codes above 599 count as 5xx.
func (h *RouteMetrics) Observe(status int, elapsed time.Duration) {
	h.codes[classIndex(status)].Inc()
	h.duration.Observe(elapsed.Seconds())
}

func classIndex(status int) int {
	switch {
	case status == 0:
		return 1
	case status < 200:
		return 0
	case status >= 500:
		return 4
	default:
		return status/100 - 1
	}
}

// RateLimited counts one request answered 429 by the route's rate limit.
func (h *RouteMetrics) RateLimited() { h.rateLimited.Inc() }

// CacheResult counts one cacheable request served from the cache (hit) or
// sent upstream (miss).
func (h *RouteMetrics) CacheResult(hit bool) {
	if hit {
		h.cacheHit.Inc()
		return
	}
	h.cacheMiss.Inc()
}

// CacheStale counts one request answered with a stale entry because the
// backend failed (stale-if-error).
func (h *RouteMetrics) CacheStale() { h.cacheStale.Inc() }
