package health

import (
	"net"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/upstream"
)

func TestWarmerMarksReadyOnceThePortAccepts(t *testing.T) {
	// reserve a port, close it: the container "is running" but not listening
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	reg := upstream.NewRegistry()
	u := reg.Get(upstream.Key{Scheme: "http", Host: addr, ContainerID: "c1", Container: "app"})
	static := reg.Get(upstream.Key{Scheme: "http", Host: "127.0.0.1:1"})
	if !u.Warming() || u.Available() {
		t.Fatal("a new container must start warming and unavailable")
	}
	if static.Warming() {
		t.Fatal("static URLs are ready from the start")
	}
	w := NewWarmer(nil)
	defer w.Close()
	w.Sync([]*upstream.Upstream{u, static})

	time.Sleep(100 * time.Millisecond) // several probes refused; not an assertion of timing
	if !u.Warming() {
		t.Fatal("marked ready while nothing listens")
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	deadline := time.Now().Add(5 * time.Second)
	for u.Warming() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if u.Warming() || !u.Available() {
		t.Fatal("not ready after the port accepted")
	}
}

func TestWarmerStopsLoopsOfRemovedUpstreams(t *testing.T) {
	reg := upstream.NewRegistry()
	u := reg.Get(upstream.Key{Scheme: "http", Host: "127.0.0.1:1", ContainerID: "c1"})
	w := NewWarmer(nil)
	w.Sync([]*upstream.Upstream{u})
	w.Sync(nil) // removed: its loop must end
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a warm-up loop kept running")
	}
}
