package redisstorage

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/rgate/rgate/internal/cluster/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStorage(t *testing.T, addr string, ttl time.Duration) *Storage {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	s := New(Options{Client: c, Prefix: "test:", LockTTL: ttl, LockPoll: 20 * time.Millisecond})
	t.Cleanup(func() { s.Close(); _ = c.Close() })
	return s
}

// TestStorageConformance: values, directories, listing, stat and delete
// behave as certmagic's FileStorage does.
func TestStorageConformance(t *testing.T) {
	srv := redistest.Start(t)
	s := newStorage(t, srv.Addr, 0)
	ctx := t.Context()
	if _, err := s.Load(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	files := map[string]string{
		"certificates/ca/a.test/a.test.crt": "crt", "certificates/ca/a.test/a.test.key": "key",
		"certificates/ca/b.test/b.test.crt": "crt b", "acme/ca/users/x/x.json": "{}", "top": "t",
	}
	for k, v := range files {
		if err := s.Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(ctx, "top", []byte("t2")); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Load(ctx, "top"); err != nil || string(b) != "t2" {
		t.Errorf("Load after overwrite: %q %v", b, err)
	}
	for k, want := range map[string]bool{"top": true, "certificates": true, "certificates/ca/a.test": true,
		"certificates/ca/a": false, "certificates/ca/a.test/a.test.crt": true, "acme/ca/users/y": false} {
		if got := s.Exists(ctx, k); got != want {
			t.Errorf("Exists(%q) = %v, want %v", k, got, want)
		}
	}
	list := func(dir string, rec bool) []string {
		got, err := s.List(ctx, dir, rec)
		if err != nil {
			t.Fatalf("List(%q, %v): %v", dir, rec, err)
		}
		slices.Sort(got)
		return got
	}
	if got, want := list("certificates/ca", false), []string{"certificates/ca/a.test", "certificates/ca/b.test"}; !slices.Equal(got, want) {
		t.Errorf("List non-recursive: %v, want %v", got, want)
	}
	if got, want := list("", false), []string{"acme", "certificates", "top"}; !slices.Equal(got, want) {
		t.Errorf("List of the root: %v, want %v", got, want)
	}
	want := []string{"certificates/ca", "certificates/ca/a.test", "certificates/ca/a.test/a.test.crt",
		"certificates/ca/a.test/a.test.key", "certificates/ca/b.test", "certificates/ca/b.test/b.test.crt"}
	if got := list("certificates", true); !slices.Equal(got, want) {
		t.Errorf("List recursive: %v, want %v", got, want)
	}
	if _, err := s.List(ctx, "certificates/c", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a prefix that is no directory: %v, want fs.ErrNotExist", err)
	}
	before := time.Now().Add(-time.Second)
	if ki, err := s.Stat(ctx, "certificates/ca/b.test/b.test.crt"); err != nil || !ki.IsTerminal || ki.Size != 5 || ki.Modified.Before(before) {
		t.Errorf("Stat of a value: %+v %v", ki, err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca"); err != nil || ki.IsTerminal {
		t.Errorf("Stat of a directory: %+v %v", ki, err)
	}
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing key: %v", err)
	}
	if err := s.Delete(ctx, "certificates/ca/a.test"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.test/a.test.key") || s.Exists(ctx, "certificates/ca/a.test") || !s.Exists(ctx, "certificates/ca/b.test") {
		t.Errorf("Delete of a directory: not every key below it gone, or a sibling gone")
	}
	if err := s.Delete(ctx, "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

// TestLockContention: of two replicas' storages, one holds a lock and
// the other waits until it is released; many goroutines taking the same
// lock never overlap.
func TestLockContention(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStorage(t, srv.Addr, 0), newStorage(t, srv.Addr, 0)
	ctx := t.Context()
	if err := a.Lock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if err := b.Lock(short, "issue_cert_x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock while another holds it: %v, want the wait to end with the context", err)
	}
	cancel()
	if err := b.Lock(ctx, "other"); err != nil {
		t.Errorf("a different lock: %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_x") }()
	time.Sleep(100 * time.Millisecond)
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the waiting Lock did not get the lock after Unlock")
	}
	if err := a.Unlock(ctx, "issue_cert_x"); err == nil {
		t.Errorf("Unlock of a lock this storage does not hold: no error")
	}
	_ = b.Unlock(ctx, "issue_cert_x")
	_ = b.Unlock(ctx, "other")

	var inside, overlaps atomic.Int32
	done := make(chan struct{})
	for i := range 6 {
		st := []*Storage{a, b}[i%2]
		go func() {
			defer func() { done <- struct{}{} }()
			for range 5 {
				if err := st.Lock(ctx, "mutex"); err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
				inside.Add(-1)
				if err := st.Unlock(ctx, "mutex"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 6 {
		<-done
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d times two holders were inside the lock at once", n)
	}
}

// TestLockExpiryAndRefresh: a held lock outlives its expiry (it is
// refreshed); a lock whose holder died (nobody refreshes it) is free
// once it expires.
func TestLockExpiryAndRefresh(t *testing.T) {
	srv := redistest.Start(t)
	ttl := 300 * time.Millisecond
	a, b := newStorage(t, srv.Addr, ttl), newStorage(t, srv.Addr, ttl)
	ctx := t.Context()
	if err := a.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 4*ttl)
	err := b.Lock(wait, "held")
	cancel()
	if err == nil {
		t.Fatalf("b took a lock a holds and refreshes, %v after its expiry", 4*ttl)
	}
	_ = a.Unlock(ctx, "held")

	// A holder that died: its lock is in Redis, refreshed by nobody.
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if err := c.Set(ctx, b.lockKey("dead"), "someone", ttl).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Lock(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < ttl/2 || took > 3*ttl {
		t.Errorf("a dead holder's lock was taken after %v, want about its expiry %v", took, ttl)
	}
	_ = b.Unlock(ctx, "dead")
}
