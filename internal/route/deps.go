package route

import (
	"net/http"
	"reflect"
	"sync"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/consumer"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/mw/auth"
	"github.com/rgate/rgate/internal/mw/breaker"
	"github.com/rgate/rgate/internal/mw/cache"
	"github.com/rgate/rgate/internal/mw/ratelimit"
	"github.com/rgate/rgate/internal/stats"
	"github.com/rgate/rgate/internal/upstream"
)

// Deps are what Compile needs beyond config and containers. Everything in
// it outlives tables: Compile takes state from it instead of creating
// fresh state, so a table swap (reload, container change) keeps rate-limit
// buckets, breaker state, cache entries, upstream health and stats.
type Deps struct {
	// Stats gives per-route and per-backend series; nil in some tests.
	Stats *stats.Store
	// Metrics gives per-route Prometheus handles; nil: no metrics.
	Metrics *metrics.Metrics
	// State holds the policies' state; nil: fresh state every compile.
	State *State
	// Forward builds the terminal handler of a route's chain (the
	// forwarder); nil: the table is only looked at (validate --docker)
	// and its routes have no Handler.
	Forward func(*Route) http.Handler
	// Cluster is the store shared with other replicas; nil without a
	// cluster: section.
	Cluster *cluster.Store
	// Replicas returns how many replicas are live now (this one
	// included); cluster-scoped rate limits divide their limit by it
	// under on_store_error: local. nil: 1.
	Replicas func() int
}

// State is the policies' state, keyed by route name (config.Route.Name:
// the prefix, or host + prefix) or backend name and
// by the policy's config: an unchanged policy keeps its state across
// compiles; a changed one starts afresh. Compile forgets state no longer
// used by the table it built.
type State struct {
	mu        sync.Mutex
	Upstreams *upstream.Registry
	limiters  keyed[*ratelimit.Limiter]
	clusterRL keyed[*ratelimit.ClusterLimiter]
	breakers  keyed[*breaker.Breaker]
	caches    keyed[*cache.Store]
	// Auth holds JWKS sources and the forward-auth client; Close it at
	// shutdown.
	Auth      *auth.Registry
	consumers keyed[*consumer.Table]
	policies  keyed[*auth.Policy]
}

// NewState returns empty state.
func NewState() *State {
	return &State{Upstreams: upstream.NewRegistry(), Auth: auth.NewRegistry(nil)}
}

type keyed[T any] struct {
	m    map[string]keyedEntry[T]
	used map[string]bool
}

type keyedEntry[T any] struct {
	cfg any
	v   T
}

// get returns the state for key when it was made for an equal cfg, else a
// new one from mk.
func (k *keyed[T]) get(key string, cfg any, mk func() T) T {
	if k.m == nil {
		k.m = map[string]keyedEntry[T]{}
	}
	if k.used == nil {
		k.used = map[string]bool{}
	}
	k.used[key] = true
	if e, ok := k.m[key]; ok && reflect.DeepEqual(e.cfg, cfg) {
		return e.v
	}
	v := mk()
	k.m[key] = keyedEntry[T]{cfg: cfg, v: v}
	return v
}

// sweep forgets entries not used since the last sweep.
func (k *keyed[T]) sweep() {
	for key := range k.m {
		if !k.used[key] {
			delete(k.m, key)
		}
	}
	k.used = nil
}
