package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gw is one running rgate process.
type gw struct {
	t      *testing.T
	url    string // http://127.0.0.1:PORT
	port   int
	cmd    *exec.Cmd
	out    *lockedBuffer // stdout and stderr together
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, set before exited is closed
	client *http.Client
}

// gwOptions adjusts how startGatewayWith runs the binary.
type gwOptions struct {
	env        []string // added to the test's environment, e.g. DOCKER_HOST=...
	shortFlags bool     // -c FILE -p N instead of --config FILE --port N
}

// startGateway writes config to a file, runs rgate on a free port, and waits
// until GET /stats answers. At cleanup it sends SIGTERM and expects exit 0
// (and no data race report); the output is logged when the test failed.
func startGateway(t *testing.T, config string) *gw {
	t.Helper()
	return startGatewayWith(t, config, gwOptions{})
}

func startGatewayWith(t *testing.T, config string, o gwOptions) *gw {
	t.Helper()
	requireGateway(t)
	path := writeConfig(t, config)
	g := &gw{t: t, port: freePort(t), out: &lockedBuffer{}, exited: make(chan struct{})}
	g.url = "http://127.0.0.1:" + strconv.Itoa(g.port)
	g.client = newClient(t, 10*time.Second)
	args := []string{"--config", path, "--port", strconv.Itoa(g.port)}
	if o.shortFlags {
		args = []string{"-c", path, "-p", strconv.Itoa(g.port)}
	}
	g.cmd = exec.Command(rgateBin, args...)
	g.cmd.Env = append(os.Environ(), o.env...)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("starting rgate: %v", err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(g.cleanup)

	deadline := time.Now().Add(15 * time.Second)
	for {
		if r, err := g.tryDo(g.request(t, http.MethodGet, "/stats", nil)); err == nil && r.status == http.StatusOK {
			return g
		}
		select {
		case <-g.exited:
			t.Fatalf("rgate exited before serving /stats (exit code %d)", g.exitCode())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rgate did not answer GET /stats within 15s")
		}
	}
}

func (g *gw) cleanup() {
	t := g.t
	if !g.hasExited() {
		g.signal(syscall.SIGTERM)
	}
	select {
	case <-g.exited:
		if code := g.exitCode(); code != 0 {
			t.Errorf("rgate exit code = %d, want 0", code)
		}
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
		t.Errorf("rgate did not exit within 20s of SIGTERM")
	}
	if out := g.output(); strings.Contains(out, "WARNING: DATA RACE") {
		t.Errorf("rgate reported a data race")
	}
	if t.Failed() {
		t.Logf("rgate output (port %d):\n%s", g.port, tail(g.output(), 200))
	}
}

// requireGateway fails the test when ./cmd/rgate did not build.
func requireGateway(t *testing.T) {
	t.Helper()
	if rgateBuildErr != nil {
		t.Fatalf("%v", rgateBuildErr)
	}
}

func (g *gw) signal(sig os.Signal) {
	if err := g.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		g.t.Errorf("signalling rgate: %v", err)
	}
}

// waitExit waits up to d for the process to exit and returns its exit code.
func (g *gw) waitExit(d time.Duration) (code int, ok bool) {
	select {
	case <-g.exited:
		return g.exitCode(), true
	case <-time.After(d):
		return 0, false
	}
}

func (g *gw) hasExited() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// exitCode is valid once exited is closed: -1 when killed by a signal.
func (g *gw) exitCode() int {
	var ee *exec.ExitError
	switch {
	case g.err == nil:
		return 0
	case errors.As(g.err, &ee):
		return ee.ExitCode()
	default:
		return -1
	}
}

func (g *gw) output() string { return g.out.String() }

// eventually polls cond every 20ms until it holds, failing the test after
// timeout. It returns how long it waited.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test context done waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func writeConfig(t *testing.T, config string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rgate.yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runRgate runs the binary to completion (bounded) and returns its exit code
// and output.
func runRgate(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	requireGateway(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rgateBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("rgate %s did not exit within %v; output:\n%s%s", strings.Join(args, " "), timeout, &o, &e)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running rgate: %v", err)
	}
	return code, o.String(), e.String()
}

var ports = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// freePort returns a loopback port that was free a moment ago and that this
// process has not handed out before. It picks below the kernel's ephemeral
// range, so that no outgoing connection's source port can take it between
// this check and the listener that uses it.
func freePort(t *testing.T) int {
	t.Helper()
	lo, hi := fixedPortRange()
	for range 500 {
		port := lo + mrand.IntN(hi-lo)
		ports.Lock()
		dup := ports.given[port]
		ports.given[port] = true
		ports.Unlock()
		if dup {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatalf("finding a free port in [%d, %d): none in 500 tries", lo, hi)
	return 0
}

// fixedPortRange is [lo, hi): up to 12000 ports just below the ephemeral
// range, and not below 10000.
func fixedPortRange() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				hi = n
			}
		}
	}
	return max(10000, hi-12000), hi
}

// uniq returns a label value unique to this test run: the sanitized test
// name and a random suffix.
func uniq(t *testing.T) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	s = strings.TrimPrefix(s, "test")
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Trim(s, "-") + "-" + randHex(3)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
