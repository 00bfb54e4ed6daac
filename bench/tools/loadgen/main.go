// Command loadgen is an open-loop, constant-rate HTTP/1.1 load generator.
//
// Requests follow a fixed schedule: request i is due at start + i/rate,
// whatever happened to the requests before it. A dispatcher hands each due
// request to whichever of -conns workers is free (one keep-alive connection
// each); when all of them are busy, due requests queue. Latency is measured
// from the scheduled send time, not from the moment a worker got to send it,
// so a stall of the target shows up in full in the percentiles instead of
// silently delaying (and hiding) the requests behind it: no coordinated
// omission, as in wrk2.
//
// It prints the percentiles (p50, p90, p99, p99.9, max) of the measured
// part (after -warmup), the error counts, the achieved rate, how late the
// dispatcher itself was (its own noise floor) and, with -pid, the CPU time
// the target process used per request. The last line is machine-readable:
//
//	RESULT url=... rate=5000 sent=100000 ok=100000 errors=0 non2xx=0 p50_us=... p90_us=... p99_us=... p999_us=... max_us=...
//
// Standard library only.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rgate/rgate/bench/tools/internal/hclient"
)

func main() {
	rawURL := flag.String("url", "http://127.0.0.1:18280/", "URL to GET (http only)")
	rate := flag.Float64("rate", 5000, "requests per second (the schedule)")
	duration := flag.Duration("duration", 20*time.Second, "measured duration")
	warmup := flag.Duration("warmup", 2*time.Second, "run at the same rate this long first, results discarded")
	conns := flag.Int("conns", 64, "keep-alive connections (= concurrent workers)")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout (counts as an error)")
	pid := flag.Int("pid", 0, "also report this process's CPU time per measured request (e.g. the proxy)")
	label := flag.String("label", "", "name printed in the RESULT line (default: the URL)")
	flag.Parse()
	if *rate <= 0 || *conns <= 0 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -rate, -conns and -duration must be positive")
		os.Exit(2)
	}
	tgt, err := hclient.ParseURL(*rawURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if _, err := hclient.RaiseNoFile(uint64(*conns) + 64); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: warning:", err)
	}
	if *label == "" {
		*label = *rawURL
	}

	req := tgt.Request(tgt.Path)
	warmN := int64(warmup.Seconds() * *rate)
	total := warmN + int64(duration.Seconds()**rate)
	interval := float64(time.Second) / *rate

	// Open every connection before the clock starts, so connection setup
	// is not in the measured latencies (and the target's accept path is
	// warm).
	workers := make([]*worker, *conns)
	for i := range workers {
		workers[i] = &worker{conn: hclient.Conn{Addr: tgt.Addr, Timeout: *timeout}}
		if err := workers[i].conn.Open(); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: connecting to %s: %v\n", tgt.Addr, err)
			os.Exit(1)
		}
	}

	// The queue holds every request index at most once, so the dispatcher
	// never blocks on it (a blocked dispatcher would be coordinated
	// omission).
	queue := make(chan int64, total)
	start := time.Now().Add(20 * time.Millisecond)
	due := func(i int64) time.Time { return start.Add(time.Duration(float64(i) * interval)) }

	var measureStart, measureEnd atomic.Int64 // unix nanos, for the CPU window
	var cpuStart time.Duration
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(req, queue, due, warmN)
		}()
	}

	// Dispatcher: sleep until the next request is due, then release every
	// request that is due by now. Its lateness (wake-up time minus due
	// time) is recorded as its own noise floor.
	lag := make([]time.Duration, 0, total-warmN)
	for i := int64(0); i < total; {
		if i == warmN {
			if *pid > 0 {
				cpuStart, _ = hclient.CPUTime(*pid)
			}
			measureStart.Store(time.Now().UnixNano())
		}
		d := due(i)
		if wait := time.Until(d); wait > 0 {
			time.Sleep(wait)
		}
		now := time.Now()
		for i < total && !due(i).After(now) {
			if i >= warmN {
				lag = append(lag, now.Sub(due(i)))
			}
			queue <- i
			i++
			if i == warmN {
				break // take the CPU reading at the boundary
			}
		}
	}
	close(queue)
	wg.Wait()
	measureEnd.Store(time.Now().UnixNano())
	var cpuUsed time.Duration
	if *pid > 0 {
		if c, err := hclient.CPUTime(*pid); err == nil {
			cpuUsed = c - cpuStart
		}
	}

	// Merge.
	var all []time.Duration
	var ok, errs, non2xx, dials int64
	errKinds := map[string]int64{}
	for _, w := range workers {
		all = append(all, w.lat...)
		ok += w.ok
		errs += w.errs
		non2xx += w.non2xx
		dials += int64(w.conn.Dials)
		for k, v := range w.errKinds {
			errKinds[k] += v
		}
		w.conn.Close()
	}
	slices.Sort(all)
	slices.Sort(lag)
	sent := total - warmN
	wall := time.Duration(measureEnd.Load() - measureStart.Load())

	fmt.Printf("target       %s\n", *rawURL)
	fmt.Printf("schedule     %.0f req/s for %v (+%v warm-up), %d connections\n", *rate, *duration, *warmup, *conns)
	fmt.Printf("requests     %d sent, %d ok (2xx), %d non-2xx, %d errors; %.0f req/s achieved; %d reconnects\n",
		sent, ok, non2xx, errs, float64(ok+non2xx)/wall.Seconds(), dials-int64(*conns))
	for k, v := range errKinds {
		fmt.Printf("  error      %d x %s\n", v, k)
	}
	fmt.Printf("latency      p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (from the scheduled send time)\n",
		us(pct(all, 50)), us(pct(all, 90)), us(pct(all, 99)), us(pct(all, 99.9)), us(pct(all, 100)))
	fmt.Printf("dispatch lag p50 %s  p99 %s  max %s  (the generator's own lateness, included above)\n",
		us(pct(lag, 50)), us(pct(lag, 99)), us(pct(lag, 100)))
	cpuField := ""
	if *pid > 0 && sent > 0 {
		perReq := float64(cpuUsed.Microseconds()) / float64(sent)
		fmt.Printf("target cpu   pid %d: %v over the measured part, %.1f us/request, %.0f%% of one core\n",
			*pid, cpuUsed, perReq, 100*cpuUsed.Seconds()/wall.Seconds())
		cpuField = fmt.Sprintf(" cpu_us_per_req=%.1f", perReq)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("RESULT label=%s rate=%.0f sent=%d ok=%d errors=%d non2xx=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f lag_p99_us=%.1f self_cpu_ms=%d%s\n",
		strings.ReplaceAll(*label, " ", "_"), *rate, sent, ok, errs, non2xx,
		usf(pct(all, 50)), usf(pct(all, 90)), usf(pct(all, 99)), usf(pct(all, 99.9)), usf(pct(all, 100)), usf(pct(lag, 99)),
		self.Milliseconds(), cpuField)
	if errs > 0 || non2xx > 0 {
		os.Exit(3)
	}
}

type worker struct {
	conn     hclient.Conn
	lat      []time.Duration
	ok       int64
	errs     int64
	non2xx   int64
	errKinds map[string]int64
}

func (w *worker) run(req []byte, queue <-chan int64, due func(int64) time.Time, warmN int64) {
	w.errKinds = map[string]int64{}
	for i := range queue {
		status, _, err := w.conn.Do(req)
		done := time.Now()
		if i < warmN {
			continue
		}
		switch {
		case err != nil:
			w.errs++
			w.errKinds[errKind(err)]++
			continue
		case status < 200 || status > 299:
			w.non2xx++
		default:
			w.ok++
		}
		w.lat = append(w.lat, done.Sub(due(i)))
	}
}

func errKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "timeout", "EOF", "broken pipe"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}

// pct returns the nearest-rank percentile p (0-100] of sorted d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := int(float64(len(d))*p/100+0.999999) - 1
	k = max(0, min(k, len(d)-1))
	return d[k]
}

func usf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func us(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fus", float64(d)/1e3)
	}
}
