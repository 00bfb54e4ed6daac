package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// sockProxy forwards a unix socket to the Docker engine's socket. Close drops
// the listener and every live connection, as if the engine went away;
// Reopen brings it back. It lets a test "restart" the engine for one gateway
// without touching the shared engine.
type sockProxy struct {
	path   string // the socket rgate connects to
	target string // the engine's socket

	mu    sync.Mutex
	open  bool
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newSockProxy listens on a fresh socket path and forwards to target.
func newSockProxy(t *testing.T, target string) *sockProxy {
	t.Helper()
	// A short directory: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "rgsp")
	if err != nil {
		t.Fatal(err)
	}
	p := &sockProxy{path: filepath.Join(dir, "docker.sock"), target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		p.Close()
		os.RemoveAll(dir)
	})
	if err := p.Reopen(); err != nil {
		t.Fatalf("starting the socket proxy: %v", err)
	}
	return p
}

// Reopen starts listening again at the same path.
func (p *sockProxy) Reopen() error {
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.open = ln, true
	p.mu.Unlock()
	p.wg.Add(1)
	go p.serve(ln)
	return nil
}

// Close stops listening, removes the socket file, closes every live
// connection and waits for the forwarding goroutines to end.
func (p *sockProxy) Close() {
	p.mu.Lock()
	if p.open {
		p.open = false
		_ = p.ln.Close()
		_ = os.Remove(p.path)
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *sockProxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *sockProxy) forward(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	engine, err := net.DialTimeout("unix", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(engine) {
		_ = engine.Close()
		return
	}
	defer p.untrack(engine)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(engine, client)
	go pipe(client, engine)
	<-done
	<-done
}

// track records a live connection; false once the proxy is closed.
func (p *sockProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.open {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *sockProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}
