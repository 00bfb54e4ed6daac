package route

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/mw/breaker"
)

// Outcomes of an Explanation.
const (
	// OutcomeRouted: a route matches and its backend answers (or the gateway
	// answers 503 when nothing serves the backend: see Explanation.Status).
	OutcomeRouted = "routed"
	// OutcomeDefault: no route matches; the default response answers.
	OutcomeDefault = "default_response"
	// OutcomeRejected: the gateway refuses the path with 400.
	OutcomeRejected = "rejected"
)

// Verdicts of a container or URL in an Explanation.
const (
	VerdictServing  = "serving"
	VerdictExcluded = "excluded"
)

// Explanation says what the gateway does with a request path, and why: the
// /explain document. Every slice is non-nil, so it encodes as [] rather
// than null.
type Explanation struct {
	// Path is the path explained, as given (a request target: escaped, and
	// it may carry a query, which plays no part in routing).
	Path string `json:"path"`
	// Outcome is OutcomeRouted, OutcomeDefault or OutcomeRejected.
	Outcome string `json:"outcome"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
	// Status is the status the gateway answers by itself: the default
	// response's, 400 for a rejected path, 503 when the matched backend has
	// nothing to send to. 0 when the backend answers.
	Status int `json:"status,omitempty"`
	// Route is the matched route; nil unless routed.
	Route *RouteMatch `json:"route,omitempty"`
	// Default is the default response; nil unless it answers.
	Default *DefaultAnswer `json:"default_response,omitempty"`
	// Backend explains the matched route's backend; nil unless routed.
	Backend *BackendExplanation `json:"backend,omitempty"`
}

// RouteMatch is the route a path matched.
type RouteMatch struct {
	PathPrefix string   `json:"path_prefix"`
	Backend    string   `json:"backend"`
	Policies   []string `json:"policies"`
	// Shorter lists the other routes whose prefix the path also starts
	// with, longest first: the longest prefix wins over them.
	Shorter []string `json:"shorter_matches"`
}

// DefaultAnswer is the configured default response.
type DefaultAnswer struct {
	StatusCode int    `json:"status_code"`
	Body       string `json:"body"`
}

// Explain says what the gateway serving table t (compiled from cfg and
// snap) does with a request for target, a request target as a client sends
// it ("/api/payment/x?y=1", escaped). It mirrors the gateway's own steps:
// the ambiguity check of LookupRequest, the longest-prefix Lookup, then
// ExplainBackend for the matched route's backend.
//
// It reads the live state the table holds (breaker, ejections, health
// checks) and is otherwise a pure function of its arguments.
func Explain(t *Table, cfg *config.Config, snap docker.Snapshot, target string) Explanation {
	e := Explanation{Path: target}
	u, err := url.ParseRequestURI(target)
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		e.Outcome, e.Status = OutcomeRejected, http.StatusBadRequest
		e.Reason = "not a request path: it must start with /"
		return e
	}
	p := u.Path
	rt := t.Lookup(p)
	if form, other, bad := t.ambiguity("", p, u.RawPath, rt); bad {
		e.Outcome, e.Status = OutcomeRejected, http.StatusBadRequest
		e.Reason = fmt.Sprintf("ambiguous path: as given it %s, but normalised to %q (as an upstream may) it %s, "+
			"so the gateway rejects it with 400", matchText(rt), form, matchText(other))
		return e
	}
	n := len(t.Routes())
	if rt == nil {
		e.Outcome, e.Status = OutcomeDefault, t.Default.Status
		e.Default = &DefaultAnswer{StatusCode: t.Default.Status, Body: string(t.Default.Body)}
		e.Reason = fmt.Sprintf("no route matched: the path starts with none of the %d route prefixes, "+
			"so the default response answers", n)
		return e
	}
	e.Outcome = OutcomeRouted
	e.Route = &RouteMatch{PathPrefix: rt.Prefix, Backend: rt.Backend.Name,
		Policies: nonNil(rt.Policies), Shorter: shorterMatches(t, p, rt)}
	e.Reason = fmt.Sprintf("%q is the longest prefix of the path among %d route%s", rt.Prefix, n, plural(n))
	if len(e.Route.Shorter) > 0 {
		e.Reason += " (also matched, shorter: " + strings.Join(e.Route.Shorter, ", ") + ")"
	}
	be := ExplainBackend(rt.Backend, cfg, snap, true)
	e.Backend = &be
	if be.Serving == 0 {
		e.Status = http.StatusServiceUnavailable
		e.Reason += "; nothing serves backend " + strconv.Quote(be.Name) + " now, so the gateway answers 503"
	}
	return e
}

// matchText describes where Lookup sends a path.
func matchText(rt *Route) string {
	if rt == nil {
		return "matches no route (default response)"
	}
	return "matches route " + strconv.Quote(rt.Prefix)
}

// shorterMatches lists the prefixes of p other than rt's, longest first.
func shorterMatches(t *Table, p string, rt *Route) []string {
	out := []string{}
	for _, r := range t.Routes() {
		if r != rt && strings.HasPrefix(p, r.Prefix) && !slices.Contains(out, r.Prefix) {
			out = append(out, r.Prefix)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// backendConfig returns the config of backend name (the zero Backend when
// cfg has none: Compile never builds one then).
func backendConfig(cfg *config.Config, name string) config.Backend {
	if cfg != nil {
		for _, b := range cfg.Backends {
			if b.Name == name {
				return b
			}
		}
	}
	return config.Backend{Name: name}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// BreakerOpen reports whether b's circuit breaker is open, which keeps
// every upstream of b from new requests (see upstream.Health.Verdict), and
// gives its state (nil when b has none).
func BreakerOpen(b *Backend) (*breaker.State, bool) {
	if b.Breaker == nil {
		return nil, false
	}
	st := b.Breaker.State()
	return &st, st.Name == breaker.Open
}
