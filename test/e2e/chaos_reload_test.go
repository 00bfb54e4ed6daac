package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// chaosReloadConfig has the stable routes /a/<label> and /b/<label> (the
// latter rate limited at limit a second, far above the load), plus
// /c/<label> when third is set.
func chaosReloadConfig(label string, limit int, third bool) string {
	extra := ""
	if third {
		extra = fmt.Sprintf("  - path_prefix: /c/%s\n    backend: b\n", label)
	}
	return fmt.Sprintf(`routes:
  - path_prefix: /a/%[1]s
    backend: b
  - path_prefix: /b/%[1]s
    backend: b
    rate_limit: {default: {requests: %[2]d, per: 1s}}
%[3]sdefault_response:
  body: "no route"
  status_code: 404
backends:
  - name: b
    match_labels: [app_name=%[1]s]
`, label, limit, extra)
}

// TestChaosReloadUnderLoad: promise "reloads under load drop nothing".
// While 8 workers load two stable routes, the config file is rewritten 20
// times, alternating valid changes (a third route added or removed, a rate
// limit that never triggers changed) and invalid files (a YAML syntax error,
// an unknown key, an unknown backend). No request on the stable routes
// fails; config.generation grows by the number of valid rewrites and
// last_reload_error shows each invalid one.
func TestChaosReloadUnderLoad(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "reload", map[string]string{"app_name": label})
	g := startGateway(t, chaosReloadConfig(label, 100000, false))
	g.waitBackend(t, "/a/"+label+"/x", c.name, 5*time.Second)
	g.waitBackend(t, "/b/"+label+"/x", c.name, 5*time.Second)
	path := g.configPath(t)
	gen0, _ := g.configState(t)

	l := startChaosLoad(t, g, 8,
		chaosTarget{http.MethodGet, "/a/" + label + "/x"}, chaosTarget{http.MethodGet, "/b/" + label + "/x"},
		chaosTarget{http.MethodHead, "/a/" + label + "/x"}, chaosTarget{http.MethodOptions, "/b/" + label + "/x"})
	time.Sleep(300 * time.Millisecond)

	invalid := []struct {
		name, text, mentions string
	}{
		{"YAML syntax error", chaosReloadConfig(label, 100000, false) + "routes: [\n  - {path_prefix: /x\n", "yaml"},
		{"unknown key", strings.Replace(chaosReloadConfig(label, 100000, false), "    backend: b\n", "    backend: b\n    timeoutt: 1s\n", 1), "timeoutt"},
		{"unknown backend", strings.Replace(chaosReloadConfig(label, 100000, false), "    backend: b\n", "    backend: nope\n", 1), "nope"},
	}
	const rewrites = 20
	valid, bad := 0, 0
	var reloadTimes []time.Duration
	third := false
	for i := range rewrites {
		gen, lastErr := g.configState(t)
		if i%2 == 0 {
			var text, what string
			if i%4 == 0 {
				third = !third
				text, what = chaosReloadConfig(label, 100000, third), fmt.Sprintf("third route %v", third)
			} else {
				limit := 100000 + i
				text, what = chaosReloadConfig(label, limit, third), fmt.Sprintf("rate limit %d/s", limit)
			}
			l.setPhase("valid")
			writeRename(t, path, text)
			valid++
			d := eventually(t, 5*time.Second, "rewrite "+fmt.Sprint(i+1)+" ("+what+") applied", func() bool {
				n, e := g.configState(t)
				return n == gen+1 && e == ""
			})
			reloadTimes = append(reloadTimes, d)
			if third {
				g.waitStatus(t, "/c/"+label+"/x", http.StatusOK, 2*time.Second)
			} else {
				g.waitStatus(t, "/c/"+label+"/x", http.StatusNotFound, 2*time.Second)
			}
		} else {
			inv := invalid[(i/2)%len(invalid)]
			l.setPhase("invalid")
			writeRename(t, path, inv.text)
			bad++
			eventually(t, 5*time.Second, "rewrite "+fmt.Sprint(i+1)+" ("+inv.name+") reported", func() bool {
				_, e := g.configState(t)
				return e != "" && e != lastErr
			})
			n, e := g.configState(t)
			if n != gen {
				t.Errorf("after an invalid file (%s) config.generation = %d, want %d unchanged", inv.name, n, gen)
			}
			if !strings.Contains(strings.ToLower(e), inv.mentions) {
				t.Errorf("after an invalid file (%s) last_reload_error = %q, want it to mention %q", inv.name, e, inv.mentions)
			}
		}
	}
	l.setPhase("after")
	time.Sleep(300 * time.Millisecond)
	gen, lastErr := g.configState(t)
	t.Logf("%d rewrites: %d valid (generation %d -> %d; applied %v..%v after the write), %d invalid (last error %q)",
		rewrites, valid, gen0, gen, chaosPercentile(reloadTimes, 0).Round(time.Millisecond),
		chaosPercentile(reloadTimes, 100).Round(time.Millisecond), bad, lastErr)
	if gen-gen0 != int64(valid) {
		t.Errorf("config.generation grew by %d over %d valid rewrites, want %d", gen-gen0, valid, valid)
	}
	l.report(t, "reload under load")
}
