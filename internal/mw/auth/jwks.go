package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// JWKS fetching.
const (
	// unknownKIDEvery: a token naming a kid the keys lack makes the JWKS
	// be fetched again at most this often.
	unknownKIDEvery = 10 * time.Second
	// fetchTimeout bounds one fetch.
	fetchTimeout = 5 * time.Second
	// maxJWKSBytes caps a JWKS document.
	maxJWKSBytes = 1 << 20
	// Refresh periods: Cache-Control max-age within these bounds, else
	// defaultRefresh; after a failure, retry from minRetry, doubling up
	// to maxRetry.
	defaultRefresh = time.Hour
	minRefresh     = 10 * time.Second
	maxRefresh     = 24 * time.Hour
	minRetry       = time.Second
	maxRetry       = time.Minute
	// firstWait bounds how long a request waits for the first fetch.
	firstWait = 3 * time.Second
)

// jwksURL is a JWKS fetched from a URL, kept by the Registry across
// routing tables. A refresh that fails keeps the last good keys.
type jwksURL struct {
	url    string
	client *http.Client
	log    *slog.Logger

	kf      atomic.Pointer[keySet]
	gen     atomic.Uint64
	lastKID atomic.Int64 // unix nanoseconds of the last unknown-kid fetch
	ready   chan struct{}

	mu  sync.Mutex // serialises fetches; guards raw
	raw []byte

	cancel context.CancelFunc
}

type keySet struct{ kf keyfunc.Keyfunc }

func (s *jwksURL) generation() uint64 { return s.gen.Load() }

func (s *jwksURL) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		ks := s.current(ctx)
		if ks == nil {
			return nil, errNoKeys
		}
		key, err := ks.kf.Keyfunc(t)
		if !errors.Is(err, jwkset.ErrKeyNotFound) || !s.mayRefetch() {
			return key, err
		}
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		if _, ferr := s.fetch(fctx); ferr != nil {
			s.log.Warn("fetching JWKS for an unknown kid", "url", s.url, "error", ferr)
			return nil, err
		}
		return s.kf.Load().kf.Keyfunc(t)
	}
}

// current returns the keys, waiting a little for the first fetch.
func (s *jwksURL) current(ctx context.Context) *keySet {
	if ks := s.kf.Load(); ks != nil {
		return ks
	}
	t := time.NewTimer(firstWait)
	defer t.Stop()
	select {
	case <-s.ready:
	case <-ctx.Done():
	case <-t.C:
	}
	return s.kf.Load()
}

// mayRefetch reports whether an unknown kid may fetch now (once per
// unknownKIDEvery, whoever asks first).
func (s *jwksURL) mayRefetch() bool {
	now := time.Now().UnixNano()
	last := s.lastKID.Load()
	if now-last < int64(unknownKIDEvery) {
		return false
	}
	return s.lastKID.CompareAndSwap(last, now)
}

// fetch gets the JWKS and installs it when it parses; it returns how long
// the answer may be cached.
func (s *jwksURL) fetch(ctx context.Context) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return 0, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("JWKS answered %d", res.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes))
	if err != nil {
		return 0, fmt.Errorf("reading JWKS: %w", err)
	}
	if s.kf.Load() == nil || !bytes.Equal(raw, s.raw) {
		kf, err := keyfunc.NewJWKSetJSON(raw)
		if err != nil {
			return 0, fmt.Errorf("parsing JWKS: %w", err)
		}
		s.raw = raw
		s.gen.Add(1)
		s.kf.Store(&keySet{kf: kf})
	}
	return maxAge(res.Header.Get("Cache-Control")), nil
}

// run fetches the JWKS now, then again when its cache time runs out,
// until ctx is done.
func (s *jwksURL) run(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("JWKS refresh loop panicked", "url", s.url, "panic", p)
		}
	}()
	retry := minRetry
	first := true
	for {
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		wait, err := s.fetch(fctx)
		cancel()
		if first {
			close(s.ready)
			first = false
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("fetching JWKS failed; the last good keys stay in use", "url", s.url, "error", err, "retry_in", retry)
			wait, retry = retry, min(2*retry, maxRetry)
		} else {
			retry = minRetry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// maxAge is the refresh period a Cache-Control value asks for, within
// bounds.
func maxAge(cc string) time.Duration {
	for _, part := range strings.Split(cc, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(part)), "max-age=")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			return min(max(time.Duration(n)*time.Second, minRefresh), maxRefresh)
		}
	}
	return defaultRefresh
}
