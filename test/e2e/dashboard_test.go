package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashRow is one container row of the dashboard's backends section.
type dashRow struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Text    string `json:"text"`
	Visible bool   `json:"visible"`
}

// dashRowsJS lists the container rows the page shows, with their state.
const dashRowsJS = `[...document.querySelectorAll('#backends tr[data-name]')].map((r) => ({
	name: r.dataset.name, state: r.dataset.state, text: r.innerText, visible: r.getClientRects().length > 0}))`

// TestDashboard opens /dashboard in headless chromium against a gateway with
// real containers: the page loads without errors, lists the route and every
// container (the excluded ones with their reason), its request chart moves
// under load, and a stopped container stops showing as serving within 2 s.
// Screenshots go to test/e2e/artifacts/.
func TestDashboard(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	label := uniq(t)
	a := runContainer(t, "a", map[string]string{"app_name": label})
	b := runContainer(t, "b", map[string]string{"app_name": label})
	off := runContainer(t, "off", map[string]string{"app_name": label, "rgate.enable": "false"})
	badPort := runContainer(t, "badport", map[string]string{"app_name": label, "rgate.port": "abc"})
	g := startGateway(t, policyConfig(label, "", healthCheckConfig+
		"    circuit_breaker: {failures: 100000, min_requests: 100000}\n"))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, a.name, 5*time.Second)
	g.waitBackend(t, path, b.name, 5*time.Second)

	br := startChromium(t, 1400, 1000)
	br.do("opening /dashboard", 20*time.Second, chromedp.Navigate(g.url+"/dashboard"))
	pageWait(t, br, 10*time.Second, "the page to render twice", `+document.body.dataset.polls >= 2`)
	pageWait(t, br, 5*time.Second, "route /api/"+label+" listed",
		`!!document.querySelector('#routes tr[data-key=`+strconv.Quote("/api/"+label)+`]')`)
	pageWait(t, br, 5*time.Second, "both containers healthy", fmt.Sprintf(
		`document.querySelectorAll('#backends tr[data-state="serving"] td.ok-text').length === 2 && %s`,
		`document.querySelectorAll('#backends tr[data-state="excluded"]').length === 2`))
	checkDashRows(t, br, map[string]dashWant{
		a.name:       {"serving", "serving"},
		b.name:       {"serving", "serving"},
		off.name:     {"excluded", "rgate.enable=false"},
		badPort.name: {"excluded", `rgate.port="abc"`},
	})
	idle := br.screenshot("dashboard-idle.png")

	// RGATE_DASHBOARD_DOCS=1 makes the screenshots of docs/.
	docs := os.Getenv("RGATE_DASHBOARD_DOCS") == "1"
	loaded := checkDashLoad(t, g, br, label, docs)
	checkDashExplain(t, g, br, path, a.name)

	a.stop()
	stopped := time.Now()
	pageWait(t, br, 2*time.Second, a.name+" no longer serving on the page", `![...document.querySelectorAll(
		'#backends tr[data-state="serving"]')].some((r) => r.dataset.name === `+strconv.Quote(a.name)+`)`)
	t.Logf("stopped container left the page's serving rows %v after docker stop returned",
		time.Since(stopped).Round(10*time.Millisecond))
	br.checkNoProblems()
	if docs && !t.Failed() {
		copyArtifact(t, idle, "docs/dashboard-idle.png")
		copyArtifact(t, loaded, "docs/dashboard-load.png")
	}
}

// TestDashboardScale: against 50 routes and 500 upstreams (static URLs, so
// that no container is needed), the page lists every route, starts with
// the 50 backends collapsed, shows all 500 rows when expanded, keeps the
// layout within the window, and once rendered updates in place: a poll adds
// no node to the tables.
func TestDashboardScale(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	g := startGateway(t, dashScaleConfig(t, 50, 10))
	br := startChromium(t, 1400, 1000)
	br.do("opening /dashboard", 20*time.Second, chromedp.Navigate(g.url+"/dashboard"))
	pageWait(t, br, 10*time.Second, "50 routes and 50 collapsed backends",
		`document.querySelectorAll('#routes tbody tr').length === 50 &&
		document.querySelectorAll('#backends details').length === 50 &&
		document.querySelectorAll('#backends details[open]').length === 0`)
	pageEval[bool](br, `document.getElementById('expand-all').click(), true`)
	pageWait(t, br, 5*time.Second, "500 upstream rows", `document.querySelectorAll('#backends tr[data-state]').length === 500`)
	// svc00's URLs refuse connections: some get ejected (for 10 s, so the
	// requests go out once the page is up, not before a slow start).
	for range 20 {
		g.get(t, "/svc00/x")
	}
	pageWait(t, br, 5*time.Second, "an ejected upstream", `!!document.querySelector('#backends tr[data-state="ejected"]')`)
	// Let the page settle: opening 500 rows makes it scroll, which narrows
	// the charts, which redraw their axes once.
	polls := pageEval[float64](br, `+document.body.dataset.polls`)
	pageWait(t, br, 5*time.Second, "two more polls", fmt.Sprintf(`+document.body.dataset.polls >= %v`, polls+2))

	// Count the nodes added to the tables over three polls. The charts are
	// left out: the rate of the newest, partial interval (the requests
	// above) falls as the interval ages, and the y axis follows it.
	polls = pageEval[float64](br, `window.__added = 0; for (const id of ['routes', 'backends']) {
		new MutationObserver((ms) => { for (const m of ms) window.__added += m.addedNodes.length; })
			.observe(document.getElementById(id), {childList: true, subtree: true}); }
		+document.body.dataset.polls`)
	pageWait(t, br, 5*time.Second, "three more polls", fmt.Sprintf(`+document.body.dataset.polls >= %v`, polls+3))
	added := pageEval[float64](br, `window.__added`)
	renderMs := pageEval[string](br, `document.body.dataset.renderMs`)
	t.Logf("50 routes, 500 upstream rows open: a poll renders in %s ms; nodes added over 3 polls: %v", renderMs, added)
	if added != 0 {
		t.Errorf("%v nodes were added to the page over 3 polls of an unchanged gateway, want 0 (updates in place)", added)
	}
	if !pageEval[bool](br, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Errorf("the page is wider than the window: %v > %v", pageEval[float64](br, `document.documentElement.scrollWidth`),
			pageEval[float64](br, `window.innerWidth`))
	}
	if h := pageEval[float64](br, `document.getElementById('routes').parentNode.getBoundingClientRect().height`); h > 460 {
		t.Errorf("the routes table is %v px high, want it scrolling within ~440 px", h)
	}
	checkDashSortFilter(t, br)

	pageEval[bool](br, `document.getElementById('collapse-all').click(),
		document.querySelector('#backends details').open = true, true`)
	pageWait(t, br, 5*time.Second, "the page to shrink back", `document.documentElement.scrollHeight < 4000`)
	br.screenshot("dashboard-scale.png")
	br.checkNoProblems()
}

// checkDashSortFilter sorts the routes by path prefix, descending, and
// filters the routes and the backends by name.
func checkDashSortFilter(t *testing.T, br *chromium) {
	t.Helper()
	pageEval[bool](br, `document.querySelector('#routes th[data-sort="prefix"]').click(),
		document.querySelector('#routes th[data-sort="prefix"]').click(), true`)
	if first := pageEval[string](br, `document.querySelector('#routes tbody tr').dataset.key`); first != "/svc49" {
		t.Errorf("routes sorted by prefix, descending: first row %q, want /svc49", first)
	}
	visible := func(sel string) float64 {
		return pageEval[float64](br, `[...document.querySelectorAll('`+sel+`')].filter((e) => !e.hidden).length`)
	}
	setFilters := func(routes, backends string) {
		pageEval[bool](br, fmt.Sprintf(`(() => {
			for (const [id, v] of [['routes-filter', %q], ['backends-filter', %q]]) {
				const e = document.getElementById(id);
				e.value = v;
				e.dispatchEvent(new Event('input'));
			}
			return true; })()`, routes, backends))
	}
	setFilters("svc07", "svc03")
	if r, b := visible("#routes tbody tr"), visible("#backends details"); r != 1 || b != 1 {
		t.Errorf("filtered by name: %v routes and %v backends shown, want 1 and 1", r, b)
	}
	setFilters("", "")
	if r, b := visible("#routes tbody tr"), visible("#backends details"); r != 50 || b != 50 {
		t.Errorf("filters cleared: %v routes and %v backends shown, want 50 and 50", r, b)
	}
}

// dashScaleConfig is routes /svcNN -> backend svcNN of perBackend static
// URLs each, for n backends. Only svc00's URLs are free ports (it is the
// one the scale test sends requests to).
func dashScaleConfig(t *testing.T, n, perBackend int) string {
	var b strings.Builder
	b.WriteString("routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - path_prefix: /svc%02d\n    backend: svc%02d\n", i, i)
	}
	b.WriteString("backends:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: svc%02d\n    urls:\n", i)
		for j := range perBackend {
			port := 40000 + i*perBackend + j
			if i == 0 {
				port = freePort(t)
			}
			fmt.Fprintf(&b, "      - http://127.0.0.1:%d\n", port)
		}
	}
	return b.String()
}

// checkDashLoad sends a burst of requests to route /api/label and checks
// that the page's req/s chart moves; it returns the screenshot taken under
// load. For the docs the load lasts longer, so that the 5-minute charts
// show more than a spike.
func checkDashLoad(t *testing.T, g *gw, br *chromium, label string, docs bool) string {
	t.Helper()
	chartD := `document.querySelector('#chart-rps path.line').getAttribute('d')`
	before := pageEval[string](br, chartD)
	loadFor, shotAfter := 8*time.Second, 5*time.Second
	if docs {
		loadFor, shotAfter = 75*time.Second, 70*time.Second
	}
	load := startDashLoad(t, g, "/api/"+label, loadFor)
	// Idle, the chart shows at most the few requests made before; under
	// load (hundreds per second) its latest point must rise well above.
	pageWait(t, br, 5*time.Second, "the req/s chart to show the load",
		`+document.getElementById('chart-rps').dataset.latest > 20`)
	if after := pageEval[string](br, chartD); after == before {
		t.Errorf("the req/s chart's path did not change under load: %q", after)
	}
	eventually(t, loadFor, "the load to run a while", func() bool { return time.Since(load.started) > shotAfter })
	shot := br.screenshot("dashboard-load.png")
	t.Logf("load: %d requests, latest req/s on the page: %s", load.wait(), pageEval[string](br,
		`document.getElementById('chart-rps').dataset.latest`))
	return shot
}

// checkDashExplain asks the page's explain form about path: it shows what
// /explain answers, which names the container want. A gateway without
// /explain has no form.
func checkDashExplain(t *testing.T, g *gw, br *chromium, path, want string) {
	t.Helper()
	hidden := pageEval[bool](br, `document.getElementById('explain').hidden`)
	if noExplain := g.get(t, "/explain?path="+path).status == http.StatusNotFound; noExplain || hidden {
		if noExplain != hidden {
			t.Errorf("GET /explain answers 404: %v, but the page's explain form hidden: %v", noExplain, hidden)
		}
		return
	}
	pageEval[bool](br, `document.getElementById('explain-path').value = `+strconv.Quote(path)+`,
		document.getElementById('explain-form').requestSubmit(), true`)
	pageWait(t, br, 5*time.Second, "the explain answer", `!/^(asking…)?$/.test(document.getElementById('explain-out').innerText)`)
	out := pageEval[string](br, `document.getElementById('explain-out').innerText`)
	if !strings.Contains(out, want) || strings.Contains(out, "HTTP ") {
		t.Errorf("explain %s shows %q, want it to name %s", path, out, want)
	}
}

// dashWant is what a container's row must show: its data-state, and text
// that its state cell holds (for an excluded one, the reason).
type dashWant struct{ state, text string }

// checkDashRows asserts that the page shows each named container, visible,
// in the wanted state.
func checkDashRows(t *testing.T, br *chromium, want map[string]dashWant) {
	t.Helper()
	got := map[string]dashRow{}
	for _, r := range pageEval[[]dashRow](br, dashRowsJS) {
		got[r.Name] = r
	}
	for name, w := range want {
		r, ok := got[name]
		switch {
		case !ok:
			t.Errorf("container %s is not on the page (rows: %v)", name, got)
		case !r.Visible || r.State != w.state || !strings.Contains(r.Text, w.text):
			t.Errorf("container %s: row %+v, want visible, state %q, text with %q", name, r, w.state, w.text)
		}
	}
}

// pageWait polls a JavaScript condition in the page every 20 ms.
func pageWait(t *testing.T, br *chromium, timeout time.Duration, what, cond string) {
	t.Helper()
	eventually(t, timeout, what, func() bool { return pageEval[bool](br, "!!("+cond+")") })
}

// dashLoad is a bounded burst of requests through the gateway.
type dashLoad struct {
	started time.Time
	wg      sync.WaitGroup
	n       atomic.Int64
}

// startDashLoad sends requests to prefix from 3 workers for d (at most
// 200000 in all): mostly 200s, about 3% 404s and 0.5% 500s, 3% slow ones.
func startDashLoad(t *testing.T, g *gw, prefix string, d time.Duration) *dashLoad {
	t.Helper()
	l := &dashLoad{started: time.Now()}
	client := newClient(t, 5*time.Second)
	deadline := l.started.Add(d)
	for w := range 3 {
		l.wg.Go(func() {
			for i := w; time.Now().Before(deadline) && l.n.Load() < 200000; i += 3 {
				p := prefix + "/x"
				switch {
				case i%211 == 0:
					p = prefix + "/status?code=500"
				case i%37 == 0:
					p = prefix + "/status?code=404"
				case i%29 == 0:
					p = prefix + "/sleep?d=40ms"
				}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, g.url+p, nil)
				if err != nil {
					return
				}
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				l.n.Add(1)
			}
		})
	}
	t.Cleanup(func() { l.wait() })
	return l
}

// wait waits for the burst to end and returns how many requests it sent.
func (l *dashLoad) wait() int64 {
	l.wg.Wait()
	return l.n.Load()
}

func copyArtifact(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(filepath.Join(repoRoot, to)), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(repoRoot, to), data, 0o644)
	}
	if err != nil {
		t.Errorf("copying %s to %s: %v", from, to, err)
	}
}
