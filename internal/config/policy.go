package config

import "time"

// AccessLog configures the per-request log.
type AccessLog struct {
	// Enabled writes one JSON line per request to stdout. Default false.
	Enabled bool `yaml:"enabled"`
}

// RateLimit is a token bucket per (route, client key).
type RateLimit struct {
	// Key says what identifies a client: "client_ip" (default),
	// "header:NAME" or "consumer" (the authenticated consumer of the
	// route's auth); a request without that header, or anonymous, falls
	// back to its client IP.
	Key string `yaml:"key"`
	// TierHeader names a request header whose value picks an entry of
	// Tiers; a missing header or unknown tier uses Default.
	TierHeader string `yaml:"tier_header"`
	// TierFrom "consumer" takes the tier from the authenticated consumer
	// (its configured tier, or the JWT's tier claim) instead of a header,
	// which is then ignored. Default "": tier_header.
	TierFrom string `yaml:"tier_from"`
	// Default is the rate for clients of no known tier. Required.
	Default Rate `yaml:"default"`
	// Tiers are rates by tier name.
	Tiers map[string]Rate `yaml:"tiers"`
	// MaxKeys bounds how many client keys are tracked; the least recently
	// seen are forgotten first. Default 100000.
	MaxKeys int `yaml:"max_keys"`
	// Scope is whose budget the limit is: "local" (default), each
	// replica's own; "cluster", one budget shared by every replica
	// through the cluster's Redis.
	Scope string `yaml:"scope"`
	// OnStoreError is what a cluster-scoped limit does while Redis fails
	// or is slower than cluster.redis.timeout: "local" (default), this
	// replica's own buckets at the limit divided by the live replicas;
	// "allow"; or "deny" (429).
	OnStoreError string `yaml:"on_store_error"`
}

// Rate allows Requests per Per, with bursts of up to Burst.
type Rate struct {
	// Requests per Per. Required, > 0.
	Requests int `yaml:"requests"`
	// Per is the period. Default 1s.
	Per Duration `yaml:"per"`
	// Burst is the bucket size. Default: Requests.
	Burst int `yaml:"burst"`
}

// Cache stores answers in memory.
type Cache struct {
	// TTL is how long an answer is fresh when the upstream does not say
	// (Cache-Control max-age / s-maxage win). Default 60s.
	TTL Duration `yaml:"ttl"`
	// MaxBytes bounds the memory used by cached bodies and headers; least
	// recently used entries go first. Default 64MiB.
	MaxBytes Size `yaml:"max_bytes"`
	// StaleIfError is how long after expiry an entry may still be served
	// when the backend fails (down, breaker open, 5xx). Default 1h; 0s
	// after the ttl is applied means the default.
	StaleIfError Duration `yaml:"stale_if_error"`
}

// CORS configures cross-origin resource sharing.
type CORS struct {
	// AllowOrigins are exact origins ("https://app.example.com") or "*".
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowMethods for preflight answers. Default GET, HEAD, POST.
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders for preflight answers. Default none.
	AllowHeaders []string `yaml:"allow_headers"`
	// ExposeHeaders lists response headers scripts may read. Default none.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight answer. Default 0:
	// not sent.
	MaxAge Duration `yaml:"max_age"`
}

// Headers are header rules for one route.
type Headers struct {
	Request  HeaderRules `yaml:"request"`
	Response HeaderRules `yaml:"response"`
}

// HeaderRules remove, then set, headers.
type HeaderRules struct {
	Set    map[string]string `yaml:"set"`
	Remove []string          `yaml:"remove"`
}

// HealthCheck is an active probe of every upstream of a backend.
type HealthCheck struct {
	// Path is requested with GET; a 2xx or 3xx answer passes. Default "/".
	Path string `yaml:"path"`
	// Interval between probes. Default 5s.
	Interval Duration `yaml:"interval"`
	// Timeout of one probe. Default 1s.
	Timeout Duration `yaml:"timeout"`
	// HealthyAfter consecutive passes bring an unhealthy upstream back.
	// Default 1.
	HealthyAfter int `yaml:"healthy_after"`
	// UnhealthyAfter consecutive failures take an upstream out. Default 3.
	UnhealthyAfter int `yaml:"unhealthy_after"`
}

// CircuitBreaker opens when a backend keeps failing.
type CircuitBreaker struct {
	// Failures within Window that open the circuit. Default 5.
	Failures int `yaml:"failures"`
	// Window is the sliding period failures are counted over. Default 10s.
	Window Duration `yaml:"window"`
	// MinRequests must have been seen in Window before it can open.
	// Default 10.
	MinRequests int `yaml:"min_requests"`
	// OpenFor is how long it stays open before letting probes through.
	// Default 30s.
	OpenFor Duration `yaml:"open_for"`
	// HalfOpenRequests is how many probe requests may be in flight while
	// half-open; one success closes the circuit, one failure reopens it.
	// Default 1.
	HalfOpenRequests int `yaml:"half_open_requests"`
}

// Balance policies.
const (
	BalanceRandom     = "random"
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
)

// Policy defaults.
const (
	DefaultRatePer          = time.Second
	DefaultRateMaxKeys      = 100000
	DefaultCacheTTL         = 60 * time.Second
	DefaultCacheMaxBytes    = 64 * Mebibyte
	DefaultStaleIfError     = time.Hour
	DefaultHealthPath       = "/"
	DefaultHealthInterval   = 5 * time.Second
	DefaultHealthTimeout    = time.Second
	DefaultHealthyAfter     = 1
	DefaultUnhealthyAfter   = 3
	DefaultBreakerFailures  = 5
	DefaultBreakerWindow    = 10 * time.Second
	DefaultBreakerMinReqs   = 10
	DefaultBreakerOpenFor   = 30 * time.Second
	DefaultBreakerHalfOpen  = 1
	DefaultCORSAllowMethods = "GET, HEAD, POST"
)

// RetriesOrDefault returns the route's retry count with the default applied.
func (r Route) RetriesOrDefault() int {
	if r.Retries == nil {
		return DefaultRetries
	}
	return *r.Retries
}

func (c *Config) applyPolicyDefaults() {
	if c.Server.MaxHeaderBytes == 0 {
		c.Server.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if rl := r.RateLimit; rl != nil {
			if rl.Key == "" {
				rl.Key = "client_ip"
			}
			if rl.MaxKeys == 0 {
				rl.MaxKeys = DefaultRateMaxKeys
			}
			rl.applyClusterDefaults()
			rl.Default.applyDefaults()
			for name, t := range rl.Tiers {
				t.applyDefaults()
				rl.Tiers[name] = t
			}
		}
		if ca := r.Cache; ca != nil {
			setDuration(&ca.TTL, DefaultCacheTTL)
			if ca.MaxBytes == 0 {
				ca.MaxBytes = DefaultCacheMaxBytes
			}
			setDuration(&ca.StaleIfError, DefaultStaleIfError)
		}
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		if b.Balance == "" {
			b.Balance = BalanceRandom
		}
		if hc := b.HealthCheck; hc != nil {
			if hc.Path == "" {
				hc.Path = DefaultHealthPath
			}
			setDuration(&hc.Interval, DefaultHealthInterval)
			setDuration(&hc.Timeout, DefaultHealthTimeout)
			setInt(&hc.HealthyAfter, DefaultHealthyAfter)
			setInt(&hc.UnhealthyAfter, DefaultUnhealthyAfter)
		}
		if cb := b.CircuitBreaker; cb != nil {
			setInt(&cb.Failures, DefaultBreakerFailures)
			setDuration(&cb.Window, DefaultBreakerWindow)
			setInt(&cb.MinRequests, DefaultBreakerMinReqs)
			setDuration(&cb.OpenFor, DefaultBreakerOpenFor)
			setInt(&cb.HalfOpenRequests, DefaultBreakerHalfOpen)
		}
	}
}

func (r *Rate) applyDefaults() {
	setDuration(&r.Per, DefaultRatePer)
	if r.Burst == 0 {
		r.Burst = r.Requests
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}
