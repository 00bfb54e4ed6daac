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
	"syscall"
	"time"

	"github.com/rgate/rgate/bench/tools/internal/hclient"
)

// options are the command-line settings.
type options struct {
	rawURL   string         // -url as given
	target   hclient.Target // -url parsed
	rate     float64
	duration time.Duration
	warmup   time.Duration
	conns    int
	timeout  time.Duration
	pid      int
	label    string
}

// main exits 2 on a bad command line, 1 when a connection cannot be
// opened, 3 when requests failed or were answered with a non-2xx status.
func main() {
	o := parseFlags()
	if _, err := hclient.RaiseNoFile(uint64(o.conns) + 64); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: warning:", err)
	}
	warmN := int64(o.warmup.Seconds() * o.rate)
	sch := schedule{
		interval: float64(time.Second) / o.rate,
		warmN:    warmN,
		total:    warmN + int64(o.duration.Seconds()*o.rate),
	}
	workers := connect(o)
	m := run(o, workers, sch)
	t := merge(workers)
	report(o, sch, m, t)
	if t.errs > 0 || t.non2xx > 0 {
		os.Exit(3)
	}
}

// parseFlags reads the command line into options. A rate, connection count
// or duration that is not positive, or a bad -url, ends the program (exit 2).
func parseFlags() options {
	var o options
	flag.StringVar(&o.rawURL, "url", "http://127.0.0.1:18280/", "URL to GET (http only)")
	flag.Float64Var(&o.rate, "rate", 5000, "requests per second (the schedule)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "run at the same rate this long first, results discarded")
	flag.IntVar(&o.conns, "conns", 64, "keep-alive connections (= concurrent workers)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-request timeout (counts as an error)")
	flag.IntVar(&o.pid, "pid", 0, "also report this process's CPU time per measured request (e.g. the proxy)")
	flag.StringVar(&o.label, "label", "", "name printed in the RESULT line (default: the URL)")
	flag.Parse()
	if o.rate <= 0 || o.conns <= 0 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -rate, -conns and -duration must be positive")
		os.Exit(2)
	}
	var err error
	o.target, err = hclient.ParseURL(o.rawURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if o.label == "" {
		o.label = o.rawURL
	}
	return o
}

// schedule is the fixed timetable: request i is due at start + i/rate, and
// the first warmN of the total requests are the warm-up.
type schedule struct {
	start        time.Time
	interval     float64 // nanoseconds from one request to the next
	warmN, total int64
}

// due is when request i is to be sent.
func (s schedule) due(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) * s.interval))
}

// connect opens every connection before the clock starts, so connection
// setup is not in the measured latencies (and the target's accept path is
// warm). A connection that fails ends the program (exit 1).
func connect(o options) []*worker {
	workers := make([]*worker, o.conns)
	for i := range workers {
		workers[i] = &worker{conn: hclient.Conn{Addr: o.target.Addr, Timeout: o.timeout}}
		if err := workers[i].conn.Open(); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: connecting to %s: %v\n", o.target.Addr, err)
			os.Exit(1)
		}
	}
	return workers
}

// measurement is what a run gives besides the workers' own counts.
type measurement struct {
	lag     []time.Duration // the dispatcher's lateness per measured request, sorted
	wall    time.Duration   // the measured part, from the end of the warm-up to the last answer
	cpuUsed time.Duration   // the -pid process's CPU time over the measured part
}

// run has the workers send the requests of sch, its clock starting 20 ms
// from now, and waits for the last answer.
func run(o options, workers []*worker, sch schedule) measurement {
	// The queue holds every request index at most once, so the dispatcher
	// never blocks on it (a blocked dispatcher would be coordinated
	// omission).
	queue := make(chan int64, sch.total)
	sch.start = time.Now().Add(20 * time.Millisecond)
	req := o.target.Request(o.target.Path)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(req, queue, sch.due, sch.warmN)
		}()
	}
	lag, cpuStart, measureStart := dispatch(sch, queue, o.pid)
	close(queue)
	wg.Wait()
	wall := time.Duration(time.Now().UnixNano() - measureStart)
	var cpuUsed time.Duration
	if o.pid > 0 {
		if c, err := hclient.CPUTime(o.pid); err == nil {
			cpuUsed = c - cpuStart
		}
	}
	slices.Sort(lag)
	return measurement{lag: lag, wall: wall, cpuUsed: cpuUsed}
}

// dispatch sleeps until the next request is due, then releases into queue
// every request that is due by now, until all of sch is released. It
// returns its lateness (wake-up time minus due time) per measured request,
// its own noise floor; and, read when the warm-up ends, the CPU time of pid
// (when pid > 0) and the wall clock in unix nanoseconds.
func dispatch(sch schedule, queue chan<- int64, pid int) (lag []time.Duration, cpuStart time.Duration, measureStart int64) {
	lag = make([]time.Duration, 0, sch.total-sch.warmN)
	for i := int64(0); i < sch.total; {
		if i == sch.warmN {
			if pid > 0 {
				cpuStart, _ = hclient.CPUTime(pid)
			}
			measureStart = time.Now().UnixNano()
		}
		d := sch.due(i)
		if wait := time.Until(d); wait > 0 {
			time.Sleep(wait)
		}
		now := time.Now()
		for i < sch.total && !sch.due(i).After(now) {
			if i >= sch.warmN {
				lag = append(lag, now.Sub(sch.due(i)))
			}
			queue <- i
			i++
			if i == sch.warmN {
				break // take the CPU reading at the boundary
			}
		}
	}
	return lag, cpuStart, measureStart
}

// totals are the workers' results added up.
type totals struct {
	all                     []time.Duration // latencies of the measured answers, sorted
	ok, errs, non2xx, dials int64
	errKinds                map[string]int64
}

// merge adds up the workers' results and closes their connections.
func merge(workers []*worker) totals {
	t := totals{errKinds: map[string]int64{}}
	for _, w := range workers {
		t.all = append(t.all, w.lat...)
		t.ok += w.ok
		t.errs += w.errs
		t.non2xx += w.non2xx
		t.dials += int64(w.conn.Dials)
		for k, v := range w.errKinds {
			t.errKinds[k] += v
		}
		w.conn.Close()
	}
	slices.Sort(t.all)
	return t
}

// report prints the figures of the measured part, the RESULT line last.
func report(o options, sch schedule, m measurement, t totals) {
	all, lag := t.all, m.lag
	sent := sch.total - sch.warmN
	fmt.Printf("target       %s\n", o.rawURL)
	fmt.Printf("schedule     %.0f req/s for %v (+%v warm-up), %d connections\n", o.rate, o.duration, o.warmup, o.conns)
	fmt.Printf("requests     %d sent, %d ok (2xx), %d non-2xx, %d errors; %.0f req/s achieved; %d reconnects\n",
		sent, t.ok, t.non2xx, t.errs, float64(t.ok+t.non2xx)/m.wall.Seconds(), t.dials-int64(o.conns))
	for k, v := range t.errKinds {
		fmt.Printf("  error      %d x %s\n", v, k)
	}
	fmt.Printf("latency      p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (from the scheduled send time)\n",
		us(pct(all, 50)), us(pct(all, 90)), us(pct(all, 99)), us(pct(all, 99.9)), us(pct(all, 100)))
	fmt.Printf("dispatch lag p50 %s  p99 %s  max %s  (the generator's own lateness, included above)\n",
		us(pct(lag, 50)), us(pct(lag, 99)), us(pct(lag, 100)))
	cpuField := ""
	if o.pid > 0 && sent > 0 {
		perReq := float64(m.cpuUsed.Microseconds()) / float64(sent)
		fmt.Printf("target cpu   pid %d: %v over the measured part, %.1f us/request, %.0f%% of one core\n",
			o.pid, m.cpuUsed, perReq, 100*m.cpuUsed.Seconds()/m.wall.Seconds())
		cpuField = fmt.Sprintf(" cpu_us_per_req=%.1f", perReq)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("RESULT label=%s rate=%.0f sent=%d ok=%d errors=%d non2xx=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f lag_p99_us=%.1f self_cpu_ms=%d%s\n",
		strings.ReplaceAll(o.label, " ", "_"), o.rate, sent, t.ok, t.errs, t.non2xx,
		usf(pct(all, 50)), usf(pct(all, 90)), usf(pct(all, 99)), usf(pct(all, 99.9)), usf(pct(all, 100)), usf(pct(lag, 99)),
		self.Milliseconds(), cpuField)
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
