// Command soak sends many millions of requests as fast as the target takes
// them, every one different, and samples the target's memory at
// checkpoints, to show whether memory grows with the number of requests
// served (it must not: every map rgate keeps is bounded).
//
// Request k (1-based) goes to one of the -prefixes (round robin; "" entries
// are fine) with a path and a query string no other request has
// (PREFIX/<k in hex>/item?id=<k>&q=<hash>), so caches and anything keyed
// by path fill up and must evict. With -xff every request carries an
// X-Forwarded-For client address: one in ten comes from one of 10 hot
// clients (to draw 429s from a rate limit), the others cycle through -keys
// distinct addresses (to fill rate-limit tables past their max_keys); the
// target must trust the sender (rgate: server.trusted_proxies) for these to
// count. Connections come from -src source addresses 127.0.0.1 ...
// 127.0.0.N as well.
//
// At every checkpoint (-checkpoints, plus every -every requests) the load
// stops, and after -pause the tool reads the target's VmRSS and VmHWM from
// /proc/PID/status and, with -metrics, the Go heap from its Prometheus
// page; then the load resumes. The table at the end compares the first
// checkpoint with the last; the last line is machine-readable:
//
//	RESULT first=1000000 last=10000000 rss_first_kib=... rss_last_kib=... rss_growth_pct=... heap_inuse_first=... heap_inuse_last=... ...
//
// Standard library only.
package main

import (
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/bench/tools/internal/hclient"
)

var metricNames = []string{
	"go_memstats_heap_inuse_bytes",
	"go_memstats_heap_alloc_bytes",
	"go_memstats_next_gc_bytes",
	"go_memstats_heap_objects",
	"go_memstats_sys_bytes",
	"go_goroutines",
	"go_threads",
	"process_open_fds",
}

type sample struct {
	n       int64
	at      time.Duration
	rss     int64 // KiB
	hwm     int64 // KiB
	metrics map[string]float64
	fds     int
}

// options are the command-line settings.
type options struct {
	target      hclient.Target // -url
	prefixes    string
	total       int64
	checkpoints string
	every       int64
	conns       int
	src         int
	xff         bool
	keys        int64
	pid         int
	metricsURL  string
	pause       time.Duration
	timeout     time.Duration
	maxTime     time.Duration
}

// main exits 2 on a bad command line, 1 when the target is gone or the
// first checkpoint and a later sample were not both reached.
func main() {
	o := parseFlags()
	if _, err := hclient.RaiseNoFile(uint64(o.conns) + 256); err != nil {
		fmt.Fprintln(os.Stderr, "soak: warning:", err)
	}
	stops := samplePoints(o.total, o.checkpoints, o.every)
	workers := newWorkers(o)
	sm := sampler{pid: o.pid, metricsURL: o.metricsURL, pause: o.pause, start: time.Now()}
	samples, done, stopEarly := run(workers, stops, o.maxTime, &sm)
	st := collect(workers)
	printTotals(done, time.Since(sm.start), st, stopEarly, o.maxTime)
	if !compare(samples, o.checkpoints, st.errs) {
		os.Exit(1)
	}
}

// parseFlags reads the command line into options. A missing -pid or a bad
// -url ends the program (exit 2).
func parseFlags() options {
	var o options
	base := flag.String("url", "http://127.0.0.1:18300", "target base URL (no path)")
	flag.StringVar(&o.prefixes, "prefixes", "/c,/p,/c,/p,/none", "comma-separated path prefixes, used round robin")
	flag.Int64Var(&o.total, "total", 10_000_000, "requests in all")
	flag.StringVar(&o.checkpoints, "checkpoints", "1000000,10000000", "request counts at which to sample memory")
	flag.Int64Var(&o.every, "every", 1_000_000, "also sample every this many requests (0: only -checkpoints)")
	flag.IntVar(&o.conns, "conns", 32, "keep-alive connections (= concurrent workers)")
	flag.IntVar(&o.src, "src", 16, "source addresses 127.0.0.1..127.0.0.N for the connections")
	flag.BoolVar(&o.xff, "xff", true, "send a distinct X-Forwarded-For per request (see the package doc)")
	flag.Int64Var(&o.keys, "keys", 500_000, "distinct X-Forwarded-For client addresses to cycle through")
	flag.IntVar(&o.pid, "pid", 0, "target process to measure (required)")
	flag.StringVar(&o.metricsURL, "metrics", "", "target's Prometheus URL for Go heap figures")
	flag.DurationVar(&o.pause, "pause", 3*time.Second, "quiet time before each sample")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.DurationVar(&o.maxTime, "max-time", 0, "stop early (and report what was reached) after this long; 0: no limit")
	flag.Parse()
	if o.pid <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -pid is required")
		os.Exit(2)
	}
	var err error
	o.target, err = hclient.ParseURL(strings.TrimSuffix(*base, "/") + "/")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	return o
}

// parseCounts returns the numbers in the comma-separated list s, skipping
// what does not parse.
func parseCounts(s string) []int64 {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// samplePoints returns the request counts to sample at, in order: the
// checkpoints up to total, every every requests (0: none) and total itself.
func samplePoints(total int64, checkpoints string, every int64) []int64 {
	points := map[int64]bool{total: true}
	for _, v := range parseCounts(checkpoints) {
		if v > 0 && v <= total {
			points[v] = true
		}
	}
	if every > 0 {
		for v := every; v <= total; v += every {
			points[v] = true
		}
	}
	return slices.Sorted(maps.Keys(points))
}

// newWorkers returns one worker (and connection, not yet dialed) per
// -conns, their source addresses taken round robin from -src.
func newWorkers(o options) []*worker {
	pfx := strings.Split(o.prefixes, ",")
	srcs := hclient.SourceAddrs(o.src)
	workers := make([]*worker, o.conns)
	for i := range workers {
		w := &worker{conn: hclient.Conn{Addr: o.target.Addr, Timeout: o.timeout}, host: o.target.Host, pfx: pfx, xff: o.xff, keys: o.keys}
		if len(srcs) > 0 {
			w.conn.Local = srcs[i%len(srcs)]
		}
		workers[i] = w
	}
	return workers
}

// sampler reads the target's memory figures.
type sampler struct {
	pid        int
	metricsURL string        // "": no Go heap figures
	pause      time.Duration // quiet time before each reading
	start      time.Time     // the soak's start, for sample.at
}

// take waits out the pause, then reads the target's figures as the sample
// after n requests. A target gone ends the program (exit 1).
func (sm *sampler) take(n int64) sample {
	time.Sleep(sm.pause)
	s := sample{n: n, at: time.Since(sm.start)}
	st, err := hclient.ProcStatus(sm.pid, "VmRSS", "VmHWM")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: target gone?", err)
		os.Exit(1)
	}
	s.rss, s.hwm = st["VmRSS"], st["VmHWM"]
	s.fds, _ = hclient.CountFDs(sm.pid)
	if sm.metricsURL != "" {
		if m, err := hclient.Metrics(sm.metricsURL, metricNames...); err == nil {
			s.metrics = m
		} else {
			fmt.Fprintln(os.Stderr, "soak: metrics:", err)
		}
	}
	return s
}

// run samples once before any request, then sends the requests up to each
// stop in turn and samples (and prints a table row) at each, until the last
// stop or until maxTime (0: no limit) has passed. It returns the samples,
// the requests sent and whether maxTime cut the run short.
func run(workers []*worker, stops []int64, maxTime time.Duration, sm *sampler) (samples []sample, done int64, stopEarly bool) {
	samples = []sample{sm.take(0)}
	printSample(samples[0], nil)

	var next atomic.Int64 // last request index handed out
	var quit atomic.Bool
	if maxTime > 0 {
		time.AfterFunc(maxTime, func() { quit.Store(true) })
	}
	for _, stop := range stops {
		segStart := time.Now()
		stopProgress := progress(sm.start, &next)
		sendUpTo(workers, stop, &next, &quit)
		stopProgress()
		reached := min(next.Load(), stop)
		segRate := float64(reached-done) / time.Since(segStart).Seconds()
		done = reached
		s := sm.take(reached)
		samples = append(samples, s)
		printSample(s, &segRate)
		if quit.Load() {
			return samples, done, true
		}
	}
	return samples, done, false
}

// progress prints a progress line to stderr every 10 s until the function
// it returns is called.
func progress(start time.Time, next *atomic.Int64) (stop func()) {
	prog := time.NewTicker(10 * time.Second)
	progDone := make(chan struct{})
	go func() {
		for {
			select {
			case <-progDone:
				return
			case <-prog.C:
				n := next.Load()
				el := time.Since(start)
				fmt.Fprintf(os.Stderr, "soak: %d requests, %v elapsed, %.0f req/s overall\n", n, el.Round(time.Second), float64(n)/el.Seconds())
			}
		}
	}()
	return func() {
		prog.Stop()
		close(progDone)
	}
}

// sendUpTo has the workers send requests, each taking its number from next,
// until number stop has been handed out or quit is set, and waits for them.
func sendUpTo(workers []*worker, stop int64, next *atomic.Int64, quit *atomic.Bool) {
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !quit.Load() {
				k := next.Add(1)
				if k > stop {
					next.Add(-1) // not sent
					return
				}
				w.send(k)
			}
		}()
	}
	wg.Wait()
}

// collect adds up the workers' counts and closes their connections.
func collect(workers []*worker) counts {
	var st counts
	for _, w := range workers {
		st.add(w.c)
		w.conn.Close()
	}
	return st
}

// printTotals prints the request counts of the whole run, which took el.
func printTotals(done int64, el time.Duration, st counts, stopEarly bool, maxTime time.Duration) {
	fmt.Printf("\nsent %d requests in %v (%.0f req/s incl. pauses): %d 2xx, %d 429, %d 404, %d other status, %d errors",
		done, el.Round(time.Second), float64(done)/el.Seconds(), st.ok, st.limited, st.notFound, st.other, st.errs)
	if st.firstErr != "" {
		fmt.Printf(" (first: %s)", st.firstErr)
	}
	fmt.Println()
	if stopEarly {
		fmt.Printf("stopped early by -max-time %v\n", maxTime)
	}
}

// compare prints the growth from the sample at the first of checkpoints to
// the last sample, then the RESULT line. When those two samples were not
// both taken it prints "RESULT incomplete" instead and returns false.
func compare(samples []sample, checkpoints string, errs int64) bool {
	var first *sample
	cps := parseCounts(checkpoints)
	slices.Sort(cps)
	for i := range samples {
		if len(cps) > 0 && samples[i].n == cps[0] {
			first = &samples[i]
		}
	}
	last := &samples[len(samples)-1]
	if first == nil || first == last {
		fmt.Println("RESULT incomplete: the first checkpoint and a later sample were not both reached")
		return false
	}
	fm, lm := first.metrics, last.metrics
	fmt.Printf("growth %d -> %d requests: VmRSS %.1f -> %.1f MiB (%s); heap_inuse %.1f -> %.1f MiB (%s); next_gc %.1f -> %.1f MiB (%s); goroutines %.0f -> %.0f\n",
		first.n, last.n, mib(first.rss*1024), mib(last.rss*1024), grow(float64(first.rss), float64(last.rss)),
		mib(int64(fm["go_memstats_heap_inuse_bytes"])), mib(int64(lm["go_memstats_heap_inuse_bytes"])),
		grow(fm["go_memstats_heap_inuse_bytes"], lm["go_memstats_heap_inuse_bytes"]),
		mib(int64(fm["go_memstats_next_gc_bytes"])), mib(int64(lm["go_memstats_next_gc_bytes"])),
		grow(fm["go_memstats_next_gc_bytes"], lm["go_memstats_next_gc_bytes"]),
		fm["go_goroutines"], lm["go_goroutines"])
	fmt.Printf("RESULT first=%d last=%d rss_first_kib=%d rss_last_kib=%d rss_growth_pct=%.1f heap_inuse_first=%.0f heap_inuse_last=%.0f next_gc_first=%.0f next_gc_last=%.0f goroutines_first=%.0f goroutines_last=%.0f errors=%d\n",
		first.n, last.n, first.rss, last.rss, 100*float64(last.rss-first.rss)/float64(first.rss),
		fm["go_memstats_heap_inuse_bytes"], lm["go_memstats_heap_inuse_bytes"],
		fm["go_memstats_next_gc_bytes"], lm["go_memstats_next_gc_bytes"],
		fm["go_goroutines"], lm["go_goroutines"], errs)
	return true
}

// grow is the change from a to b in percent ("+1.5%"), "n/a" when a is 0.
func grow(a, b float64) string {
	if a == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*(b-a)/a)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

var headerPrinted bool

func printSample(s sample, rate *float64) {
	if !headerPrinted {
		fmt.Printf("%12s %9s %10s %10s %11s %11s %10s %11s %6s %7s %5s %9s\n",
			"requests", "elapsed", "VmRSS MiB", "VmHWM MiB", "heap_inuse", "heap_alloc", "next_gc", "heap_objs", "gorout", "threads", "fds", "req/s")
		headerPrinted = true
	}
	m := s.metrics
	r := "-"
	if rate != nil {
		r = fmt.Sprintf("%.0f", *rate)
	}
	fmt.Printf("%12d %9v %10.1f %10.1f %11.1f %11.1f %10.1f %11.0f %6.0f %7.0f %5d %9s\n",
		s.n, s.at.Round(time.Second), mib(s.rss*1024), mib(s.hwm*1024),
		mib(int64(m["go_memstats_heap_inuse_bytes"])), mib(int64(m["go_memstats_heap_alloc_bytes"])),
		mib(int64(m["go_memstats_next_gc_bytes"])), m["go_memstats_heap_objects"],
		m["go_goroutines"], m["go_threads"], s.fds, r)
}

type counts struct {
	ok, limited, notFound, other, errs int64
	firstErr                           string
}

func (c *counts) add(o counts) {
	c.ok += o.ok
	c.limited += o.limited
	c.notFound += o.notFound
	c.other += o.other
	c.errs += o.errs
	if c.firstErr == "" {
		c.firstErr = o.firstErr
	}
}

type worker struct {
	conn hclient.Conn
	host string
	pfx  []string
	xff  bool
	keys int64
	buf  []byte
	c    counts
}

// send builds request k and sends it.
func (w *worker) send(k int64) {
	b := w.buf[:0]
	b = append(b, "GET "...)
	b = append(b, w.pfx[k%int64(len(w.pfx))]...)
	b = append(b, '/')
	b = strconv.AppendInt(b, k, 16)
	b = append(b, "/item?id="...)
	b = strconv.AppendInt(b, k, 10)
	b = append(b, "&q="...)
	h := fnv.New64a()
	var kb [8]byte
	for i := range kb {
		kb[i] = byte(k >> (8 * i))
	}
	h.Write(kb[:])
	b = strconv.AppendUint(b, h.Sum64(), 36)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, w.host...)
	b = append(b, "\r\nUser-Agent: rgate-soak\r\n"...)
	if w.xff {
		var ip int64
		if k%10 == 0 {
			ip = (k / 10) % 10 // hot clients 10.0.0.0-9
		} else {
			ip = 1000 + k%w.keys
		}
		b = append(b, "X-Forwarded-For: 10."...)
		b = strconv.AppendInt(b, (ip>>16)&255, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, (ip>>8)&255, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, ip&255, 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.buf = b
	status, _, err := w.conn.Do(b)
	switch {
	case err != nil:
		w.c.errs++
		if w.c.firstErr == "" {
			w.c.firstErr = err.Error()
		}
	case status >= 200 && status <= 299:
		w.c.ok++
	case status == 429:
		w.c.limited++
	case status == 404:
		w.c.notFound++
	default:
		w.c.other++
	}
}
