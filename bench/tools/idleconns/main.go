// Command idleconns measures what idle keep-alive client connections cost a
// server: it opens -n connections to -url, sends one GET on each and reads
// the whole answer (so the server has set the connection up completely and
// parked it as idle), keeps them all open and idle for -settle, then prints
// the server process's memory (VmRSS from /proc/PID/status), thread count
// and open file descriptors, before and after. With -metrics it also reads
// the server's Go heap from its Prometheus page. Finally it checks that a
// sample of the connections still answers a second request (the server did
// not close them) and closes everything.
//
// It raises its own RLIMIT_NOFILE to fit -n; the server needs a limit above
// -n too (a Go server gets its soft limit raised to the hard limit by the Go
// runtime at start). When one source address runs out of ephemeral ports,
// -src N spreads the connections over 127.0.0.1 ... 127.0.0.N.
//
// The last line is machine-readable:
//
//	RESULT conns=10000 rss_before_kib=... rss_after_kib=... rss_delta_kib=... per_conn_bytes=... fds=... threads=...
//
// Standard library only.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/bench/tools/internal/hclient"
)

func main() {
	rawURL := flag.String("url", "http://127.0.0.1:18200/", "URL to GET once on each connection")
	n := flag.Int("n", 10000, "connections to open and keep idle")
	pid := flag.Int("pid", 0, "server process to measure (required)")
	settle := flag.Duration("settle", 5*time.Second, "idle time before measuring")
	src := flag.Int("src", 1, "spread connections over this many source addresses 127.0.0.1..127.0.0.N")
	parallel := flag.Int("parallel", 100, "connections opened at once")
	verify := flag.Int("verify", 200, "after measuring, send a second request on this many connections")
	metricsURL := flag.String("metrics", "", "Prometheus URL of the server (e.g. http://127.0.0.1:18200/metrics) for Go heap figures")
	hold := flag.Duration("hold", 0, "keep the connections open this much longer after measuring")
	flag.Parse()
	if *pid <= 0 {
		fmt.Fprintln(os.Stderr, "idleconns: -pid is required")
		os.Exit(2)
	}
	tgt, err := hclient.ParseURL(*rawURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(2)
	}
	if lim, err := hclient.RaiseNoFile(uint64(*n) + 256); err != nil {
		fmt.Fprintf(os.Stderr, "idleconns: %v (soft limit %d)\n", err, lim)
		os.Exit(2)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", *pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, "Max open files") {
				fmt.Printf("server       %s", line)
			}
		}
	}

	fields := []string{"VmRSS", "VmHWM", "Threads"}
	before, err := hclient.ProcStatus(*pid, fields...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(2)
	}
	fdBefore, _ := hclient.CountFDs(*pid)
	heapBefore := heap(*metricsURL)
	fmt.Printf("before       VmRSS %s  VmHWM %s  threads %d  fds %d%s\n",
		kib(before["VmRSS"]), kib(before["VmHWM"]), before["Threads"], fdBefore, heapBefore)

	srcs := hclient.SourceAddrs(*src)
	if *src <= 1 {
		srcs = nil
	}
	req := tgt.Request(tgt.Path)
	conns := make([]*hclient.Conn, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	t0 := time.Now()
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i := range conns {
		c := &hclient.Conn{Addr: tgt.Addr, Timeout: 30 * time.Second}
		if srcs != nil {
			c.Local = srcs[i%len(srcs)]
		}
		conns[i] = c
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, _, err := c.Do(req)
			if err == nil && (status < 200 || status > 299) {
				err = fmt.Errorf("status %d", status)
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				c.Close()
			}
		}()
	}
	wg.Wait()
	opened := int64(*n) - failed.Load()
	fmt.Printf("opened       %d of %d connections in %v (one GET each, answer read in full)", opened, *n, time.Since(t0).Round(time.Millisecond))
	if e := firstErr.Load(); e != nil {
		fmt.Printf("; %d failed, first: %v", failed.Load(), e)
	}
	fmt.Println()

	time.Sleep(*settle)
	after, err := hclient.ProcStatus(*pid, fields...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns: server gone?", err)
		os.Exit(1)
	}
	fdAfter, _ := hclient.CountFDs(*pid)
	heapAfter := heap(*metricsURL)
	delta := after["VmRSS"] - before["VmRSS"]
	perConn := 0.0
	if opened > 0 {
		perConn = float64(delta*1024) / float64(opened)
	}
	fmt.Printf("after %-6v VmRSS %s  VmHWM %s  threads %d  fds %d%s\n", settle.String(),
		kib(after["VmRSS"]), kib(after["VmHWM"]), after["Threads"], fdAfter, heapAfter)
	fmt.Printf("cost         VmRSS +%s for %d idle connections = %.0f bytes each\n", kib(delta), opened, perConn)

	// Are they still open? A second request on a sample.
	alive, checked := 0, 0
	if *verify > 0 && opened > 0 {
		step := max(1, *n / *verify)
		for i := 0; i < *n && checked < *verify; i += step {
			c := conns[i]
			if !c.Connected() { // failed earlier
				continue
			}
			checked++
			status, _, err := c.Do(req)
			if err == nil && status >= 200 && status <= 299 && c.Dials == 1 {
				alive++
			}
		}
		fmt.Printf("verify       %d of %d sampled connections still answered on the same connection\n", alive, checked)
	}
	if *hold > 0 {
		time.Sleep(*hold)
	}
	for _, c := range conns {
		c.Close()
	}
	fmt.Printf("RESULT conns=%d failed=%d rss_before_kib=%d rss_after_kib=%d rss_delta_kib=%d per_conn_bytes=%.0f fds=%d threads=%d verify_alive=%d/%d\n",
		opened, failed.Load(), before["VmRSS"], after["VmRSS"], delta, perConn, fdAfter, after["Threads"], alive, checked)
	if failed.Load() > 0 || alive < checked {
		os.Exit(3)
	}
}

func heap(url string) string {
	if url == "" {
		return ""
	}
	m, err := hclient.Metrics(url, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines",
		"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes")
	if err != nil {
		return "  (metrics: " + err.Error() + ")"
	}
	// heap_idle - heap_released: free heap the Go runtime still holds
	// (counted in RSS) and has not yet given back to the OS.
	return fmt.Sprintf("  heap_inuse %s  stack_inuse %s  heap free not yet released %s  goroutines %.0f",
		kib(int64(m["go_memstats_heap_inuse_bytes"])/1024), kib(int64(m["go_memstats_stack_inuse_bytes"])/1024),
		kib(int64(m["go_memstats_heap_idle_bytes"]-m["go_memstats_heap_released_bytes"])/1024), m["go_goroutines"])
}

func kib(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
