package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadDelay is how soon a valid config change must take effect.
const reloadDelay = time.Second

// reloadConfig routes /api/<label> and a rate limited /lim/<label> (2 a
// minute) to backend b, plus extra routes (indented YAML list items).
func reloadConfig(label, extra string) string {
	return fmt.Sprintf(`routes:
  - path_prefix: /api/%[1]s
    backend: b
  - path_prefix: /lim/%[1]s
    backend: b
    rate_limit: {default: {requests: 2, per: 1m}}
%[2]sdefault_response:
  body: "no route"
  status_code: 404
backends:
  - name: b
    match_labels: [app_name=%[1]s]
`, label, extra)
}

// newRoute is the route the reload tests add.
func newRoute(label string) string {
	return fmt.Sprintf("  - path_prefix: /new/%s\n    backend: b\n", label)
}

// writeInPlace truncates and rewrites the file (same inode).
func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeRename writes a temporary file beside path and renames it over path,
// as editors and config management tools do.
func writeRename(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".rgate.yml.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// TestReloadOnFileChange: a valid config written in place or renamed over
// the file takes effect within a second (a new route serves), without
// dropping an in-flight request or resetting the rate limit buckets of an
// unchanged route; /health counts the generation.
func TestReloadOnFileChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path, content string)
	}{
		{"in place", writeInPlace},
		{"temp file and rename", writeRename},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			label := uniq(t)
			c := runContainer(t, "reloaded", map[string]string{"app_name": label})
			g := startGateway(t, reloadConfig(label, ""))
			g.waitBackend(t, "/api/"+label+"/x", c.name, 5*time.Second)
			gen0, lastErr := g.configState(t)
			if lastErr != "" {
				t.Errorf("before any reload: config.last_reload_error %q, want empty", lastErr)
			}
			exhaustLimit(t, g, "/lim/"+label+"/x", 2)
			if r := g.get(t, "/new/"+label+"/x"); r.status != http.StatusNotFound {
				t.Fatalf("GET /new/... before the reload = %d, want 404", r.status)
			}
			inflight := g.startSlow(t, "/api/"+label+"/sleep?d=1500ms")
			eventually(t, 3*time.Second, "the slow request in flight", func() bool {
				return sleeping(t, g, "/api/"+label+"/sleeping") == 1
			})

			tc.write(t, g.configPath(t), reloadConfig(label, newRoute(label)))
			d := g.waitBackend(t, "/new/"+label+"/x", c.name, 5*time.Second)
			t.Logf("new route served %v after the write", d.Round(time.Millisecond))
			if d > reloadDelay {
				t.Errorf("new route served %v after the write, want within %v", d, reloadDelay)
			}
			if r := <-inflight; r.err != nil || r.status != http.StatusOK || string(r.body) != "slept 1.5s" {
				t.Errorf("request in flight during the reload: %d %q %v, want 200 \"slept 1.5s\"", r.status, r.body, r.err)
			}
			if r := g.get(t, "/lim/"+label+"/x"); r.status != http.StatusTooManyRequests {
				t.Errorf("rate limited route after a reload that did not change it = %d, want still 429", r.status)
			}
			eventually(t, 2*time.Second, "config.generation > "+fmt.Sprint(gen0)+" and no reload error", func() bool {
				gen, lastErr := g.configState(t)
				return gen > gen0 && lastErr == ""
			})
			if r := g.get(t, "/api/"+label+"/x"); r.status != http.StatusOK {
				t.Errorf("old route after the reload = %d, want 200", r.status)
			}
		})
	}
}

// TestReloadOnSIGHUP: SIGHUP reloads the file. The file is changed through
// a hard link in another directory, which a watch of the config file's
// directory does not report, so that the signal is what reloads it.
func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "hup", map[string]string{"app_name": label})
	g := startGateway(t, reloadConfig(label, ""))
	g.waitBackend(t, "/api/"+label+"/x", c.name, 5*time.Second)
	gen0, _ := g.configState(t)

	alias := filepath.Join(t.TempDir(), "alias.yml")
	if err := os.Link(g.configPath(t), alias); err != nil {
		t.Fatalf("linking the config: %v", err)
	}
	writeInPlace(t, alias, reloadConfig(label, newRoute(label)))
	g.signal(syscall.SIGHUP)
	d := g.waitBackend(t, "/new/"+label+"/x", c.name, 5*time.Second)
	t.Logf("new route served %v after SIGHUP", d.Round(time.Millisecond))
	if d > reloadDelay {
		t.Errorf("new route served %v after SIGHUP, want within %v", d, reloadDelay)
	}
	gen1, lastErr := g.configState(t)
	if gen1 <= gen0 || lastErr != "" {
		t.Errorf("after SIGHUP: config.generation %d (was %d), last_reload_error %q; want it counted, no error",
			gen1, gen0, lastErr)
	}

	// SIGHUP with the file unchanged is a successful reload too.
	g.signal(syscall.SIGHUP)
	eventually(t, reloadDelay, "config.generation > "+fmt.Sprint(gen1)+" after a second SIGHUP", func() bool {
		gen, _ := g.configState(t)
		return gen > gen1
	})
	if r := g.get(t, "/new/"+label+"/x"); r.status != http.StatusOK {
		t.Errorf("GET after the second SIGHUP = %d, want 200", r.status)
	}
	if g.hasExited() {
		t.Fatalf("rgate exited on SIGHUP")
	}
}

// TestReloadInvalidKeepsServing: an invalid file (two problems, then a YAML
// syntax error) changes nothing: the old routes serve, the new one does
// not, rate limit state is kept, every problem is logged and /health reports
// the error with the generation unchanged. A valid file then applies.
func TestReloadInvalidKeepsServing(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "stable", map[string]string{"app_name": label})
	g := startGateway(t, reloadConfig(label, ""))
	path := g.configPath(t)
	g.waitBackend(t, "/api/"+label+"/x", c.name, 5*time.Second)
	gen0, _ := g.configState(t)
	exhaustLimit(t, g, "/lim/"+label+"/x", 2)

	broken := strings.Replace(reloadConfig(label, newRoute(label)+"  - path_prefix: /nope/"+label+"\n    backend: nope\n"),
		"    backend: b\n", "    backend: b\n    timeout: fast\n", 1)
	for i, bad := range []struct {
		name    string
		content string
		logged  []string // what the log must name
	}{
		{"two problems", broken, []string{"routes[0].timeout", "fast", "nope"}},
		{"yaml syntax error", "routes: [\n  - path_prefix: /new/" + label + "\n", nil},
	} {
		var lastErr string
		writeRename(t, path, bad.content)
		eventually(t, reloadDelay, "config.last_reload_error after "+bad.name, func() bool {
			var gen int64
			gen, lastErr = g.configState(t)
			if gen != gen0 {
				t.Fatalf("%s: config.generation %d, want still %d", bad.name, gen, gen0)
			}
			return lastErr != "" && (i == 0 || !strings.Contains(lastErr, "nope"))
		})
		t.Logf("%s: last_reload_error %q", bad.name, lastErr)
		out := g.output()
		for _, s := range bad.logged {
			if !strings.Contains(out, s) {
				t.Errorf("%s: the log does not name %q", bad.name, s)
			}
		}
		if r := g.get(t, "/api/"+label+"/x"); r.status != http.StatusOK || r.backend() != c.name {
			t.Errorf("%s: old route = %d from %q, want 200 from %s", bad.name, r.status, r.backend(), c.name)
		}
		if r := g.get(t, "/new/"+label+"/x"); r.status != http.StatusNotFound {
			t.Errorf("%s: route of the invalid file = %d, want 404 (not applied)", bad.name, r.status)
		}
		if r := g.get(t, "/lim/"+label+"/x"); r.status != http.StatusTooManyRequests {
			t.Errorf("%s: rate limited route = %d, want still 429", bad.name, r.status)
		}
	}

	writeRename(t, path, reloadConfig(label, newRoute(label)))
	if d := g.waitBackend(t, "/new/"+label+"/x", c.name, 5*time.Second); d > reloadDelay {
		t.Errorf("valid file after invalid ones served %v after the write, want within %v", d, reloadDelay)
	}
	eventually(t, 2*time.Second, "config.generation "+fmt.Sprint(gen0+1)+" with the error cleared", func() bool {
		gen, lastErr := g.configState(t)
		return gen == gen0+1 && lastErr == ""
	})
}

// exhaustLimit sends n allowed requests to path and checks the next is 429.
func exhaustLimit(t *testing.T, g *gw, path string, n int) {
	t.Helper()
	for i := range n + 1 {
		want := http.StatusOK
		if i == n {
			want = http.StatusTooManyRequests
		}
		if r := g.get(t, path); r.status != want {
			t.Fatalf("rate limited GET %d = %d, want %d", i+1, r.status, want)
		}
	}
}

// slowResult is the outcome of a request started by startSlow.
type slowResult struct {
	status int
	body   []byte
	err    error
}

// startSlow sends a GET in the background; the channel gets its outcome.
func (g *gw) startSlow(t *testing.T, path string) <-chan slowResult {
	req := g.request(t, http.MethodGet, path, nil)
	ch := make(chan slowResult, 1)
	go func() {
		r, err := g.tryDo(req)
		ch <- slowResult{r.status, r.body, err}
	}()
	return ch
}

// sleeping reads the testapp's count of sleep requests in flight.
func sleeping(t *testing.T, g *gw, path string) int64 {
	t.Helper()
	r := g.get(t, path)
	var s struct {
		Sleeping int64 `json:"sleeping"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &s) != nil {
		t.Fatalf("GET %s = %d %q, want the testapp's {\"sleeping\": N}", path, r.status, r.body)
	}
	return s.Sleeping
}
