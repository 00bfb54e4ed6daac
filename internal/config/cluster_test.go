package config

import (
	"strings"
	"testing"
)

func TestClusterConfig(t *testing.T) {
	t.Parallel()
	const route = "routes:\n  - path_prefix: /\n    backend: b\n    rate_limit:\n      default: {requests: 10}\n"
	const backend = "backends:\n  - name: b\n    urls: [http://127.0.0.1:9]\n"
	for _, tc := range []struct {
		name, in string
		want     string // a problem's text; "" for a valid file
	}{
		{"absent", route + backend, ""},
		{"standalone", "cluster:\n  redis: {addrs: [127.0.0.1:6379]}\n" + route + "      scope: cluster\n" + backend, ""},
		{"no addrs", "cluster:\n  redis: {}\n" + backend, "t.yml:2: cluster.redis.addrs: required"},
		{"bad addr", "cluster:\n  redis: {addrs: [redis]}\n" + backend, `cluster.redis.addrs[0]: want host:port, got "redis"`},
		{"bad port", "cluster:\n  redis: {addrs: [\"r:0\"]}\n" + backend, `cluster.redis.addrs[0]: port must be in 1..65535`},
		{"cluster db", "cluster:\n  redis: {addrs: [a:1, b:1], db: 2}\n" + backend, "cluster.redis.db: a Redis Cluster has only database 0"},
		{"password in config", "cluster:\n  redis: {addrs: [a:1], password: x}\n" + backend, `unknown key "password"`},
		{"cluster scope without cluster", route + "      scope: cluster\n" + backend,
			"t.yml:6: routes[0].rate_limit.scope: cluster needs a cluster: section"},
		{"bad scope", route + "      scope: global\n" + backend, `routes[0].rate_limit.scope: must be local or cluster, got "global"`},
		{"bad fallback", route + "      on_store_error: drop\n" + backend,
			`routes[0].rate_limit.on_store_error: must be local, allow or deny, got "drop"`},
		{"negative timeout", "cluster:\n  redis: {addrs: [a:1], timeout: -1s}\n" + backend, "cluster.redis.timeout"},
	} {
		cfg, err := Parse([]byte(tc.in), "t.yml")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		case tc.want == "":
			rl := cfg.Routes[0].RateLimit
			if rl.OnStoreError != StoreErrorLocal || (rl.Scope != ScopeLocal && rl.Scope != ScopeCluster) {
				t.Errorf("%s: defaults scope %q on_store_error %q", tc.name, rl.Scope, rl.OnStoreError)
			}
			if c := cfg.Cluster; c != nil && (c.Redis.KeyPrefix != DefaultRedisKeyPrefix || c.Redis.Timeout.D() != DefaultRedisTimeout) {
				t.Errorf("%s: defaults %+v", tc.name, c.Redis)
			}
		}
	}
}
