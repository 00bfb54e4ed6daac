package redisstorage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// refresh extends KEYS[1] by ARGV[2] ms when it still holds ARGV[1].
var refresh = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// release deletes KEYS[1] when it still holds ARGV[1].
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (s *Storage) lockKey(name string) string { return s.base + ":lock:" + name }

// Lock takes the lock name, waiting while another holder (this or another
// replica) has it, until ctx is done. A store error ends the wait with
// that error.
func (s *Storage) Lock(ctx context.Context, name string) error {
	l := &lease{key: s.lockKey(name), token: token(), stop: make(chan struct{}), done: make(chan struct{})}
	for {
		ok, err := s.client.SetNX(ctx, l.key, l.token, s.ttl).Result()
		if err != nil {
			return fmt.Errorf("taking lock %s: %w", name, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for lock %s: %w", name, ctx.Err())
		case <-time.After(s.poll):
		}
	}
	s.mu.Lock()
	s.held[name] = l
	s.mu.Unlock()
	s.wg.Go(func() { s.keep(name, l) })
	return nil
}

// keep extends a held lock every third of its expiry until it is released.
func (s *Storage) keep(name string, l *lease) {
	defer close(l.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
		n, err := refresh.Run(ctx, s.client, []string{l.key}, l.token, s.ttl.Milliseconds()).Int64()
		cancel()
		switch {
		case err != nil:
			s.log.Warn("extending a certificate storage lock failed; retrying", "lock", name, "error", err)
		case n == 0:
			s.log.Warn("a certificate storage lock expired while held (Redis unreachable for longer than its expiry?)",
				"lock", name, "expiry", s.ttl)
			return
		}
	}
}

// Unlock releases the lock name taken by Lock.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("unlocking %s: not held by this process", name)
	}
	close(l.stop)
	<-l.done
	if err := release.Run(ctx, s.client, []string{l.key}, l.token).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("unlocking %s: %w", name, err)
	}
	return nil
}

// Close releases every lock still held (best effort, within a second)
// and stops their refresh.
func (s *Storage) Close() {
	s.mu.Lock()
	held := s.held
	s.held = map[string]*lease{}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, l := range held {
		close(l.stop)
		<-l.done
		_ = release.Run(ctx, s.client, []string{l.key}, l.token).Err()
	}
	s.wg.Wait()
}
