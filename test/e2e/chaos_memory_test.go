package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chaosMemoryConfig has a rate limited route keyed by X-User-ID (a limit
// that never triggers), a plain route, and a cached route with a small
// cache, all to one static backend.
func chaosMemoryConfig(label, url string) string {
	return fmt.Sprintf(`routes:
  - path_prefix: /rl/%[1]s
    backend: b
    rate_limit:
      key: header:X-User-ID
      default: {requests: 100000000, per: 1m}
  - path_prefix: /p/%[1]s
    backend: b
  - path_prefix: /c/%[1]s
    backend: b
    cache: {ttl: 10m, max_bytes: 4MiB}
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: b
    urls: [%[2]s]
`, label, url)
}

// TestChaosBoundedMemory: promise "memory stays bounded". One gateway gets
// floods of distinct rate-limit keys, distinct paths and distinct cache keys
// (up to 100k each, 16 keep-alive workers, each phase capped in time); its
// resident memory grows little, and /stats, /metrics and /requests stay
// small.
func TestChaosBoundedMemory(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	b := startProcess(t, "mem")
	g := startGateway(t, chaosMemoryConfig(label, b.url))
	g.waitBackend(t, "/p/"+label+"/ready", b.name, 5*time.Second)
	pid := g.cmd.Process.Pid

	const workers, perPhase = 16, 100_000
	phaseCap := 16 * time.Second
	if raceEnabled {
		phaseCap = 14 * time.Second
	}
	flood := func(name string, n int, d time.Duration, req func(i int) string) chaosPhase {
		t.Helper()
		p := chaosFlood(t, g, workers, n, d, req)
		p.name = name
		return p
	}
	// Warm-up: every route, few distinct keys, so that pools and buffers
	// exist before the first reading.
	warm := flood("warm-up", 6000, 10*time.Second, func(i int) string {
		switch i % 3 {
		case 0:
			return chaosGet("/rl/"+label+"/x", "X-User-ID: warm"+strconv.Itoa(i%50))
		case 1:
			return chaosGet("/p/"+label+"/w"+strconv.Itoa(i%50), "")
		default:
			return chaosGet("/c/"+label+"/x?w="+strconv.Itoa(i%50), "")
		}
	})
	sizes0 := chaosAdminSizes(t, g)
	rss0 := chaosRSS(t, pid)
	t.Logf("after warm-up (%d requests): RSS %.1f MiB; admin answers %v bytes", warm.sent, chaosMiB(rss0), sizes0)

	phases := []chaosPhase{
		flood("rate-limit keys", perPhase, phaseCap, func(i int) string {
			return chaosGet("/rl/"+label+"/x", "X-User-ID: user-"+strconv.Itoa(i))
		}),
	}
	rss1 := chaosRSS(t, pid)
	phases = append(phases, flood("paths", perPhase, phaseCap, func(i int) string {
		if i%4 == 3 {
			return chaosGet("/unrouted/"+label+"/"+strconv.Itoa(i), "") // the default response
		}
		return chaosGet("/p/"+label+"/item/"+strconv.Itoa(i), "")
	}))
	rss2 := chaosRSS(t, pid)
	phases = append(phases, flood("cache keys", perPhase, phaseCap, func(i int) string {
		return chaosGet("/c/"+label+"/x?k="+strconv.Itoa(i), "")
	}))
	rss3 := chaosRSS(t, pid)
	hwm, _ := peakRSS(pid)

	total := 0
	for i, p := range phases {
		total += p.sent
		rss := []int64{rss1, rss2, rss3}[i]
		prev := []int64{rss0, rss1, rss2}[i]
		t.Logf("phase %-16s %6d requests, each with its own key, in %v (%.0f/s), statuses %v; RSS %.1f -> %.1f MiB (%+.1f)",
			p.name, p.sent, p.took.Round(time.Millisecond), float64(p.sent)/p.took.Seconds(), p.statuses,
			chaosMiB(prev), chaosMiB(rss), chaosMiB(rss-prev))
		if p.sent < perPhase {
			t.Logf("phase %s stopped by its %v time cap at %d of %d keys (machine too slow for the full count)", p.name, phaseCap, p.sent, perPhase)
		}
		for s, n := range p.statuses {
			want := http.StatusOK
			if p.name == "paths" && s == http.StatusNotFound {
				continue // the unrouted quarter
			}
			if s != want {
				t.Errorf("phase %s: %d answers with status %d, want %d", p.name, n, s, want)
			}
		}
		if p.errs > 0 {
			t.Errorf("phase %s: %d transport errors", p.name, p.errs)
		}
	}
	growth := rss3 - rss0
	t.Logf("RSS after warm-up %.1f MiB, after %d distinct keys %.1f MiB: growth %.1f MiB (peak VmHWM %.1f MiB)",
		chaosMiB(rss0), total, chaosMiB(rss3), chaosMiB(growth), chaosMiB(hwm))
	limit := int64(64 << 10) // KiB
	if raceEnabled {
		// The race detector's shadow memory multiplies every live byte.
		limit = 256 << 10
	}
	if growth > limit {
		t.Errorf("gateway RSS grew %.1f MiB over %d distinct keys, want under %.0f MiB", chaosMiB(growth), total, chaosMiB(limit))
	}
	minTotal := 30_000
	if raceEnabled {
		minTotal = 10_000 // a race-built gateway is several times slower
	}
	if total < minTotal {
		t.Errorf("only %d requests in the floods, want at least %d to say anything about memory", total, minTotal)
	}

	sizes := chaosAdminSizes(t, g)
	t.Logf("admin answers after the floods: %v bytes (before %v)", sizes, sizes0)
	for path, n := range sizes {
		if n > 2*sizes0[path]+64<<10 {
			t.Errorf("GET %s grew from %d to %d bytes over the floods: per-key state leaks into it", path, sizes0[path], n)
		}
	}
	s := g.stats(t)
	if len(s.Routes) > 3 || len(s.Backends) > 1 {
		t.Errorf("/stats has %d routes and %d backends after the floods, want at most 3 and 1", len(s.Routes), len(s.Backends))
	}
	if v, ok := chaosCacheBytes(t, g); ok {
		t.Logf("cache bytes after the floods: %d (max_bytes 4MiB)", v)
		if v > 4<<20 {
			t.Errorf("cache holds %d bytes, over its max_bytes of 4MiB", v)
		}
	} else {
		t.Logf("the cache's size is not exposed on /metrics or /health; its bound is seen only through RSS")
	}
}

func chaosMiB(kib int64) float64 { return float64(kib) / 1024 }

// chaosGet is a raw keep-alive GET with extra header lines (each ending
// without CRLF; one line at most here).
func chaosGet(path, header string) string {
	if header != "" {
		header += "\r\n"
	}
	return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + "\r\n"
}

// chaosPhase is the outcome of one flood.
type chaosPhase struct {
	name     string
	sent     int
	errs     int
	statuses map[int]int
	took     time.Duration
}

// chaosFlood sends up to n requests (req(i) for i in 0..n-1) from workers
// keep-alive connections, pipelining a few at a time, and stops after d.
func chaosFlood(t *testing.T, g *gw, workers, n int, d time.Duration, req func(i int) string) chaosPhase {
	t.Helper()
	const batch = 8
	var next atomic.Int64
	var mu sync.Mutex
	p := chaosPhase{statuses: map[int]int{}}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var conn net.Conn
			var br *bufio.Reader
			local := map[int]int{}
			sent, errs := 0, 0
			defer func() {
				if conn != nil {
					conn.Close()
				}
				mu.Lock()
				for s, c := range local {
					p.statuses[s] += c
				}
				p.sent += sent
				p.errs += errs
				mu.Unlock()
			}()
			var buf strings.Builder
			for time.Now().Before(deadline) {
				first := int(next.Add(batch)) - batch
				if first >= n {
					return
				}
				k := min(batch, n-first)
				if conn == nil {
					c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.port), 5*time.Second)
					if err != nil {
						errs++
						return
					}
					conn, br = c, bufio.NewReaderSize(c, 32<<10)
				}
				buf.Reset()
				for i := first; i < first+k; i++ {
					buf.WriteString(req(i))
				}
				_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
				if _, err := io.WriteString(conn, buf.String()); err != nil {
					errs++
					conn.Close()
					conn = nil
					continue
				}
				for range k {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs++
						conn.Close()
						conn = nil
						break
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					sent++
					local[resp.StatusCode]++
					if err != nil || resp.Close {
						conn.Close()
						conn = nil
						break
					}
				}
			}
		})
	}
	wg.Wait()
	p.took = time.Since(start)
	return p
}

// chaosAdminSizes is the size of /stats, /metrics and /requests.
func chaosAdminSizes(t *testing.T, g *gw) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, path := range []string{"/stats", "/metrics", "/requests"} {
		r := g.get(t, path)
		if r.status == http.StatusOK {
			out[path] = len(r.body)
		}
	}
	return out
}

// chaosCacheBytes looks for the cache's size in /metrics (a family with
// "cache" and "bytes" in its name) or /health; ok is false when neither
// exposes it.
func chaosCacheBytes(t *testing.T, g *gw) (int64, bool) {
	t.Helper()
	for line := range strings.Lines(g.chaosMetricsText(t)) {
		if strings.HasPrefix(line, "rgate_cache") && strings.Contains(line, "bytes") && !strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				return int64(v), true
			}
		}
	}
	h := g.adminJSON(t, "/health")
	for _, keys := range [][]string{{"cache", "bytes"}, {"caches", "/c", "bytes"}} {
		if v, ok := jsonAt(h, keys...); ok {
			if f, ok := v.(float64); ok {
				return int64(f), true
			}
		}
	}
	return 0, false
}
