package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sources are callbacks that report state at scrape time. Any of them may
// be nil, and its series are then absent. They run on the scraping
// goroutine, concurrently when two scrapes overlap, so they must be safe
// for concurrent use and quick (read atomics or take a short lock; never
// call Docker).
type Sources struct {
	// Backends reports every configured backend once (names must be
	// unique, as config validation guarantees).
	Backends func() []BackendState
	// Docker reports whether the discovery connection is up (with several
	// engines: all of them).
	Docker func() (connected bool)
	// DockerEndpoints reports each named engine of docker.endpoints (none
	// without that config).
	DockerEndpoints func() []EndpointState
	// Config reports the config generation (1 for the first load, +1 per
	// successful reload) and whether the last reload attempt succeeded.
	Config func() (generation uint64, lastReloadOK bool)
	// Certificates reports the TLS listener's certificates (nil: no TLS).
	Certificates func() []CertificateState
}

// EndpointState is one Docker engine's connection at scrape time.
type EndpointState struct {
	Name      string
	Connected bool
}

// CertificateState is one certificate at scrape time.
type CertificateState struct {
	// Name is its first DNS name; Source "file" or "acme".
	Name, Source string
	NotAfter     time.Time
}

// BackendState is one backend's state at scrape time.
type BackendState struct {
	Name string
	// Upstreams is how many containers and static URLs serve it now.
	Upstreams int
	// HasBreaker is false when the backend has no circuit_breaker; its
	// breaker series are then omitted.
	HasBreaker bool
	// BreakerState is 0 closed, 1 open, 2 half-open.
	BreakerState int
	// BreakerTrips counts closed->open transitions since the breaker was
	// made.
	BreakerTrips uint64
}

// Breaker states as exported in rgate_backend_breaker_state.
const (
	BreakerClosed   = 0
	BreakerOpen     = 1
	BreakerHalfOpen = 2
)

// SetSources installs the scrape-time callbacks, replacing earlier ones.
func (m *Metrics) SetSources(s Sources) { m.sources.Store(&s) }

var (
	descUpstreams = prometheus.NewDesc(namespace+"_backend_upstreams",
		"Containers and static URLs serving the backend now.", []string{"backend"}, nil)
	descBreakerState = prometheus.NewDesc(namespace+"_backend_breaker_state",
		"Circuit breaker state: 0 closed, 1 open, 2 half-open (absent without a breaker).", []string{"backend"}, nil)
	descBreakerTrips = prometheus.NewDesc(namespace+"_backend_breaker_trips_total",
		"Times the backend's circuit breaker opened.", []string{"backend"}, nil)
	descDocker = prometheus.NewDesc(namespace+"_docker_connected",
		"1 while the Docker event stream is connected, else 0.", nil, nil)
	descEndpoint = prometheus.NewDesc(namespace+"_docker_endpoint_connected",
		"1 while this Docker engine's event stream is connected, else 0 (per docker.endpoints entry).", []string{"endpoint"}, nil)
	descGeneration = prometheus.NewDesc(namespace+"_config_generation",
		"Generation of the config in force (+1 per successful reload).", nil, nil)
	descReloadOK = prometheus.NewDesc(namespace+"_config_last_reload_success",
		"1 if the last config load or reload succeeded, else 0.", nil, nil)
	descCertExpiry = prometheus.NewDesc(namespace+"_certificate_expiry_seconds",
		"Seconds until the certificate expires (negative once it has).", []string{"name", "source"}, nil)
)

// stateCollector turns Sources into const metrics on every scrape.
type stateCollector struct{ m *Metrics }

var _ prometheus.Collector = (*stateCollector)(nil)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUpstreams, descBreakerState, descBreakerTrips, descDocker, descEndpoint, descGeneration, descReloadOK, descCertExpiry} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.sources.Load()
	if s == nil {
		return
	}
	if s.Backends != nil {
		for _, b := range s.Backends() {
			ch <- constMetric(descUpstreams, prometheus.GaugeValue, float64(b.Upstreams), b.Name)
			if !b.HasBreaker {
				continue
			}
			ch <- constMetric(descBreakerState, prometheus.GaugeValue, float64(b.BreakerState), b.Name)
			ch <- constMetric(descBreakerTrips, prometheus.CounterValue, float64(b.BreakerTrips), b.Name)
		}
	}
	if s.Docker != nil {
		ch <- constMetric(descDocker, prometheus.GaugeValue, boolValue(s.Docker()))
	}
	if s.DockerEndpoints != nil {
		for _, e := range s.DockerEndpoints() {
			ch <- constMetric(descEndpoint, prometheus.GaugeValue, boolValue(e.Connected), e.Name)
		}
	}
	if s.Config != nil {
		gen, ok := s.Config()
		ch <- constMetric(descGeneration, prometheus.GaugeValue, float64(gen))
		ch <- constMetric(descReloadOK, prometheus.GaugeValue, boolValue(ok))
	}
	if s.Certificates != nil {
		now := time.Now()
		for _, c := range s.Certificates() {
			ch <- constMetric(descCertExpiry, prometheus.GaugeValue, c.NotAfter.Sub(now).Seconds(), c.Name, c.Source)
		}
	}
}

// constMetric is prometheus.MustNewConstMetric without the panic: a bad
// label value (invalid UTF-8) becomes a scrape error for that series only.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
