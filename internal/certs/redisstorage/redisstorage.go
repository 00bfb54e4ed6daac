// Package redisstorage is certmagic's Storage on the cluster's Redis store:
// with cluster: set, every replica keeps its ACME account, certificates,
// locks and pending http-01/tls-alpn-01 challenge tokens here, so N
// replicas obtain each certificate once and any of them answers a
// challenge that another one started (certmagic's distributed solver
// writes the token to its Storage, and its challenge handlers read it from
// there when the challenge is not their own).
//
// # Keys
//
// Under the cluster's key prefix, with the hash tag {certs} so that all
// of them sit in one slot of a Redis Cluster (a MULTI may touch several):
//
//	certs:{certs}/<key>        hash: v = the value, m = modified (Unix ms)
//	certs:{certs}:index        sorted set of every key (all scores 0), read by lexical range for List
//	certs:{certs}:lock:<name>  a lock: a random token, with an expiry
//
// # Locks
//
// Lock takes a lock with SET NX and an expiry (Options.LockTTL, default
// 10s) and polls while another holder has it; while held, a goroutine
// extends the expiry every third of it, so a long ACME order keeps its
// lock and a replica that dies loses its lock within LockTTL. Unlock and
// the refresh compare the token first (a small script), so a lock that
// expired and was taken by another replica is never released or
// extended by the old holder.
//
// Values are stored as they are: certificate private keys are as
// readable to anyone who can read the Redis database as the files of
// certmagic's FileStorage are to anyone who can read its directory.
package redisstorage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Defaults of Options.
const (
	DefaultLockTTL  = 10 * time.Second
	DefaultLockPoll = 500 * time.Millisecond
)

// Options make a Storage.
type Options struct {
	Client redis.UniversalClient
	// Prefix starts every key, e.g. the cluster's key prefix; "certs:{certs}" follows it.
	Prefix string
	Log    *slog.Logger
	// LockTTL is a lock's expiry, refreshed every third of it while held;
	// LockPoll how often a waiting Lock tries again. Defaults above.
	LockTTL, LockPoll time.Duration
}

// Storage implements certmagic.Storage (with its Locker) on Redis.
type Storage struct {
	client redis.UniversalClient
	base   string
	index  string
	log    *slog.Logger
	ttl    time.Duration
	poll   time.Duration

	mu   sync.Mutex
	held map[string]*lease // by lock name
	wg   sync.WaitGroup
}

// lease is a lock this process holds.
type lease struct {
	key, token string
	stop, done chan struct{}
}

var _ certmagic.Storage = (*Storage)(nil)

// New returns the Storage of o.
func New(o Options) *Storage {
	if o.LockTTL <= 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.LockPoll <= 0 {
		o.LockPoll = DefaultLockPoll
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	base := o.Prefix + "certs:{certs}"
	return &Storage{client: o.Client, base: base, index: base + ":index", log: o.Log,
		ttl: o.LockTTL, poll: o.LockPoll, held: map[string]*lease{}}
}

func (s *Storage) data(key string) string { return s.base + "/" + key }

// norm is key without leading and trailing slashes, as certmagic's keys
// are paths relative to the storage root.
func norm(key string) string { return strings.Trim(key, "/") }

// under is the lexical range of the index holding every key below dir
// ("" is the root: every key).
func under(dir string) *redis.ZRangeBy {
	if dir == "" {
		return &redis.ZRangeBy{Min: "-", Max: "+"}
	}
	// '0' follows '/': every key that starts with dir+"/" is below dir+"0".
	return &redis.ZRangeBy{Min: "[" + dir + "/", Max: "(" + dir + "0"}
}

func notExist(key string) error { return fmt.Errorf("%s: %w", key, fs.ErrNotExist) }

// Store puts value at key, overwriting what was there.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = norm(key)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.data(key), "v", value, "m", time.Now().UnixMilli())
		p.ZAdd(ctx, s.index, redis.Z{Member: key})
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key; an error wrapping fs.ErrNotExist when
// there is none.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = norm(key)
	b, err := s.client.HGet(ctx, s.data(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, notExist(key)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", key, err)
	}
	return b, nil
}

// Delete removes key and every key below it; a key that does not exist
// is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = norm(key)
	keys, err := s.client.ZRangeByLex(ctx, s.index, under(key)).Result()
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	keys = append(keys, key)
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		members := make([]any, len(keys))
		for i, k := range keys {
			p.Del(ctx, s.data(k))
			members[i] = k
		}
		p.ZRem(ctx, s.index, members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a value or has keys below it (and no
// error occurred finding out).
func (s *Storage) Exists(ctx context.Context, key string) bool {
	key = norm(key)
	if n, err := s.client.Exists(ctx, s.data(key)).Result(); err == nil && n == 1 {
		return true
	}
	return s.isDir(ctx, key) == nil
}

// isDir is nil when there are keys below dir, an error wrapping
// fs.ErrNotExist when there are none, or the store's error.
func (s *Storage) isDir(ctx context.Context, dir string) error {
	r := under(dir)
	r.Count = 1
	keys, err := s.client.ZRangeByLex(ctx, s.index, r).Result()
	switch {
	case err != nil:
		return err
	case len(keys) == 0:
		return notExist(dir)
	}
	return nil
}

// List returns the keys below dir: its direct children (values and
// directories), or with recursive every value and directory below it, as
// certmagic's FileStorage does. A dir with nothing below it is an error
// wrapping fs.ErrNotExist.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = norm(dir)
	keys, err := s.client.ZRangeByLex(ctx, s.index, under(dir)).Result()
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(keys) == 0 {
		return nil, notExist(dir)
	}
	start := 0
	if dir != "" {
		start = len(dir) + 1
	}
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range keys {
		rest := k[start:]
		for i := 0; i < len(rest); i++ {
			if rest[i] != '/' {
				continue
			}
			add(k[:start+i]) // a directory on the way
			if !recursive {
				break
			}
		}
		if recursive || !strings.Contains(rest, "/") {
			add(k)
		}
	}
	return out, nil
}

// Stat describes key: a value (terminal, with its size and modification
// time) or a directory.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = norm(key)
	var size *redis.IntCmd
	var mod *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		size = p.HStrLen(ctx, s.data(key), "v")
		mod = p.HGet(ctx, s.data(key), "m")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	if ms, err := strconv.ParseInt(mod.Val(), 10, 64); err == nil {
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(ms), Size: size.Val(), IsTerminal: true}, nil
	}
	if err := s.isDir(ctx, key); err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return certmagic.KeyInfo{Key: key}, nil
}

func (s *Storage) String() string { return "redis:" + s.base }

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
