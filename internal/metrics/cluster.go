package metrics

import "github.com/prometheus/client_golang/prometheus"

// clusterLimitVecs are the series of cluster-scoped rate limits.
type clusterLimitVecs struct {
	storeErrors *prometheus.CounterVec // route
	fallback    *prometheus.CounterVec // route, mode
}

func newClusterLimitVecs() clusterLimitVecs {
	return clusterLimitVecs{
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "ratelimit_store_errors_total",
			Help: "Cluster rate-limit decisions whose Redis call failed or passed cluster.redis.timeout, by route.",
		}, []string{"route"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "ratelimit_fallback_total",
			Help: "Cluster rate-limit decisions made by on_store_error (local, allow or deny) because Redis could not decide, by route and mode.",
		}, []string{"route", "mode"}),
	}
}

func (v clusterLimitVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.storeErrors, v.fallback}
}

func (v clusterLimitVecs) forget(route string) {
	v.storeErrors.DeleteLabelValues(route)
	v.fallback.DeletePartialMatch(prometheus.Labels{"route": route})
}

// ClusterLimitMetrics is one cluster-scoped rate limit's series, resolved
// in advance; its methods allocate nothing.
type ClusterLimitMetrics struct {
	storeErrors prometheus.Counter
	fallback    prometheus.Counter
}

// ClusterLimit returns the handle of a route's cluster-scoped rate limit
// whose on_store_error is mode. Call it when compiling, not per request.
func (m *Metrics) ClusterLimit(route, mode string) *ClusterLimitMetrics {
	return &ClusterLimitMetrics{
		storeErrors: m.cluster.storeErrors.WithLabelValues(route),
		fallback:    m.cluster.fallback.WithLabelValues(route, mode),
	}
}

// StoreError counts one decision whose Redis call failed or was late.
func (h *ClusterLimitMetrics) StoreError() { h.storeErrors.Inc() }

// Fallback counts one decision made by on_store_error.
func (h *ClusterLimitMetrics) Fallback() { h.fallback.Inc() }
