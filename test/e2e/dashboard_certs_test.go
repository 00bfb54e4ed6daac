package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardCertificates: with a TLS listener, the dashboard (headless
// chromium) lists each certificate with its names, source, issuer and
// expiry; a broken replacement file shows its reload error in the row,
// while the old certificate keeps being listed.
func TestDashboardCertificates(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "d", 40, false, "dash.example.test", "www.dash.example.test")
	up := newRecorder(t, nil)
	g := startGateway(t, staticRoutes([3]string{"/", up.url(), ""})+fmt.Sprintf(`server:
  tls:
    port: %d
    certificates:
      - {cert_file: %s, key_file: %s}
`, freePort(t), cert, key))

	br := startChromium(t, 1400, 1000)
	br.do("opening /dashboard", 20*time.Second, chromedp.Navigate(g.url+"/dashboard"))
	pageWait(t, br, 10*time.Second, "the certificates panel", `!document.getElementById('certs').hidden &&
		document.querySelectorAll('#certs-table tbody tr').length === 1`)
	row := pageEval[string](br, `document.querySelector('#certs-table tbody tr').innerText`)
	for _, want := range []string{"dash.example.test, www.dash.example.test", "file", "rgate test CA", "day"} {
		if !strings.Contains(row, want) {
			t.Errorf("certificate row %q lacks %q", row, want)
		}
	}
	replaceFile(t, cert, []byte("not a certificate"))
	pageWait(t, br, 10*time.Second, "the reload error in the row",
		`document.querySelector('#certs-table tbody tr').cells[4].innerText.length > 0 &&
		document.querySelector('#certs-table tbody tr').className === 'bad'`)
	row = pageEval[string](br, `document.querySelector('#certs-table tbody tr').innerText`)
	t.Logf("row after a bad replacement: %q", row)
	if !strings.Contains(row, "dash.example.test") {
		t.Errorf("after a bad replacement the row %q no longer names the old certificate", row)
	}
	br.screenshot("dashboard-certificates.png")
	br.checkNoProblems()
}
