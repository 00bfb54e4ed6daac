package config

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchSeesWritesAndRenames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rgate.yml")
	if err := os.WriteFile(path, []byte("routes: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	changed := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, path, slog.New(slog.DiscardHandler), func() { changed <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	time.Sleep(50 * time.Millisecond) // let the watch start; not an assertion

	expect := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatalf("no callback after %s", what)
		}
	}
	if err := os.WriteFile(path, []byte("routes: [] # 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("an in-place write")

	tmp := filepath.Join(dir, ".rgate.yml.tmp")
	if err := os.WriteFile(tmp, []byte("routes: [] # 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("an atomic rename over the file")

	// and the watch still works after the replace
	if err := os.WriteFile(path, []byte("routes: [] # 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("a write after the rename")
}
