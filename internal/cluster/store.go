// Package cluster is rgate's connection to the Redis store that replicas
// share: the client (standalone, Redis Cluster or Sentinel through
// go-redis's UniversalClient), the key prefix, the per-operation timeout,
// and the store's health.
//
// The health is one flag on the request path. A failed or late operation
// puts the store in fallback: callers stop sending to Redis (so a paused
// server costs one timeout, not one per request) and apply their own
// fallback, while a background probe pings Redis with backoff (at most
// one second apart) and ends the fallback when it answers. Entering and
// leaving fallback are logged once each.
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/config"
)

// Probe backoff while the store is in fallback.
const (
	probeFirst = 100 * time.Millisecond
	probeMax   = time.Second
)

// Store is the shared Redis store.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	id      string
	log     *slog.Logger

	down     atomic.Bool
	errs     atomic.Uint64
	wake     chan struct{}
	mu       sync.Mutex // guards lastErr, since
	lastErr  string
	since    time.Time
	closeOne sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// Status is the store's state for /health.
type Status struct {
	Instance  string    `json:"instance"`
	State     string    `json:"state"` // "ok" or "fallback"
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error,omitempty"`
	Errors    uint64    `json:"errors"`
}

// Open makes the store's client from c. It does not wait for Redis: an
// unreachable store starts in fallback and is probed until it answers.
// The password is read from c.Redis.PasswordFile; an unreadable file is
// an error that names it.
func Open(c *config.Cluster, instanceID string, log *slog.Logger) (*Store, error) {
	opts, err := options(c.Redis)
	if err != nil {
		return nil, err
	}
	setLogger.Do(func() { redis.SetLogger(redisLog{log}) })
	s := &Store{
		client:  redis.NewUniversalClient(opts),
		prefix:  c.Redis.KeyPrefix,
		timeout: c.Redis.Timeout.D(),
		id:      instanceID,
		log:     log,
		wake:    make(chan struct{}, 1),
		since:   time.Now(),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.probe()
	ctx, cancel := s.Context(context.Background())
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		s.Failed(err)
	}
	return s, nil
}

func options(r config.Redis) (*redis.UniversalOptions, error) {
	var password string
	if r.PasswordFile != "" {
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.redis.password_file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	}
	t := r.Timeout.D()
	opts := &redis.UniversalOptions{
		Addrs:                 r.Addrs,
		MasterName:            r.MasterName,
		Username:              r.Username,
		Password:              password,
		DB:                    r.DB,
		ClientName:            "rgate",
		MaxRetries:            -1, // a late answer is a fallback, not a retry
		DialTimeout:           max(t, time.Second),
		ReadTimeout:           t,
		WriteTimeout:          t,
		PoolTimeout:           t,
		ContextTimeoutEnabled: true,
		MinIdleConns:          2,
	}
	if r.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if len(r.Addrs) == 1 {
			host, _, _ := net.SplitHostPort(r.Addrs[0])
			opts.TLSConfig.ServerName = host
		}
	}
	return opts, nil
}

// InstanceID is id, or hostname:port when id is empty.
func InstanceID(id string, port int) string {
	if id != "" {
		return id
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + ":" + strconv.Itoa(port)
}

// Client is the Redis client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Key is the store's key for name: the configured prefix, then name.
func (s *Store) Key(name string) string { return s.prefix + name }

// Prefix is the configured key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Instance is this replica's id.
func (s *Store) Instance() string { return s.id }

// Timeout bounds one store operation.
func (s *Store) Timeout() time.Duration { return s.timeout }

// Context bounds one store operation by the store's timeout.
func (s *Store) Context(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.timeout)
}

// Available reports whether callers should use the store; false while it
// is in fallback.
func (s *Store) Available() bool { return !s.down.Load() }

// Failed records that an operation failed or was late, putting the store
// in fallback until a probe succeeds. A nil err or a caller's own
// cancellation is not a store failure.
func (s *Store) Failed(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	s.errs.Add(1)
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
	if s.down.CompareAndSwap(false, true) {
		s.mu.Lock()
		s.since = time.Now()
		s.mu.Unlock()
		s.log.Warn("cluster store unavailable: using each rate limit's on_store_error until Redis answers",
			"instance", s.id, "err", err)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Errors is how many store operations have failed since start.
func (s *Store) Errors() uint64 { return s.errs.Load() }

// Status is the store's state now.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Instance: s.id, State: "ok", Since: s.since, LastError: s.lastErr, Errors: s.errs.Load()}
	if s.down.Load() {
		st.State = "fallback"
	}
	return st
}

// probe pings Redis with backoff whenever the store is in fallback.
func (s *Store) probe() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		wait := probeFirst
		for s.down.Load() {
			select {
			case <-s.stop:
				return
			case <-time.After(wait):
			}
			ctx, cancel := context.WithTimeout(context.Background(), max(s.timeout, 250*time.Millisecond))
			err := s.client.Ping(ctx).Err()
			cancel()
			if err == nil {
				s.recovered()
				break
			}
			s.mu.Lock()
			s.lastErr = err.Error()
			s.mu.Unlock()
			wait = min(wait*2, probeMax)
		}
	}
}

func (s *Store) recovered() {
	s.mu.Lock()
	s.since = time.Now()
	s.mu.Unlock()
	s.down.Store(false)
	s.log.Info("cluster store available again", "instance", s.id)
}

// Close stops the probe and closes the client.
func (s *Store) Close() error {
	var err error
	s.closeOne.Do(func() {
		close(s.stop)
		<-s.done
		err = s.client.Close()
	})
	return err
}

var setLogger sync.Once

// redisLog sends go-redis's own messages to the debug log.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}
