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

// options are the command-line settings.
type options struct {
	target     hclient.Target // -url
	n          int
	pid        int
	settle     time.Duration
	src        int
	parallel   int
	verify     int
	metricsURL string
	hold       time.Duration
}

// main exits 2 on a bad command line or when the server cannot be measured
// or its descriptor limit raised, 1 when the server went away, 3 when
// connections failed or did not stay open.
func main() {
	o := parseFlags()
	if lim, err := hclient.RaiseNoFile(uint64(o.n) + 256); err != nil {
		fmt.Fprintf(os.Stderr, "idleconns: %v (soft limit %d)\n", err, lim)
		os.Exit(2)
	}
	printOpenFilesLimit(o.pid)
	before, err := measure(o.pid, o.metricsURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(2)
	}
	before.print("before      ")

	req := o.target.Request(o.target.Path)
	conns, failed := openIdle(o, req)
	opened := int64(o.n) - failed
	time.Sleep(o.settle)
	after, err := measure(o.pid, o.metricsURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns: server gone?", err)
		os.Exit(1)
	}
	delta := after.status["VmRSS"] - before.status["VmRSS"]
	perConn := 0.0
	if opened > 0 {
		perConn = float64(delta*1024) / float64(opened)
	}
	after.print(fmt.Sprintf("after %-6v", o.settle.String()))
	fmt.Printf("cost         VmRSS +%s for %d idle connections = %.0f bytes each\n", kib(delta), opened, perConn)

	alive, checked := checkAlive(o, conns, req, opened)
	if o.hold > 0 {
		time.Sleep(o.hold)
	}
	for _, c := range conns {
		c.Close()
	}
	fmt.Printf("RESULT conns=%d failed=%d rss_before_kib=%d rss_after_kib=%d rss_delta_kib=%d per_conn_bytes=%.0f fds=%d threads=%d verify_alive=%d/%d\n",
		opened, failed, before.status["VmRSS"], after.status["VmRSS"], delta, perConn, after.fds, after.status["Threads"], alive, checked)
	if failed > 0 || alive < checked {
		os.Exit(3)
	}
}

// parseFlags reads the command line into options. A missing -pid or a bad
// -url ends the program (exit 2).
func parseFlags() options {
	var o options
	rawURL := flag.String("url", "http://127.0.0.1:18200/", "URL to GET once on each connection")
	flag.IntVar(&o.n, "n", 10000, "connections to open and keep idle")
	flag.IntVar(&o.pid, "pid", 0, "server process to measure (required)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time before measuring")
	flag.IntVar(&o.src, "src", 1, "spread connections over this many source addresses 127.0.0.1..127.0.0.N")
	flag.IntVar(&o.parallel, "parallel", 100, "connections opened at once")
	flag.IntVar(&o.verify, "verify", 200, "after measuring, send a second request on this many connections")
	flag.StringVar(&o.metricsURL, "metrics", "", "Prometheus URL of the server (e.g. http://127.0.0.1:18200/metrics) for Go heap figures")
	flag.DurationVar(&o.hold, "hold", 0, "keep the connections open this much longer after measuring")
	flag.Parse()
	if o.pid <= 0 {
		fmt.Fprintln(os.Stderr, "idleconns: -pid is required")
		os.Exit(2)
	}
	var err error
	o.target, err = hclient.ParseURL(*rawURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(2)
	}
	return o
}

// printOpenFilesLimit prints the server's "Max open files" line from
// /proc/PID/limits, nothing when that cannot be read.
func printOpenFilesLimit(pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "Max open files") {
			fmt.Printf("server       %s", line)
		}
	}
}

// snapshot is the server's figures at one moment.
type snapshot struct {
	status map[string]int64 // VmRSS and VmHWM in KiB, Threads
	fds    int
	heap   string // the Go heap figures as printed, "" without -metrics
}

// measure reads the server's figures; the error is /proc/PID/status's.
func measure(pid int, metricsURL string) (snapshot, error) {
	st, err := hclient.ProcStatus(pid, "VmRSS", "VmHWM", "Threads")
	if err != nil {
		return snapshot{}, err
	}
	fds, _ := hclient.CountFDs(pid)
	return snapshot{status: st, fds: fds, heap: heap(metricsURL)}, nil
}

// print prints the figures in one line that starts with label.
func (s snapshot) print(label string) {
	fmt.Printf("%s VmRSS %s  VmHWM %s  threads %d  fds %d%s\n",
		label, kib(s.status["VmRSS"]), kib(s.status["VmHWM"]), s.status["Threads"], s.fds, s.heap)
}

// openIdle opens -n connections, -parallel at a time, sends req on each and
// reads the answer in full. It prints how that went and returns all the
// connections (the failed ones closed) and how many failed.
func openIdle(o options, req []byte) (conns []*hclient.Conn, failed int64) {
	srcs := hclient.SourceAddrs(o.src)
	if o.src <= 1 {
		srcs = nil
	}
	conns = make([]*hclient.Conn, o.n)
	var nFailed atomic.Int64
	var firstErr atomic.Value
	t0 := time.Now()
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	for i := range conns {
		c := &hclient.Conn{Addr: o.target.Addr, Timeout: 30 * time.Second}
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
				nFailed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				c.Close()
			}
		}()
	}
	wg.Wait()
	failed = nFailed.Load()
	fmt.Printf("opened       %d of %d connections in %v (one GET each, answer read in full)", int64(o.n)-failed, o.n, time.Since(t0).Round(time.Millisecond))
	if e := firstErr.Load(); e != nil {
		fmt.Printf("; %d failed, first: %v", failed, e)
	}
	fmt.Println()
	return conns, failed
}

// checkAlive sends req again on -verify of the connections, spread evenly
// (none when no connection opened), and prints how many answered on the
// same connection: the server had kept them open.
func checkAlive(o options, conns []*hclient.Conn, req []byte, opened int64) (alive, checked int) {
	if o.verify <= 0 || opened <= 0 {
		return 0, 0
	}
	step := max(1, o.n/o.verify)
	for i := 0; i < o.n && checked < o.verify; i += step {
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
	return alive, checked
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
