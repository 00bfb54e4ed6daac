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
	"github.com/rgate/rgate/internal/mw/auth"
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
	// Host is the request host explained, in the form routes match it
	// (lower case, no port, no trailing dot); omitted when none was given.
	Host string `json:"host,omitempty"`
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
	PathPrefix string `json:"path_prefix"`
	// Host is the route's host ("api.example.com", "*.example.com");
	// omitted for a route without one.
	Host     string   `json:"host,omitempty"`
	Backend  string   `json:"backend"`
	Policies []string `json:"policies"`
	// Auth is the route's authentication; omitted when it has none.
	Auth *AuthMatch `json:"auth,omitempty"`
	// Shorter lists the other routes of the same host (or, like this one,
	// without a host) whose prefix the path also starts with, longest
	// first: the longest prefix wins over them.
	Shorter []string `json:"shorter_matches"`
}

// AuthMatch is a route's auth policy, as /explain shows it.
type AuthMatch struct {
	Policy  string   `json:"policy"`
	Methods []string `json:"methods"`
	// AllowConsumers are the only consumers let through; omitted: all.
	AllowConsumers []string `json:"allow_consumers,omitempty"`
	// Headers are the headers set upstream from the verified identity
	// (client-sent copies are removed).
	Headers []string `json:"identity_headers"`
	// ForwardCredentials: the client's credential is sent upstream too.
	ForwardCredentials bool `json:"forward_credentials"`
}

// DefaultAnswer is the configured default response.
type DefaultAnswer struct {
	StatusCode int    `json:"status_code"`
	Body       string `json:"body"`
}

// Explain says what the gateway serving table t (compiled from cfg and
// snap) does with a request for host (a Host header value, "" for none)
// and target, a request target as a client sends it ("/api/payment/x?y=1",
// escaped). An absolute-form target ("http://api.example.com/x") names its
// own host, which then wins over host, as it does for the gateway (RFC
// 9112 3.2.2). It mirrors the gateway's own steps: the ambiguity check of
// LookupRequest, the host-then-longest-prefix lookup, then ExplainBackend
// for the matched route's backend.
//
// It reads the live state the table holds (breaker, ejections, health
// checks) and is otherwise a pure function of its arguments.
func Explain(t *Table, cfg *config.Config, snap docker.Snapshot, host, target string) Explanation {
	e := Explanation{Path: target}
	u, err := url.ParseRequestURI(target)
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		e.Outcome, e.Status = OutcomeRejected, http.StatusBadRequest
		e.Reason = "not a request path: it must start with /"
		return e
	}
	if u.Host != "" {
		host = u.Host
	}
	h := requestHost(host)
	e.Host = h
	p := u.Path
	rt := t.match(h, p)
	if form, other, bad := t.ambiguity(h, p, u.RawPath, rt); bad {
		e.Outcome, e.Status = OutcomeRejected, http.StatusBadRequest
		e.Reason = fmt.Sprintf("ambiguous path: as given it %s, but normalised to %q (as an upstream may) it %s, "+
			"so the gateway rejects it with 400", matchText(rt), form, matchText(other))
		return e
	}
	if rt == nil {
		e.Outcome, e.Status = OutcomeDefault, t.Default.Status
		e.Default = &DefaultAnswer{StatusCode: t.Default.Status, Body: string(t.Default.Body)}
		e.Reason = fmt.Sprintf("no route matched: the path starts with none of the %s, "+
			"so the default response answers", candidatesText(t, h))
		return e
	}
	e.Outcome = OutcomeRouted
	e.Route = &RouteMatch{PathPrefix: rt.Prefix, Host: rt.Host, Backend: rt.Backend.Name,
		Policies: nonNil(rt.Policies), Shorter: shorterMatches(t, p, rt)}
	if a := rt.Auth; a != nil {
		e.Route.Auth = &AuthMatch{Policy: a.Name, Methods: a.Methods(), AllowConsumers: rt.AllowConsumers,
			Headers: append([]string{auth.HeaderConsumer, auth.HeaderConsumerTier}, a.Managed...), ForwardCredentials: rt.ForwardCredentials}
	}
	e.Reason = routedText(t, h, p, rt)
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

// matchText describes where a lookup sends a path.
func matchText(rt *Route) string {
	if rt == nil {
		return "matches no route (default response)"
	}
	return "matches route " + strconv.Quote(rt.Name)
}

// candidatesText describes the routes searched for a request for host (in
// requestHost's form), for a path that matched none of them.
func candidatesText(t *Table, host string) string {
	n := len(t.Routes())
	if t.hosts == nil {
		return fmt.Sprintf("%d route prefixes", n)
	}
	n = 0
	for _, r := range t.Routes() {
		if hostApplies(r.Host, host) {
			n++
		}
	}
	if host == "" {
		return fmt.Sprintf("prefixes of the %d route%s without a host (the request names no host)", n, plural(n))
	}
	return fmt.Sprintf("prefixes of the %d route%s for host %q (its own, wildcard and host-less routes)", n, plural(n), host)
}

// routedText says why rt is the route for host (in requestHost's form) and
// path p: the longest prefix among the routes of its host, which come
// before those of any less specific host whatever their prefix.
func routedText(t *Table, host, p string, rt *Route) string {
	n := 0
	for _, r := range t.Routes() {
		if r.Host == rt.Host {
			n++
		}
	}
	if t.hosts == nil {
		return fmt.Sprintf("%q is the longest prefix of the path among %d route%s", rt.Prefix, n, plural(n))
	}
	among := fmt.Sprintf("the %d route%s for host %q", n, plural(n), rt.Host)
	if rt.Host == "" {
		among = fmt.Sprintf("the %d route%s without a host", n, plural(n))
	}
	text := fmt.Sprintf("%q is the longest prefix of the path among %s", rt.Prefix, among)
	var outranked, passed []string
	for _, r := range t.Routes() {
		if r.Host == rt.Host || !hostApplies(r.Host, host) {
			continue
		}
		switch q := strconv.Quote(r.Host); {
		case hostRank(r.Host) < hostRank(rt.Host):
			if !slices.Contains(passed, q) {
				passed = append(passed, q)
			}
		case strings.HasPrefix(p, r.Prefix):
			outranked = append(outranked, strconv.Quote(r.Name))
		}
	}
	if len(passed) > 0 {
		text += " (none of the routes for " + strings.Join(passed, ", ") + " matches the path)"
	}
	if len(outranked) > 0 {
		text += "; routes for a more specific host come first, whatever their prefix, so it wins over " +
			strings.Join(outranked, ", ")
	}
	return text
}

// shorterMatches lists the prefixes of p other than rt's among the routes
// of rt's host, longest first.
func shorterMatches(t *Table, p string, rt *Route) []string {
	out := []string{}
	for _, r := range t.Routes() {
		if r != rt && r.Host == rt.Host && strings.HasPrefix(p, r.Prefix) && !slices.Contains(out, r.Prefix) {
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
