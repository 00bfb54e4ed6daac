package config

import (
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/rgate/rgate/internal/h1syntax"
)

func (ch *checker) policies(c *Config) {
	if c.Server.MaxHeaderBytes < 0 {
		ch.add("server.max_header_bytes", "must not be negative, got %d", c.Server.MaxHeaderBytes)
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			ch.add("server.trusted_proxies["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	for i, r := range c.Routes {
		at := "routes[" + strconv.Itoa(i) + "]"
		if r.Retries != nil && (*r.Retries < 0 || *r.Retries > 10) {
			ch.add(at+".retries", "must be in 0..10, got %d", *r.Retries)
		}
		if r.MaxBodyBytes < 0 {
			ch.add(at+".max_body_bytes", "must not be negative, got %d", r.MaxBodyBytes)
		}
		if r.RateLimit != nil {
			ch.rateLimit(at+".rate_limit", r.RateLimit)
		}
		if r.Cache != nil {
			ch.nonNegative(at+".cache.ttl", r.Cache.TTL)
			ch.nonNegative(at+".cache.stale_if_error", r.Cache.StaleIfError)
			if r.Cache.MaxBytes < 0 {
				ch.add(at+".cache.max_bytes", "must not be negative, got %d", r.Cache.MaxBytes)
			}
		}
		if r.CORS != nil {
			ch.cors(at+".cors", r.CORS)
		}
		if r.Headers != nil {
			ch.headerRules(at+".headers.request", r.Headers.Request)
			ch.headerRules(at+".headers.response", r.Headers.Response)
		}
	}
	for i, b := range c.Backends {
		at := "backends[" + strconv.Itoa(i) + "]"
		switch b.Balance {
		case "", BalanceRandom, BalanceRoundRobin, BalanceLeastConn:
		default:
			ch.add(at+".balance", "unknown policy %q; want random, round_robin or least_conn", b.Balance)
		}
		if hc := b.HealthCheck; hc != nil {
			if !strings.HasPrefix(hc.Path, "/") {
				ch.add(at+".health_check.path", "must start with \"/\", got %q", hc.Path)
			}
			ch.positive(at+".health_check.interval", hc.Interval)
			ch.positive(at+".health_check.timeout", hc.Timeout)
			ch.atLeastOne(at+".health_check.healthy_after", hc.HealthyAfter)
			ch.atLeastOne(at+".health_check.unhealthy_after", hc.UnhealthyAfter)
		}
		if cb := b.CircuitBreaker; cb != nil {
			ch.atLeastOne(at+".circuit_breaker.failures", cb.Failures)
			ch.positive(at+".circuit_breaker.window", cb.Window)
			ch.atLeastOne(at+".circuit_breaker.min_requests", cb.MinRequests)
			ch.positive(at+".circuit_breaker.open_for", cb.OpenFor)
			ch.atLeastOne(at+".circuit_breaker.half_open_requests", cb.HalfOpenRequests)
		}
	}
}

func (ch *checker) rateLimit(at string, rl *RateLimit) {
	switch {
	case rl.Key == "client_ip", rl.Key == RateKeyConsumer:
	case strings.HasPrefix(rl.Key, "header:") && validHeaderName(strings.TrimPrefix(rl.Key, "header:")):
	default:
		ch.add(at+".key", "must be client_ip, consumer or header:NAME, got %q", rl.Key)
	}
	if rl.TierHeader != "" && !validHeaderName(rl.TierHeader) {
		ch.add(at+".tier_header", "not a valid header name: %q", rl.TierHeader)
	}
	ch.tierFrom(at, rl)
	if len(rl.Tiers) > 0 && rl.TierHeader == "" && rl.TierFrom == "" {
		ch.add(at+".tier_header", "required when tiers are set (or tier_from: consumer)")
	}
	if rl.MaxKeys < 0 {
		ch.add(at+".max_keys", "must not be negative, got %d", rl.MaxKeys)
	}
	ch.rate(at+".default", rl.Default)
	names := make([]string, 0, len(rl.Tiers))
	for name := range rl.Tiers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ch.rate(at+".tiers."+name, rl.Tiers[name])
	}
}

func (ch *checker) rate(at string, r Rate) {
	if r.Requests <= 0 {
		ch.add(at+".requests", "must be at least 1, got %d", r.Requests)
	}
	ch.positive(at+".per", r.Per)
	if r.Burst < 0 {
		ch.add(at+".burst", "must not be negative, got %d", r.Burst)
	}
}

func (ch *checker) cors(at string, c *CORS) {
	if len(c.AllowOrigins) == 0 {
		ch.add(at+".allow_origins", "required: list the origins, or \"*\"")
	}
	for i, o := range c.AllowOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			ch.add(at+".allow_origins["+strconv.Itoa(i)+"]", "must be \"*\" or scheme://host[:port], got %q", o)
		}
	}
	if c.AllowCredentials && slices.Contains(c.AllowOrigins, "*") {
		ch.add(at+".allow_credentials", "cannot be used with allow_origins \"*\" (browsers reject it)")
	}
	for i, m := range c.AllowMethods {
		if !validToken(m) {
			ch.add(at+".allow_methods["+strconv.Itoa(i)+"]", "not a method: %q", m)
		}
	}
	for i, h := range c.AllowHeaders {
		if h != "*" && !validHeaderName(h) {
			ch.add(at+".allow_headers["+strconv.Itoa(i)+"]", "not a valid header name: %q", h)
		}
	}
	for i, h := range c.ExposeHeaders {
		if !validHeaderName(h) {
			ch.add(at+".expose_headers["+strconv.Itoa(i)+"]", "not a valid header name: %q", h)
		}
	}
	ch.nonNegative(at+".max_age", c.MaxAge)
}

func (ch *checker) headerRules(at string, hr HeaderRules) {
	keys := make([]string, 0, len(hr.Set))
	for k := range hr.Set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validHeaderName(k) {
			ch.add(at+".set", "not a valid header name: %q", k)
		} else if hopByHop(k) {
			ch.add(at+".set", "%q is a hop-by-hop header and cannot be set", k)
		}
		if strings.ContainsAny(hr.Set[k], "\r\n\x00") {
			ch.add(at+".set."+k, "value must not contain CR, LF or NUL")
		}
	}
	for i, k := range hr.Remove {
		if !validHeaderName(k) {
			ch.add(at+".remove["+strconv.Itoa(i)+"]", "not a valid header name: %q", k)
		}
	}
}

func (ch *checker) positive(field string, d Duration) {
	if d <= 0 {
		ch.add(field, "must be more than 0, got %s", d)
	}
}

func (ch *checker) atLeastOne(field string, n int) {
	if n < 1 {
		ch.add(field, "must be at least 1, got %d", n)
	}
}

func validHeaderName(s string) bool { return validToken(s) }

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool { return h1syntax.ValidTokenString(s) }

func hopByHop(name string) bool {
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}
