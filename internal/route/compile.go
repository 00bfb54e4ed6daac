package route

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/headers"
	"github.com/rgate/rgate/internal/lb"
	"github.com/rgate/rgate/internal/mw/auth"
	"github.com/rgate/rgate/internal/mw/breaker"
	"github.com/rgate/rgate/internal/mw/cache"
	"github.com/rgate/rgate/internal/mw/cors"
	"github.com/rgate/rgate/internal/mw/ratelimit"
	"github.com/rgate/rgate/internal/upstream"
)

// Passive ejection when a backend has no health_check: after this many
// consecutive connect failures an upstream sits out for this long.
const (
	defaultPassiveThreshold = 3
	defaultPassiveEject     = 10 * time.Second
)

// Compile builds the Table for cfg and the containers in snap. cfg must have
// passed config validation (and have its defaults applied).
func Compile(cfg *config.Config, snap docker.Snapshot, deps Deps) *Table {
	st := deps.State
	if st == nil {
		st = NewState()
	}
	st.mu.Lock()
	defer st.mu.Unlock()

	t := &Table{Default: compileDefault(cfg.DefaultResponse), AccessLog: cfg.AccessLog.Enabled}
	for _, p := range cfg.Server.TrustedProxies {
		if pfx, err := config.ParsePrefix(p); err == nil { // validated already
			t.Trusted = append(t.Trusted, pfx)
		}
	}
	byName := make(map[string]*Backend, len(cfg.Backends))
	var ups []*upstream.Upstream
	labels := newLabelIndex(snap)
	for _, bc := range cfg.Backends {
		b := compileBackend(bc, snap, st, labels)
		if deps.Stats != nil {
			b.Stats = deps.Stats.Backend(b.Name)
		}
		ups = append(ups, b.Upstreams...)
		t.Backends = append(t.Backends, b)
		byName[b.Name] = b
	}
	as := compileAuth(cfg, st, deps.Forward != nil)
	for _, rc := range cfg.Routes {
		t.routes = append(t.routes, compileRoute(rc, byName[rc.Backend], st, deps, as))
	}
	t.index, t.hosts = indexRoutes(t.routes), indexHosts(t.routes)
	st.Upstreams.Retain(ups)
	st.limiters.sweep()
	st.clusterRL.sweep()
	st.breakers.sweep()
	st.caches.sweep()
	st.consumers.sweep()
	st.policies.sweep()
	st.Auth.Retain(as.live())
	return t
}

func compileRoute(rc config.Route, b *Backend, st *State, deps Deps, as *authSet) *Route {
	r := &Route{
		Prefix:       rc.PathPrefix,
		Host:         config.CanonicalHost(rc.Host),
		Name:         rc.Name(),
		Backend:      b,
		Timeout:      rc.Timeout.D(),
		StripPrefix:  rc.StripPrefix,
		Retries:      rc.RetriesOrDefault(),
		MaxBodyBytes: int64(rc.MaxBodyBytes),
	}
	if r.Timeout <= 0 {
		r.Timeout = config.DefaultRouteTimeout
	}
	r.Methods, r.Allow = compileMethods(rc.Methods)
	r.Upgrades = []string{"websocket"}
	if rc.Upgrades != nil {
		r.Upgrades = r.Upgrades[:0]
		for _, u := range rc.Upgrades {
			r.Upgrades = append(r.Upgrades, strings.ToLower(u))
		}
	}
	if rc.Headers != nil {
		r.RequestHeaders = headers.Compile(rc.Headers.Request)
		r.ResponseHeaders = headers.Compile(rc.Headers.Response)
	}
	if deps.Stats != nil {
		r.Stats = deps.Stats.Route(r.Name)
	}
	if deps.Metrics != nil {
		r.Metrics = deps.Metrics.Route(r.Name, b.Name)
	}
	if rc.Auth != "" {
		r.Auth, r.AllowConsumers, r.ForwardCredentials = as.policies[rc.Auth], rc.AllowConsumers, rc.ForwardCredentials
		if deps.Metrics != nil {
			r.Consumers = deps.Metrics.Consumers(r.Name, as.names)
		}
	}
	r.Handler = chain(r, rc, b, st, deps)
	return r
}

// chain builds rt's chain of policies, innermost first: the forwarder <-
// breaker <- cache <- rate limit <- CORS, and lists the policies on in
// rt.Policies. A table compiled only to be looked at (forward nil:
// validate --docker) records the policies and builds no handler.
func chain(r *Route, rc config.Route, b *Backend, st *State, deps Deps) http.Handler {
	var h http.Handler
	if deps.Forward != nil {
		h = deps.Forward(r)
	}
	wrap := func(mk func(http.Handler) http.Handler) {
		if h != nil {
			h = mk(h)
		}
	}
	if b.Breaker != nil {
		wrap(func(next http.Handler) http.Handler { return breaker.New(b.Breaker, b.Name, next) })
		r.Policies = append(r.Policies, "circuit_breaker")
	}
	if c := rc.Cache; c != nil {
		r.Cache = st.caches.get(r.Name, *c, func() *cache.Store { return cache.NewStore(*c) })
		wrap(func(next http.Handler) http.Handler { return cache.New(r.Cache, next) })
		r.Policies = append(r.Policies, "cache")
	}
	// Without a store (a table compiled only to be looked at) a cluster
	// scope is served as local.
	if rl := rc.RateLimit; rl != nil && rl.Scope == config.ScopeCluster && deps.Cluster != nil {
		r.ClusterLimiter = st.clusterRL.get(r.Name, *rl, func() *ratelimit.ClusterLimiter { return newClusterLimiter(r.Name, *rl, deps) })
		wrap(func(next http.Handler) http.Handler { return ratelimit.NewClusterHandler(r.ClusterLimiter, next) })
		r.Policies = append(r.Policies, "rate_limit")
	} else if rl != nil {
		r.Limiter = st.limiters.get(r.Name, *rl, func() *ratelimit.Limiter { return ratelimit.NewLimiter(*rl) })
		wrap(func(next http.Handler) http.Handler { return ratelimit.New(r.Limiter, next) })
		r.Policies = append(r.Policies, "rate_limit")
	}
	if rc.Auth != "" {
		wrap(func(next http.Handler) http.Handler { return auth.New(r.Auth, r.AllowConsumers, next) })
		r.Policies = append(r.Policies, "auth")
	}
	if rc.CORS != nil {
		wrap(func(next http.Handler) http.Handler { return cors.New(*rc.CORS, next) })
		r.Policies = append(r.Policies, "cors")
	}
	slices.Reverse(r.Policies)
	return h
}

// newClusterLimiter makes a route's cluster-scoped rate limit on the
// shared store.
func newClusterLimiter(name string, rl config.RateLimit, deps Deps) *ratelimit.ClusterLimiter {
	o := ratelimit.ClusterOptions{Store: deps.Cluster, Route: name, Replicas: deps.Replicas}
	if deps.Metrics != nil {
		o.Counters = deps.Metrics.ClusterLimit(name, rl.OnStoreError)
	}
	return ratelimit.NewCluster(rl, o)
}

// defaultAllow is the Allow header of a route without methods: every
// method it serves.
var defaultAllow = []string{"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"}

// compileMethods returns a route's methods (nil: all but TRACE) and the
// Allow header of its 405 answers.
func compileMethods(ms []string) ([]string, []string) {
	if ms == nil {
		return nil, defaultAllow
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		if m = strings.ToUpper(m); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, []string{strings.Join(out, ", ")}
}

func compileDefault(d config.DefaultResponse) Default {
	status := d.StatusCode
	if status == 0 {
		status = config.DefaultStatusCode
	}
	body := []byte(d.Body)
	def := Default{Status: status, Body: body, ContentLength: []string{strconv.Itoa(len(body))}}
	if len(body) > 0 {
		def.ContentType = []string{http.DetectContentType(body)}
	}
	return def
}

func compileBackend(bc config.Backend, snap docker.Snapshot, st *State, labels *labelIndex) *Backend {
	sel, _ := bc.Selector() // validated already
	b := &Backend{
		Name:          bc.Name,
		Selector:      sel,
		Picker:        lb.New(bc.Balance),
		Passive:       upstream.Passive{Threshold: defaultPassiveThreshold, EjectFor: defaultPassiveEject},
		HealthCheck:   bc.HealthCheck,
		TLS:           bc.TLS,
		ServiceHeader: []string{bc.Name},
	}
	if hc := bc.HealthCheck; hc != nil {
		b.Passive = upstream.Passive{Threshold: hc.UnhealthyAfter, EjectFor: hc.Interval.D()}
	}
	if cb := bc.CircuitBreaker; cb != nil {
		b.Breaker = st.breakers.get(bc.Name, *cb, func() *breaker.Breaker { return breaker.NewBreaker(*cb) })
	}
	if len(sel) > 0 {
		for _, i := range labels.candidates(sel) {
			c := &snap.Containers[i]
			if !Matches(sel, c.Labels) {
				continue
			}
			host, reason, warn := Eligible(c, bc)
			if reason != "" {
				b.Skipped = append(b.Skipped, Skip{ContainerID: c.ID, Container: c.Name, Endpoint: c.Endpoint, Reason: reason, Warn: warn})
				continue
			}
			b.Upstreams = append(b.Upstreams, st.Upstreams.Get(upstream.Key{Scheme: Protocol(c, bc), Host: host,
				ContainerID: c.ID, Container: c.Name, Endpoint: c.Endpoint}))
		}
	}
	for _, raw := range bc.URLs {
		if k, ok := staticKey(raw); ok {
			b.Upstreams = append(b.Upstreams, st.Upstreams.Get(k))
		}
	}
	return b
}

// Matches reports whether labels carry every key=value of sel.
func Matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		got, ok := labels[k]
		if !ok || got != v {
			return false
		}
	}
	return true
}

func staticKey(raw string) (upstream.Key, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return upstream.Key{}, false
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return upstream.Key{Scheme: u.Scheme, Host: host}, true
}

// labelIndex lists, for each label key=value, the containers (indices into
// the snapshot, in order) that carry it. A backend's candidates are the
// containers of its rarest selector label, instead of every container:
// with 500 backends and 2,000 containers, checking every pair cost a
// million selector matches per table compile.
type labelIndex struct {
	all     []int
	byLabel map[string][]int
}

func newLabelIndex(snap docker.Snapshot) *labelIndex {
	x := &labelIndex{byLabel: make(map[string][]int)}
	for i := range snap.Containers {
		x.all = append(x.all, i)
		for k, v := range snap.Containers[i].Labels {
			key := k + "=" + v
			x.byLabel[key] = append(x.byLabel[key], i)
		}
	}
	return x
}

// candidates returns the containers that may match sel (a superset, in
// snapshot order).
func (x *labelIndex) candidates(sel map[string]string) []int {
	var best []int
	first := true
	for k, v := range sel {
		c := x.byLabel[k+"="+v]
		if first || len(c) < len(best) {
			best, first = c, false
		}
	}
	if first {
		return x.all
	}
	return best
}
