package cluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rgate/rgate/internal/cluster/redistest"
	"github.com/rgate/rgate/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig(addr string) *config.Cluster {
	c := &config.Cluster{Redis: config.Redis{Addrs: []string{addr}}}
	cfg := config.Config{Cluster: c}
	cfg.ApplyDefaults()
	return c
}

func open(t *testing.T, c *config.Cluster) *Store {
	t.Helper()
	s, err := Open(c, "test:1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFallbackAndRecovery: a stopped or paused Redis puts the store in
// fallback; once it answers again the store is available within 2s.
func TestFallbackAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, testConfig(srv.Addr))
	if !s.Available() {
		t.Fatalf("store not available with Redis up: %+v", s.Status())
	}
	ctx, cancel := s.Context(context.Background())
	if err := s.Client().Set(ctx, s.Key("k"), "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	cancel()

	srv.Pause()
	start := time.Now()
	ctx, cancel = s.Context(context.Background())
	err := s.Client().Get(ctx, s.Key("k")).Err()
	cancel()
	if err == nil {
		t.Fatal("GET answered while Redis was paused")
	}
	if took := time.Since(start); took > 10*s.Timeout()+time.Second {
		t.Errorf("a GET against a paused Redis took %v; the timeout is %v", took, s.Timeout())
	}
	s.Failed(err)
	if s.Available() || s.Status().State != "fallback" || s.Status().LastError == "" {
		t.Fatalf("after a failure: %+v", s.Status())
	}
	srv.Resume()
	waitFor(t, 2*time.Second, "available after resume", s.Available)

	srv.Stop()
	ctx, cancel = s.Context(context.Background())
	err = s.Client().Get(ctx, s.Key("k")).Err()
	cancel()
	s.Failed(err)
	if s.Available() {
		t.Fatal("available with Redis stopped")
	}
	time.Sleep(1500 * time.Millisecond) // let the probe back off
	srv.Restart()
	waitFor(t, 2*time.Second, "available after restart", s.Available)
	if s.Errors() < 2 {
		t.Errorf("errors = %d, want at least 2", s.Errors())
	}
}

// TestUnreachableAtStart: Open does not fail when Redis is down; the store
// starts in fallback.
func TestUnreachableAtStart(t *testing.T) {
	s := open(t, testConfig("127.0.0.1:1"))
	if s.Available() {
		t.Fatalf("available with nothing listening: %+v", s.Status())
	}
}

func TestCanceledIsNotAFailure(t *testing.T) {
	s := open(t, testConfig("127.0.0.1:1"))
	n := s.Errors()
	s.Failed(context.Canceled)
	s.Failed(nil)
	if s.Errors() != n {
		t.Errorf("errors went from %d to %d", n, s.Errors())
	}
}

func TestPasswordFile(t *testing.T) {
	c := testConfig("127.0.0.1:6379")
	c.Redis.PasswordFile = filepath.Join(t.TempDir(), "missing")
	_, err := Open(c, "x", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "cluster.redis.password_file") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err = %v; want one naming the field and the file", err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Redis.PasswordFile = f
	o, err := options(c.Redis)
	if err != nil || o.Password != "s3cret" {
		t.Fatalf("password %q, err %v", o.Password, err)
	}
}

func TestInstanceID(t *testing.T) {
	if got := InstanceID("a", 1); got != "a" {
		t.Errorf("got %q", got)
	}
	if got := InstanceID("", 8080); !strings.HasSuffix(got, ":8080") {
		t.Errorf("got %q", got)
	}
}
