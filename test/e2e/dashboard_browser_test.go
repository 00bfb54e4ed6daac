package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, the browser the dashboard tests drive.
const chromiumPath = "/usr/bin/chromium"

// chromium is one headless chromium with one tab, driven over the DevTools
// protocol. It records every uncaught exception, console.error/assert call
// and error entry of the browser log (failed loads, CSP violations).
type chromium struct {
	t   *testing.T
	ctx context.Context // the tab's context: derive per-action timeouts from it

	mu       sync.Mutex
	problems []string
}

// requireChromium skips the test when /usr/bin/chromium is missing, unless
// CI or RGATE_E2E=1 is set, in which case it fails. Browser tests call it
// first, before they start containers.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("RGATE_E2E") == "1" {
			t.Fatalf("%s is missing (%v): install Debian's chromium package (apt-get install chromium)", chromiumPath, err)
		}
		t.Skipf("SKIP: %s is missing; apt-get install chromium to run the browser tests "+
			"(with CI or RGATE_E2E=1 set this fails instead)", chromiumPath)
	}
}

// startChromium starts chromium with a fresh profile and a window of w x h
// CSS pixels (see requireChromium for when there is none). Call it after
// startGateway, so that the browser is closed before the gateway stops.
func startChromium(t *testing.T, w, h int) *chromium {
	t.Helper()
	requireChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
		chromedp.WindowSize(w, h),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &chromium{t: t, ctx: ctx}
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("closing chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
	})
	// The first action starts the browser; it must not run under a
	// timeout (that would bound the browser's life), so it is a no-op.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("listening to chromium: %v", err)
	}
	return b
}

// record keeps the events that mean the page misbehaved. It runs on the
// protocol's read loop, so it only appends.
func (b *chromium) record(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = "exception: " + d.Text
		if d.Exception != nil {
			p += " " + d.Exception.Description
		}
		p += " at " + d.URL
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			args = append(args, a.Description+string(a.Value))
		}
		p = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		p = "log error (" + string(ev.Entry.Source) + "): " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// checkNoProblems fails the test when the page threw or logged an error.
func (b *chromium) checkNoProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("page: %s", p)
	}
}

// do runs actions with a timeout.
func (b *chromium) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// pageEval evaluates a JavaScript expression in the page and returns its value.
func pageEval[T any](b *chromium, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshot saves a PNG of the whole page as test/e2e/artifacts/name.
func (b *chromium) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(repoRoot, "test", "e2e", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}
