package cluster

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// Background returns a client for work off the request path (publishing
// stats, certificate storage) whose commands may each take up to d rather
// than the configured timeout; it shares the store's connections. A Redis
// Cluster client has no such clone, and is returned as it is (its
// commands keep the configured timeout).
func (s *Store) Background(d time.Duration) redis.UniversalClient {
	if c, ok := s.client.(*redis.Client); ok && d > s.timeout {
		return c.WithTimeout(d)
	}
	return s.client
}
