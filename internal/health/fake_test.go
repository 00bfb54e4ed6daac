package health

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/rgate/rgate/internal/upstream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Special statuses the fake transport understands.
const (
	refused = 0  // connection refused (also any host never set)
	hang    = -1 // block until the request's context ends
	boom    = -2 // panic in RoundTrip
)

// fakeTransport answers probes without a network, so loops can run inside a
// synctest bubble: each host answers with the status set for it.
type fakeTransport struct {
	mu     sync.Mutex
	status map[string]int
	calls  map[string]int
	paths  map[string]string
	agents map[string]string
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{
		status: make(map[string]int),
		calls:  make(map[string]int),
		paths:  make(map[string]string),
		agents: make(map[string]string),
	}
}

func (f *fakeTransport) set(host string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[host] = status
}

func (f *fakeTransport) callsTo(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[host]
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	host := req.URL.Host
	f.calls[host]++
	f.paths[host] = req.URL.RequestURI()
	f.agents[host] = req.Header.Get("User-Agent")
	st := f.status[host]
	f.mu.Unlock()

	switch st {
	case refused:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	case hang:
		<-req.Context().Done()
		return nil, req.Context().Err()
	case boom:
		panic("boom")
	}
	h := make(http.Header)
	if st >= 300 && st < 400 {
		h.Set("Location", "http://elsewhere.invalid/")
	}
	return &http.Response{
		StatusCode: st,
		Header:     h,
		Body:       io.NopCloser(strings.NewReader("ok")),
		Request:    req,
	}, nil
}

// logBuffer collects a text log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func containerUpstream(reg *upstream.Registry, host string) *upstream.Upstream {
	u := reg.Get(upstream.Key{Scheme: "http", Host: host, ContainerID: "id-" + host, Container: "c-" + host})
	u.SetReady() // past warm-up (warm_test.go covers warming)
	return u
}
