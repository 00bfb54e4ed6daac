package route

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/stats"
)

// Compile builds the Table for cfg and the containers in snap. cfg must have
// passed config validation. st provides the stats series for routes and
// backends, which outlive tables; st may be nil in tests.
func Compile(cfg *config.Config, snap docker.Snapshot, st *stats.Store) *Table {
	t := &Table{Default: compileDefault(cfg.DefaultResponse)}
	byName := make(map[string]*Backend, len(cfg.Backends))
	for _, bc := range cfg.Backends {
		b := compileBackend(bc, snap)
		if st != nil {
			b.Stats = st.Backend(b.Name)
		}
		t.Backends = append(t.Backends, b)
		byName[b.Name] = b
	}
	for _, rc := range cfg.Routes {
		r := &Route{Prefix: rc.PathPrefix, Backend: byName[rc.Backend], Timeout: rc.Timeout.D()}
		if r.Timeout <= 0 {
			r.Timeout = config.DefaultRouteTimeout
		}
		if st != nil {
			r.Stats = st.Route(r.Prefix)
		}
		t.routes = append(t.routes, r)
	}
	t.byLen = indexByLength(t.routes)
	return t
}

func compileDefault(d config.DefaultResponse) Default {
	status := d.StatusCode
	if status == 0 {
		status = config.DefaultStatusCode
	}
	body := []byte(d.Body)
	ct := ""
	if len(body) > 0 {
		ct = http.DetectContentType(body)
	}
	return Default{Status: status, Body: body, ContentLength: strconv.Itoa(len(body)), ContentType: ct}
}

func indexByLength(routes []*Route) []prefixSet {
	var sets []prefixSet
	for _, r := range routes {
		i := slices.IndexFunc(sets, func(s prefixSet) bool { return s.n == len(r.Prefix) })
		if i < 0 {
			sets = append(sets, prefixSet{n: len(r.Prefix), routes: map[string]*Route{}})
			i = len(sets) - 1
		}
		if _, dup := sets[i].routes[r.Prefix]; !dup { // validation rejects duplicates; first wins
			sets[i].routes[r.Prefix] = r
		}
	}
	slices.SortFunc(sets, func(a, b prefixSet) int { return b.n - a.n })
	return sets
}

func compileBackend(bc config.Backend, snap docker.Snapshot) *Backend {
	sel, _ := bc.Selector() // validated already
	b := &Backend{Name: bc.Name, Selector: sel}
	if len(sel) > 0 {
		for i := range snap.Containers {
			c := &snap.Containers[i]
			if !Matches(sel, c.Labels) {
				continue
			}
			host, reason, warn := Eligible(c, bc)
			if reason != "" {
				b.Skipped = append(b.Skipped, Skip{ContainerID: c.ID, Container: c.Name, Reason: reason, Warn: warn})
				continue
			}
			b.Upstreams = append(b.Upstreams, &Upstream{Scheme: "http", Host: host, ContainerID: c.ID, Container: c.Name})
		}
	}
	for _, raw := range bc.URLs {
		if u := staticUpstream(raw); u != nil {
			b.Upstreams = append(b.Upstreams, u)
		}
	}
	return b
}

// Matches reports whether labels carry every key=value of sel.
func Matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		got, ok := labels[k]
		if !ok || got != v {
			return false
		}
	}
	return true
}

func staticUpstream(raw string) *Upstream {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return &Upstream{Scheme: u.Scheme, Host: host}
}
