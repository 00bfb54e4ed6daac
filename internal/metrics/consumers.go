package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// OtherConsumer is the consumer label of an authenticated caller that is
// not a configured consumer (a JWT subject, a name from forward auth), so
// that the label set stays bounded by the configuration.
const OtherConsumer = "other"

func newConsumerVecs() (requests, failures *prometheus.CounterVec) {
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "consumer_requests_total",
		Help: "Requests on routes with auth, by route, consumer (configured name, \"other\", or \"\" when not authenticated) and status class.",
	}, []string{"route", "consumer", "code"})
	failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "auth_failures_total",
		Help: "Requests refused by a route's auth (401, 403, a forward service's refusal or failure), by route and consumer.",
	}, []string{"route", "consumer"})
	return requests, failures
}

// ConsumerMetrics counts one route's requests by consumer. A consumer's
// series are made when it is first seen (so /metrics lists only consumers
// that called) and kept, so counting is then a map lookup, an atomic load
// and an atomic add.
type ConsumerMetrics struct {
	m      *Metrics
	route  string
	byName map[string]*lazySeries
	other  lazySeries
	anon   lazySeries
}

type lazySeries struct {
	label string
	p     atomic.Pointer[consumerSeries]
}

func (c *ConsumerMetrics) get(l *lazySeries) *consumerSeries {
	if s := l.p.Load(); s != nil {
		return s
	}
	s := &consumerSeries{failed: c.m.authFailed.WithLabelValues(c.route, l.label)}
	for i, class := range classes {
		s.codes[i] = c.m.consumers.WithLabelValues(c.route, l.label, class)
	}
	l.p.Store(s) // a racing twin holds the same children
	return s
}

type consumerSeries struct {
	codes  [5]prometheus.Counter
	failed prometheus.Counter
}

// Consumers returns the by-consumer counters of route; names are the
// configured consumers (any other name is counted as OtherConsumer). Call
// it at compile time.
func (m *Metrics) Consumers(route string, names []string) *ConsumerMetrics {
	c := &ConsumerMetrics{m: m, route: route, byName: make(map[string]*lazySeries, len(names))}
	c.other.label = OtherConsumer
	for _, n := range names {
		c.byName[n] = &lazySeries{label: n}
	}
	return c
}

// Observe counts one finished request of consumer ("" when it did not
// authenticate), and an auth failure when failed.
func (c *ConsumerMetrics) Observe(consumer string, status int, failed bool) {
	l := &c.anon
	if consumer != "" {
		if l = c.byName[consumer]; l == nil {
			l = &c.other
		}
	}
	s := c.get(l)
	s.codes[classIndex(status)].Inc()
	if failed {
		s.failed.Inc()
	}
}
