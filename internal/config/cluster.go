package config

import (
	"net"
	"strconv"
	"time"
)

// Cluster makes several rgate replicas share rate limits, stats and ACME
// state through Redis. Absent: every replica is on its own (today's
// behaviour).
type Cluster struct {
	// Redis is the shared store. Required.
	Redis Redis `yaml:"redis"`
	// InstanceID names this replica in /stats and /health. Default
	// hostname:port.
	InstanceID string `yaml:"instance_id"`
}

// Redis says how to reach the shared store: one address is a standalone
// server, several are a Redis Cluster, and with MasterName they are
// Sentinels.
type Redis struct {
	// Addrs are host:port addresses. Required.
	Addrs []string `yaml:"addrs"`
	// MasterName selects Sentinel mode: the name of the monitored master.
	MasterName string `yaml:"master_name"`
	// Username for Redis ACLs. Default none.
	Username string `yaml:"username"`
	// PasswordFile holds the password (surrounding white space trimmed);
	// the password is never written in the config itself. Default none.
	PasswordFile string `yaml:"password_file"`
	// DB is the database number (standalone and Sentinel only). Default 0.
	DB int `yaml:"db"`
	// TLS connects with TLS, verified against the system's roots.
	TLS bool `yaml:"tls"`
	// KeyPrefix starts every key rgate writes. Default "rgate:".
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds one store operation; past it the route's
	// on_store_error applies. Default 50ms.
	Timeout Duration `yaml:"timeout"`
}

// Defaults and choices of the cluster settings.
const (
	DefaultRedisKeyPrefix = "rgate:"
	DefaultRedisTimeout   = 50 * time.Millisecond

	ScopeLocal   = "local"
	ScopeCluster = "cluster"

	StoreErrorLocal = "local"
	StoreErrorAllow = "allow"
	StoreErrorDeny  = "deny"
)

func (c *Cluster) applyDefaults() {
	if c.Redis.KeyPrefix == "" {
		c.Redis.KeyPrefix = DefaultRedisKeyPrefix
	}
	setDuration(&c.Redis.Timeout, DefaultRedisTimeout)
}

// applyDefaults fills a rate limit's cluster settings.
func (rl *RateLimit) applyClusterDefaults() {
	if rl.Scope == "" {
		rl.Scope = ScopeLocal
	}
	if rl.OnStoreError == "" {
		rl.OnStoreError = StoreErrorLocal
	}
}

// cluster checks the cluster block, and that cluster-scoped rate limits
// have one.
func (ch *checker) cluster(c *Config) {
	if cl := c.Cluster; cl != nil {
		r := cl.Redis
		if len(r.Addrs) == 0 {
			ch.add("cluster.redis.addrs", "required: at least one host:port")
		}
		for i, a := range r.Addrs {
			if msg := checkHostPort(a); msg != "" {
				ch.add("cluster.redis.addrs["+strconv.Itoa(i)+"]", "%s", msg)
			}
		}
		if r.DB < 0 {
			ch.add("cluster.redis.db", "must not be negative, got %d", r.DB)
		}
		if r.DB != 0 && len(r.Addrs) > 1 && r.MasterName == "" {
			ch.add("cluster.redis.db", "a Redis Cluster has only database 0, got %d", r.DB)
		}
		ch.positive("cluster.redis.timeout", r.Timeout)
	}
	for i, r := range c.Routes {
		rl := r.RateLimit
		if rl == nil {
			continue
		}
		at := "routes[" + strconv.Itoa(i) + "].rate_limit"
		switch rl.Scope {
		case ScopeLocal:
		case ScopeCluster:
			if c.Cluster == nil {
				ch.add(at+".scope", "cluster needs a cluster: section with the Redis store")
			}
		default:
			ch.add(at+".scope", "must be local or cluster, got %q", rl.Scope)
		}
		switch rl.OnStoreError {
		case StoreErrorLocal, StoreErrorAllow, StoreErrorDeny:
		default:
			ch.add(at+".on_store_error", "must be local, allow or deny, got %q", rl.OnStoreError)
		}
	}
}

// checkHostPort returns why s is not a host:port with a usable port, or "".
func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "want host:port, got " + strconv.Quote(s)
	}
	if host == "" {
		return "no host in " + strconv.Quote(s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "port must be in 1..65535, got " + strconv.Quote(port)
	}
	return ""
}
