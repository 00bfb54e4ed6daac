package route

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/mw/breaker"
	"github.com/rgate/rgate/internal/upstream"
)

// BackendExplanation lists everything that could serve a backend and
// whether it does.
type BackendExplanation struct {
	Name string `json:"name"`
	// MatchLabels is the backend's selector, as configured.
	MatchLabels []string `json:"match_labels"`
	// Breaker is the circuit breaker's state; nil when it has none.
	Breaker *breaker.State `json:"breaker,omitempty"`
	// Serving counts the containers and URLs whose verdict is serving.
	Serving int `json:"serving"`
	// Containers are every container that carries at least one of the
	// selector's key=value pairs: serving ones first, then by name.
	Containers []ContainerExplanation `json:"containers"`
	// URLs are the backend's static urls, in config order.
	URLs []URLExplanation `json:"urls"`
}

// ContainerExplanation is one container and its verdict.
type ContainerExplanation struct {
	ID   string `json:"id"` // short, as docker ps shows it
	Name string `json:"name"`
	// Endpoint is the Docker engine it runs on (docker.endpoints' name);
	// omitted for the one engine of the environment.
	Endpoint string `json:"endpoint,omitempty"`
	Image    string `json:"image"`
	State    string `json:"state"`
	// Health is the Docker HEALTHCHECK status, "none" without one.
	Health string `json:"health"`
	// Labels are those that bear on the verdict: the selector's keys and
	// rgate's own (rgate.enable, rgate.port, rgate.network).
	Labels map[string]string `json:"labels"`
	// Address is where rgate reaches it ("host:port"), when resolvable.
	Address string `json:"address,omitempty"`
	// Verdict is VerdictServing or VerdictExcluded, with Reasons for the
	// latter.
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// URLExplanation is one static url and its verdict.
type URLExplanation struct {
	URL     string   `json:"url"`
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// ExplainBackend explains b, compiled from cfg and snap: every container of
// snap that carries any of b's selector pairs, and every static url, each
// with its verdict. Reasons come in this order, all that apply:
//
//  1. what Docker says: "not running (state S)", "not healthy (docker
//     health is H)";
//  2. the selector: "missing label K=V", "label K has value W, want V";
//  3. "disabled by rgate.enable=false";
//  4. the address, judged for running containers only (Docker lists no
//     ports for others): "no usable port: ...", "ambiguous network: ...",
//     "not attached to network ...", "no IP address: ...";
//  5. when live, for upstreams in the table, the reasons of their verdict
//     (upstream.Health.Verdict), in its order: "failing health check: R",
//     "ejected after connect failures (until T)", "breaker open", "port
//     not accepting connections yet".
//
// Reasons 1-4 are the checks Compile makes (Matches, Eligible), worded as
// in the table's Skipped list; a container they pass is in b.Upstreams.
// live is false for a table compiled only to be looked at (validate
// --docker): its upstreams have no history, so their state means nothing.
func ExplainBackend(b *Backend, cfg *config.Config, snap docker.Snapshot, live bool) BackendExplanation {
	bc := backendConfig(cfg, b.Name)
	be := BackendExplanation{Name: b.Name, MatchLabels: nonNil(slices.Clone(bc.MatchLabels)),
		Containers: []ContainerExplanation{}, URLs: []URLExplanation{}}
	lv := liveView{on: live}
	if live {
		be.Breaker, lv.breakerOpen = BreakerOpen(b)
	}
	inTable := map[string]*upstream.Upstream{}
	for _, u := range b.Upstreams {
		if u.Static() {
			be.URLs = append(be.URLs, explainURL(u, lv))
			continue
		}
		inTable[u.Endpoint+"/"+u.ContainerID] = u
	}
	for i := range snap.Containers {
		c := &snap.Containers[i]
		if carriesAny(b.Selector, c.Labels) {
			be.Containers = append(be.Containers, explainContainer(c, b.Selector, bc, inTable[c.Endpoint+"/"+c.ID], lv))
		}
	}
	slices.SortStableFunc(be.Containers, func(x, y ContainerExplanation) int {
		return cmp.Or(cmp.Compare(verdictRank(x.Verdict), verdictRank(y.Verdict)), strings.Compare(x.Name, y.Name))
	})
	for _, c := range be.Containers {
		if c.Verdict == VerdictServing {
			be.Serving++
		}
	}
	for _, u := range be.URLs {
		if u.Verdict == VerdictServing {
			be.Serving++
		}
	}
	return be
}

func verdictRank(v string) int {
	if v == VerdictServing {
		return 0
	}
	return 1
}

// carriesAny reports whether labels has at least one key=value pair of sel.
func carriesAny(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; ok && got == v {
			return true
		}
	}
	return false
}

// liveView is how ExplainBackend reads the runtime state of a backend.
type liveView struct {
	on          bool // read it at all (false: validate --docker)
	breakerOpen bool
}

// reasons are u's live reasons (none when the view is off).
func (lv liveView) reasons(u *upstream.Upstream) []string {
	if !lv.on {
		return nil
	}
	return u.Health().Verdict(lv.breakerOpen).Reasons
}

// explainContainer gives c's verdict for the backend with selector sel and
// config bc; u is c's upstream when the table has it (nil otherwise).
func explainContainer(c *docker.Container, sel map[string]string, bc config.Backend, u *upstream.Upstream, lv liveView) ContainerExplanation {
	ce := ContainerExplanation{ID: docker.ShortID(c.ID), Name: c.Name, Endpoint: c.Endpoint, Image: c.Image, State: c.State,
		Health: cmp.Or(c.Health, "none"), Labels: relevantLabels(c.Labels, sel)}
	var rs []string
	rs = appendReason(rs, stateReason(c))
	rs = appendReason(rs, healthReason(c))
	rs = append(rs, labelReasons(sel, c.Labels)...)
	rs = appendReason(rs, disabledReason(c))
	rs = appendReason(rs, protocolReason(c))
	addr, why := address(c, bc)
	ce.Address = addr
	if c.State == "running" {
		rs = appendReason(rs, why)
	}
	switch {
	case u != nil:
		ce.Address = u.Host
		rs = append(rs, lv.reasons(u)...)
	case len(rs) == 0:
		// Only when the table was compiled from another snapshot.
		rs = append(rs, "not in the routing table yet")
	}
	ce.Verdict, ce.Reasons = verdict(rs)
	return ce
}

func explainURL(u *upstream.Upstream, lv liveView) URLExplanation {
	ue := URLExplanation{URL: u.Scheme + "://" + u.Host}
	ue.Verdict, ue.Reasons = verdict(lv.reasons(u))
	return ue
}

func verdict(reasons []string) (string, []string) {
	if len(reasons) == 0 {
		return VerdictServing, []string{}
	}
	return VerdictExcluded, reasons
}

// labelReasons lists, by key, each pair of sel that labels lacks.
func labelReasons(sel, labels map[string]string) []string {
	var rs []string
	for _, k := range sortedKeys(sel) {
		want := sel[k]
		got, ok := labels[k]
		switch {
		case !ok:
			rs = append(rs, "missing label "+k+"="+want)
		case got != want:
			rs = append(rs, "label "+k+" has value "+quoteIfOdd(got)+", want "+quoteIfOdd(want))
		}
	}
	return rs
}

// quoteIfOdd quotes a label value that would read ambiguously bare (empty,
// or with spaces or commas).
func quoteIfOdd(v string) string {
	if v == "" || strings.ContainsAny(v, " ,\t\"") {
		return strconv.Quote(v)
	}
	return v
}

// relevantLabels picks the labels of sel's keys and rgate's own.
func relevantLabels(labels, sel map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		_, inSel := sel[k]
		if inSel || k == LabelEnable || k == LabelPort || k == LabelNetwork || k == LabelProtocol {
			out[k] = v
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// nonNil returns s, or an empty slice for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func appendReason(rs []string, r string) []string {
	if r == "" {
		return rs
	}
	return append(rs, r)
}
