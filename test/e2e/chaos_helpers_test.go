package e2e

// Helpers of the chaos (hardening) tests, issue 6: a steady load generator,
// process measurements (fds, RSS, goroutines) and raw HTTP/1.1 exchanges.

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chaosTarget is one request the load generator sends.
type chaosTarget struct {
	method string
	path   string
}

// chaosLoad sends requests from a few workers until stopped, counting answers
// that are not 2xx and transport errors as failures, per phase (a label the
// test sets while it does something to the system).
type chaosLoad struct {
	g       *gw
	client  *http.Client
	targets []chaosTarget
	stopc   chan struct{}
	wg      sync.WaitGroup
	start   time.Time
	elapsed time.Duration

	total, failed atomic.Int64
	phase         atomic.Pointer[string]

	mu        sync.Mutex
	samples   []string       // the first failures, described
	byPhase   map[string]int // failures per phase
	reqPhase  map[string]int // requests per phase
	byBackend map[string]int // 2xx answers per X-Backend-Name
	lastSeen  map[string]time.Time
	slowest   map[string]time.Duration // longest request per phase
}

// startChaosLoad starts workers that send targets round robin (each worker from
// its own offset) until stop is called.
func startChaosLoad(t *testing.T, g *gw, workers int, targets ...chaosTarget) *chaosLoad {
	t.Helper()
	l := &chaosLoad{
		g: g, client: newClient(t, 15*time.Second), targets: targets, stopc: make(chan struct{}),
		byPhase: map[string]int{}, reqPhase: map[string]int{}, byBackend: map[string]int{}, lastSeen: map[string]time.Time{},
		slowest: map[string]time.Duration{},
	}
	l.setPhase("steady")
	l.start = time.Now()
	for w := range workers {
		l.wg.Go(func() { l.work(w) })
	}
	t.Cleanup(l.stop)
	return l
}

func (l *chaosLoad) setPhase(p string) { l.phase.Store(&p) }

func (l *chaosLoad) work(w int) {
	for i := w; ; i++ {
		select {
		case <-l.stopc:
			return
		default:
		}
		tg := l.targets[i%len(l.targets)]
		phase := *l.phase.Load()
		req, err := http.NewRequest(tg.method, l.g.url+tg.path, nil)
		if err != nil {
			panic(err)
		}
		start := time.Now()
		r, err := doWith(l.client, req)
		took := time.Since(start)
		l.total.Add(1)
		l.mu.Lock()
		l.reqPhase[phase]++
		l.slowest[phase] = max(l.slowest[phase], took)
		switch {
		case err != nil:
			l.fail(phase, fmt.Sprintf("%s %s: %v", tg.method, tg.path, err))
		case r.status < 200 || r.status > 299:
			l.fail(phase, fmt.Sprintf("%s %s: %d from %q: %.200s", tg.method, tg.path, r.status, r.backend(), bytes.TrimSpace(r.body)))
		default:
			l.byBackend[r.backend()]++
			l.lastSeen[r.backend()] = time.Now()
		}
		l.mu.Unlock()
	}
}

// fail records a failure; l.mu is held.
func (l *chaosLoad) fail(phase, what string) {
	l.failed.Add(1)
	l.byPhase[phase]++
	if len(l.samples) < 12 {
		l.samples = append(l.samples, fmt.Sprintf("[%s +%v] %s", phase, time.Since(l.start).Round(time.Millisecond), what))
	}
}

// stop ends the load and waits for the workers (idempotent).
func (l *chaosLoad) stop() {
	select {
	case <-l.stopc:
		return
	default:
	}
	close(l.stopc)
	l.wg.Wait()
	l.elapsed = time.Since(l.start)
	l.client.CloseIdleConnections()
}

// seen is how many 2xx answers backend name gave, and when the last one came.
func (l *chaosLoad) seen(name string) (int, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byBackend[name], l.lastSeen[name]
}

// report logs the figures and fails the test on any failed request.
func (l *chaosLoad) report(t *testing.T, what string) (failed, total int64) {
	t.Helper()
	l.stop()
	failed, total = l.failed.Load(), l.total.Load()
	rps := float64(total) / l.elapsed.Seconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	slowest := map[string]string{}
	for p, d := range l.slowest {
		slowest[p] = d.Round(time.Millisecond).String()
	}
	t.Logf("%s: %d failed of %d requests in %v (%.0f requests/s); per phase requests %v, failures %v, slowest %v; 2xx per backend %v",
		what, failed, total, l.elapsed.Round(time.Millisecond), rps, l.reqPhase, l.byPhase, slowest, l.byBackend)
	if total == 0 {
		t.Errorf("%s: no request was sent", what)
	}
	if failed > 0 {
		t.Errorf("%s: %d of %d requests failed, want 0; first failures:\n  %s", what, failed, total, strings.Join(l.samples, "\n  "))
	}
	return failed, total
}

// chaosFDs is how many file descriptors process pid has open.
func chaosFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatalf("reading /proc/%d/fd: %v", pid, err)
	}
	return len(ents)
}

// chaosRSS is a process's resident set size (VmRSS) in KiB.
func chaosRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("reading /proc/%d/status: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}

// chaosMetricsText GETs /metrics on a connection of its own that the
// gateway closes after the answer, so that the measurement leaves no idle
// client connection (fd, goroutine) behind.
func (g *gw) chaosMetricsText(t *testing.T) string {
	t.Helper()
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	r, err := doWith(c, g.request(t, http.MethodGet, "/metrics", nil))
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %v, status %d", err, r.status)
	}
	return string(r.body)
}

// chaosMetric is the value of an unlabelled series in Prometheus text.
func chaosMetric(t *testing.T, text, name string) float64 {
	t.Helper()
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("GET /metrics has no %s series", name)
	return 0
}

// chaosGoroutines is go_goroutines of the gateway's /metrics.
func (g *gw) chaosGoroutines(t *testing.T) int {
	t.Helper()
	return int(chaosMetric(t, g.chaosMetricsText(t), "go_goroutines"))
}

// chaosRes is a snapshot of the gateway's open fds and goroutines.
type chaosRes struct {
	fds, goroutines int
	links           []string // where each fd points, for diagnosis
}

func (g *gw) chaosResources(t *testing.T) chaosRes {
	t.Helper()
	// Goroutines first: the /metrics connection is closed by then, and the
	// fd count is read after its goroutine is gone too.
	n := g.chaosGoroutines(t)
	time.Sleep(50 * time.Millisecond)
	links := chaosFDLinks(g.cmd.Process.Pid)
	return chaosRes{fds: len(links), goroutines: n, links: links}
}

// chaosSettle polls the gateway's resources until they are back within slack of
// base (or timeout passes) and returns the last reading and how long it took.
func (g *gw) chaosSettle(t *testing.T, base chaosRes, fdSlack, grSlack int, timeout time.Duration) (chaosRes, time.Duration, bool) {
	t.Helper()
	start := time.Now()
	for {
		r := g.chaosResources(t)
		if r.fds <= base.fds+fdSlack && r.goroutines <= base.goroutines+grSlack {
			return r, time.Since(start), true
		}
		if time.Since(start) > timeout {
			return r, time.Since(start), false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chaosBaseline takes the gateway's resources once they are steady: two
// readings in a row that agree.
func (g *gw) chaosBaseline(t *testing.T) chaosRes {
	t.Helper()
	prev := g.chaosResources(t)
	for range 20 {
		time.Sleep(150 * time.Millisecond)
		r := g.chaosResources(t)
		if r.fds == prev.fds && r.goroutines == prev.goroutines {
			return r
		}
		prev = r
	}
	return prev
}

// chaosCheckSettled asserts that the gateway's fds and goroutines came back to
// base (within the slack) and logs the deltas.
func (g *gw) chaosCheckSettled(t *testing.T, what string, base chaosRes) {
	t.Helper()
	const fdSlack, grSlack = 2, 5
	r, took, ok := g.chaosSettle(t, base, fdSlack, grSlack, 5*time.Second)
	if ok && (r.fds > base.fds || r.goroutines > base.goroutines) {
		// Within the slack: give stragglers a little longer to go, so that
		// the delta reported is the settled one.
		r2, took2, exact := g.chaosSettle(t, base, 0, 0, 2*time.Second)
		if exact || (r2.fds <= r.fds && r2.goroutines <= r.goroutines) {
			r = r2
		}
		took += took2
	}
	t.Logf("%s: fds %d -> %d (delta %+d), goroutines %d -> %d (delta %+d), settled after %v",
		what, base.fds, r.fds, r.fds-base.fds, base.goroutines, r.goroutines, r.goroutines-base.goroutines, took.Round(time.Millisecond))
	if r.fds > base.fds {
		t.Logf("%s: fds not in the baseline: %v", what, chaosDescribeSockets(g.cmd.Process.Pid, chaosNewLinks(base.links, r.links)))
	}
	if !ok {
		t.Errorf("%s: gateway fds %d (baseline %d) and goroutines %d (baseline %d) not back within +%d / +%d after 5s",
			what, r.fds, base.fds, r.goroutines, base.goroutines, fdSlack, grSlack)
	}
}

// chaosFDLinks lists where each of a process's open fds points
// ("socket:[123]", "anon_inode:[eventpoll]", a path).
func chaosFDLinks(pid int) []string {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		l, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		out = append(out, l)
	}
	return out
}

// chaosNewLinks is what after has that before has not (as a multiset).
func chaosNewLinks(before, after []string) []string {
	n := map[string]int{}
	for _, l := range before {
		n[l]++
	}
	var out []string
	for _, l := range after {
		if n[l] > 0 {
			n[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

// chaosRaw is what came back on a raw connection.
type chaosRaw struct {
	statuses []int
	bodies   []string
	headers  []http.Header
	closed   bool  // the gateway closed the connection (EOF or reset)
	err      error // the error that ended reading
}

// chaosExchange writes raw to a fresh connection to the gateway and reads
// every answer until the connection ends or wait passes without one.
func (g *gw) chaosExchange(t *testing.T, raw string, wait time.Duration) chaosRaw {
	t.Helper()
	return g.chaosExchangeN(t, raw, wait, 0)
}

// chaosExchangeN is chaosExchange that stops after n answers (n > 0).
func (g *gw) chaosExchangeN(t *testing.T, raw string, wait time.Duration, n int) chaosRaw {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.port), 5*time.Second)
	if err != nil {
		t.Fatalf("dialling the gateway: %v", err)
	}
	defer conn.Close()
	// A write error is fine: the gateway may close before reading it all.
	go func() { _, _ = io.WriteString(conn, raw) }()
	return chaosReadAnswers(conn, bufio.NewReader(conn), wait, n)
}

// chaosReadAnswers reads HTTP/1.1 answers off conn until it ends, wait
// passes without an answer, or (n > 0) n answers came.
func chaosReadAnswers(conn net.Conn, br *bufio.Reader, wait time.Duration, n int) chaosRaw {
	var res chaosRaw
	for {
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			res.err = err
			res.closed = chaosIsClosed(err)
			return res
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res.statuses = append(res.statuses, resp.StatusCode)
		res.bodies = append(res.bodies, string(body))
		res.headers = append(res.headers, resp.Header)
		if err != nil {
			res.err = err
			res.closed = chaosIsClosed(err)
			return res
		}
		if n > 0 && len(res.statuses) == n {
			return res
		}
	}
}

// chaosIsClosed tells a connection the peer ended (EOF, reset) from a timeout.
func chaosIsClosed(err error) bool {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// chaosPercentile is the nearest-rank p-th percentile (0..100) of ds.
func chaosPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.SortFunc(s, cmp.Compare)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// chaosDescribeSockets adds the TCP endpoints and state to "socket:[INODE]"
// links, read from the process's /proc/PID/net/tcp{,6}.
func chaosDescribeSockets(pid int, links []string) []string {
	byInode := map[string]string{}
	states := map[string]string{"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "09": "LAST_ACK"}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[0] == "sl" {
				continue
			}
			st := states[fs[3]]
			if st == "" {
				st = fs[3]
			}
			byInode[fs[9]] = chaosHexAddr(fs[1]) + "->" + chaosHexAddr(fs[2]) + " " + st
		}
	}
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			if d, ok := byInode[strings.TrimSuffix(ino, "]")]; ok {
				out[i] = l + " " + d
			}
		}
	}
	return out
}

// chaosHexAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (IPv4; IPv6 addresses stay in hex).
func chaosHexAddr(h string) string {
	ip, port, ok := strings.Cut(h, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if !ok || err != nil {
		return h
	}
	if len(ip) == 8 {
		v, err := strconv.ParseUint(ip, 16, 32)
		if err == nil {
			return fmt.Sprintf("%d.%d.%d.%d:%d", v&0xff, v>>8&0xff, v>>16&0xff, v>>24, p)
		}
	}
	return ip + ":" + strconv.FormatUint(p, 10)
}
