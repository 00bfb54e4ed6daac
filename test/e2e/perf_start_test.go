package e2e

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// perfStartRuns is how many container starts TestPerfContainerStartToFirstRequest
// times.
const perfStartRuns = 15

// perfStartTarget: container start -> first routed request (event path),
// median.
const perfStartTarget = 250 * time.Millisecond

// TestPerfContainerStartToFirstRequest measures the event path: how long
// after `docker start` a new container gets its first routed request.
// Performance target: median <= 250 ms from `docker start` returning.
//
// A gateway runs with one backend; perfStartRuns times, a created (not yet
// started) labelled testapp container is started with `docker start`, and the
// route is polled every 5 ms until a 200 answered by that container arrives.
// Each run records the time to that answer from the moment `docker start`
// returned and from the moment it was issued, and, polled in parallel, when
// the testapp itself first answered on its own port (so the table separates
// the container's own start-up from rgate's part). Then the container is
// removed and the route must fall back to 503 before the next run.
//
// It only runs with RGATE_PERF=1 (and the usual e2e requirements): it takes
// about 15-30 s and is a measurement, not a behaviour test. Under -race the
// gateway is slower and the figures are not the target's.
func TestPerfContainerStartToFirstRequest(t *testing.T) {
	if os.Getenv("RGATE_PERF") != "1" {
		t.Skip("a performance measurement: set RGATE_PERF=1 to run it")
	}
	label := uniq(t)
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"
	if r := g.get(t, path); r.status != http.StatusServiceUnavailable {
		t.Fatalf("GET %s before any container = %d, want 503", path, r.status)
	}
	client := newClient(t, 2*time.Second)

	var fromReturn, fromIssue, appUp, cmdTook []time.Duration
	for i := range perfStartRuns {
		c := startContainer(t, "start"+strconv.Itoa(i), ctrSpec{labels: map[string]string{"app_name": label}, create: true})

		issued := time.Now()
		docker(t, "start", c.name)
		returned := time.Now()

		var wg sync.WaitGroup
		var routedAt, listeningAt time.Time
		deadline := returned.Add(10 * time.Second)
		wg.Add(2)
		go func() { // the route, through rgate
			defer wg.Done()
			routedAt = pollEvery5ms(deadline, func() bool {
				r, err := doWith(client, g.request(t, http.MethodGet, path, nil))
				return err == nil && r.status == http.StatusOK && r.backend() == c.name
			})
		}()
		go func() { // the testapp itself, directly
			defer wg.Done()
			url := "http://127.0.0.1:" + strconv.Itoa(c.listenPort) + "/ping"
			listeningAt = pollEvery5ms(deadline, func() bool {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
				r, err := doWith(client, req)
				return err == nil && r.status == http.StatusOK && r.backend() == c.name
			})
		}()
		wg.Wait()
		if routedAt.IsZero() {
			t.Fatalf("run %d: container %s got no routed request within 10s of docker start", i+1, c.name)
		}
		fromReturn = append(fromReturn, routedAt.Sub(returned))
		fromIssue = append(fromIssue, routedAt.Sub(issued))
		cmdTook = append(cmdTook, returned.Sub(issued))
		if !listeningAt.IsZero() {
			appUp = append(appUp, listeningAt.Sub(returned))
		}
		t.Logf("run %2d: first routed answer %v after docker start returned (%v after it was issued; the command took %v; the app answered directly after %v)",
			i+1, ms(routedAt.Sub(returned)), ms(routedAt.Sub(issued)), ms(returned.Sub(issued)), ms(listeningAt.Sub(returned)))

		c.remove()
		g.waitStatus(t, path, http.StatusServiceUnavailable, 5*time.Second)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "container start -> first routed request, %d runs (min / median / p90 / max):\n", perfStartRuns)
	fmt.Fprintf(&b, "  from `docker start` returning: %s\n", summary(fromReturn))
	fmt.Fprintf(&b, "  from `docker start` issued:    %s\n", summary(fromIssue))
	fmt.Fprintf(&b, "  `docker start` itself took:    %s\n", summary(cmdTook))
	fmt.Fprintf(&b, "  testapp answering directly:    %s (from docker start returning)\n", summary(appUp))
	t.Log(b.String())
	if med := quantile(fromReturn, 0.5); med > perfStartTarget {
		t.Errorf("median time from docker start to the first routed request = %v, want <= %v", ms(med), perfStartTarget)
	}
}

// pollEvery5ms calls cond every 5 ms until it holds and returns when it
// did (the time its answer arrived), or the zero time after deadline.
func pollEvery5ms(deadline time.Time, cond func() bool) time.Time {
	for {
		if cond() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			return time.Time{}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quantile returns the nearest-rank q-quantile of d (0 < q <= 1).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

func summary(d []time.Duration) string {
	if len(d) == 0 {
		return "no data"
	}
	return fmt.Sprintf("%v / %v / %v / %v", ms(quantile(d, 0)), ms(quantile(d, 0.5)), ms(quantile(d, 0.9)), ms(quantile(d, 1)))
}

func ms(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(100 * time.Microsecond)
}
