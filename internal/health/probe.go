package health

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/h1syntax"
	"github.com/rgate/rgate/internal/upstream"
)

// drainLimit is how much of a probe answer's body is read so that its
// connection can be reused; the rest is discarded by closing.
const drainLimit = 4 << 10

// prober is one loop's state; only its own goroutine touches it.
type prober struct {
	client *http.Client
	log    *slog.Logger
	u      *upstream.Upstream
	check  config.HealthCheck
	url    string
	// passes and fails are the current runs of consecutive results.
	passes, fails int
}

func newProber(client *http.Client, log *slog.Logger, t Target) *prober {
	attrs := []any{"backend", t.Backend, "upstream", t.U.Host}
	if t.U.Container != "" {
		attrs = append(attrs, "container", t.U.Container)
	}
	return &prober{
		client: client,
		log:    log.With(attrs...),
		u:      t.U,
		check:  t.Check,
		url:    t.U.Scheme + "://" + t.U.Host + t.Check.Path,
	}
}

// run probes at once, then every Interval, until ctx is done.
func (p *prober) run(ctx context.Context) {
	tick := time.NewTicker(p.check.Interval.D())
	defer tick.Stop()
	for {
		p.probeSafely(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeSafely runs one probe and records its verdict; a panic is logged
// with its stack and the loop carries on.
func (p *prober) probeSafely(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("health probe panicked", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	err := p.probe(ctx)
	if ctx.Err() != nil {
		return // stopped mid-probe: the failure is ours, not the upstream's
	}
	p.record(err)
}

// probe sends one GET and returns nil when it passes.
func (p *prober) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.check.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return statusError(resp.StatusCode)
	}
	return nil
}

// record counts a result and tells the upstream when a run reaches its
// threshold.
func (p *prober) record(err error) {
	if err == nil {
		p.fails = 0
		p.u.SetReady() // it answered over HTTP: its port accepts
		if p.passes < p.check.HealthyAfter {
			p.passes++
		}
		if p.passes < p.check.HealthyAfter {
			return
		}
		wasDown := p.u.ActiveDown()
		if p.u.SetActive(true, "") {
			if wasDown {
				p.log.Info("upstream healthy again")
			} else {
				p.log.Debug("upstream healthy")
			}
		}
		return
	}
	p.passes = 0
	reason := p.reason(err)
	if p.fails < p.check.UnhealthyAfter {
		p.fails++
	}
	if p.fails < p.check.UnhealthyAfter {
		p.log.Debug("health probe failed", "reason", reason, "failures", p.fails)
		return
	}
	if p.u.SetActive(false, reason) {
		p.log.Warn("upstream unhealthy", "reason", reason)
	}
}

// statusError is a probe answer with a failing status.
type statusError int

func (s statusError) Error() string { return "status " + strconv.Itoa(int(s)) }

// reason describes a failed probe briefly: "GET /health: status 500",
// "GET /health: connection refused", "GET /health: timeout after 1s".
func (p *prober) reason(err error) string {
	prefix := "GET " + p.check.Path + ": "
	switch {
	case h1syntax.IsTimeout(err):
		return prefix + "timeout after " + p.check.Timeout.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return prefix + "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return prefix + "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return prefix + "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return prefix + "network unreachable"
	}
	// *url.Error repeats the method and URL; keep only its cause.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return prefix + err.Error()
}
