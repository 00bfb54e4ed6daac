package metrics

import "github.com/prometheus/client_golang/prometheus"

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

// ConsumerMetrics counts one route's requests by consumer.
type ConsumerMetrics struct {
	m     *Metrics
	route string
	known map[string]bool
}

// Consumers returns the by-consumer counters of route; names are the
// configured consumers (any other name is counted as OtherConsumer). Call
// it at compile time.
func (m *Metrics) Consumers(route string, names []string) *ConsumerMetrics {
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	return &ConsumerMetrics{m: m, route: route, known: known}
}

// Observe counts one finished request of consumer ("" when it did not
// authenticate), and an auth failure when failed.
func (c *ConsumerMetrics) Observe(consumer string, status int, failed bool) {
	label := consumer
	if label != "" && !c.known[label] {
		label = OtherConsumer
	}
	c.m.consumers.WithLabelValues(c.route, label, classes[classIndex(status)]).Inc()
	if failed {
		c.m.authFailed.WithLabelValues(c.route, label).Inc()
	}
}
