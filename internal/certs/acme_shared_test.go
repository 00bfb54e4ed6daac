package certs

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/certs/redisstorage"
	"github.com/rgate/rgate/internal/cluster/redistest"
)

// TestACMESharedStorage: with a shared storage (the cluster's Redis), a
// certificate another replica stored there serves as soon as NewACME
// returns, with no CA answering, and the storage directory is not made.
func TestACMESharedStorage(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	shared := redisstorage.New(redisstorage.Options{Client: client, Prefix: "rgate:"})
	t.Cleanup(shared.Close)
	storeACMECertificateIn(t, shared, unreachableCA, "r.example.test", 77)

	dir := t.TempDir() + "/never"
	a, err := NewACME(ACMEOptions{Directory: unreachableCA, Storage: dir, Shared: shared,
		Domains: []string{"r.example.test"}, HTTP01: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Managed: a})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, s, "r.example.test"); got.SerialNumber.Int64() != 77 {
		t.Errorf("served certificate %v, want the one in the shared storage (77)", got.SerialNumber)
	}
	if st := s.Status(); len(st) != 1 || st[0].NotAfter.IsZero() || st[0].LoadedAt.IsZero() {
		t.Errorf("Status: %+v", st)
	}
	if _, err := a.storage.Stat(t.Context(), "certificates"); err != nil {
		t.Errorf("the shared storage has no certificates directory: %v", err)
	}
	if exists(dir) {
		t.Errorf("the storage directory %s was made though the storage is shared", dir)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
