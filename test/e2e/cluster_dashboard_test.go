package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rgate/rgate/internal/cluster/redistest"
)

// TestDashboardClusterScope: with cluster: the dashboard offers "this
// replica" and "cluster"; the cluster view shows both replicas and their
// summed requests, and switching back shows the local tiles again.
// Without cluster: the switch is not shown.
func TestDashboardClusterScope(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	srv := redistest.Start(t)
	up := newRecorder(t, nil).url()
	a := startGateway(t, staticRoutes([3]string{"/t", up, ""})+statsClusterYAML(srv.Addr, "dash-a"))
	b := startGateway(t, staticRoutes([3]string{"/t", up, ""})+statsClusterYAML(srv.Addr, "dash-b"))
	solo := startGateway(t, staticRoutes([3]string{"/t", up, ""}))
	for range 3 {
		a.get(t, "/t/x")
	}
	for range 4 {
		b.get(t, "/t/x")
	}

	br := startChromium(t, 1400, 1000)
	br.do("opening /dashboard", 20*time.Second, chromedp.Navigate(a.url+"/dashboard"))
	pageWait(t, br, 10*time.Second, "the scope switch shown", `!document.getElementById('scope').hidden`)
	if pageEval[bool](br, `!document.getElementById('cluster').hidden`) {
		t.Errorf("the cluster view is shown before it was chosen")
	}
	pageEval[bool](br, `document.getElementById('scope-cluster').click(), true`)
	pageWait(t, br, 10*time.Second, "the cluster view with both replicas and 7 requests", `(() => {
		const c = document.getElementById('cluster');
		return !c.hidden && c.dataset.replicas === '2' && c.dataset.total === '7' &&
			document.getElementById('tiles').hidden &&
			document.querySelectorAll('#cluster-instances tbody tr').length === 2 &&
			document.getElementById('scope-cluster').getAttribute('aria-pressed') === 'true'; })()`)
	br.screenshot("dashboard-cluster.png")
	pageEval[bool](br, `document.getElementById('scope-local').click(), true`)
	pageWait(t, br, 5*time.Second, "the local tiles again", `document.getElementById('cluster').hidden &&
		!document.getElementById('tiles').hidden`)
	br.checkNoProblems()

	br.do("opening the dashboard of a gateway without cluster:", 20*time.Second, chromedp.Navigate(solo.url+"/dashboard#scope=cluster"))
	pageWait(t, br, 10*time.Second, "the page to render twice", `+document.body.dataset.polls >= 2`)
	if !pageEval[bool](br, `document.getElementById('scope').hidden && document.getElementById('cluster').hidden`) {
		t.Errorf("without cluster: the scope switch or the cluster view is shown")
	}
	br.checkNoProblems()
}
