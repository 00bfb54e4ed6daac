package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Validate checks c and returns every problem found as a Problems error, or
// nil. It expects defaults to be applied (see ApplyDefaults): a zero
// status_code, for one, is out of range. Problems cite lines only for a
// config that came from Load or Parse.
//
// A config with no routes is valid: every request gets default_response.
func (c *Config) Validate() error { return c.problems().err() }

// checker collects problems, putting file and line on each.
type checker struct {
	file  string
	lines lineIndex
	probs Problems
}

func (ch *checker) add(field, format string, args ...any) {
	ch.probs = append(ch.probs, Problem{
		File:  ch.file,
		Line:  ch.lines.lineOf(field),
		Field: field,
		Msg:   fmt.Sprintf(format, args...),
	})
}

func (c *Config) problems() Problems {
	ch := &checker{file: c.Path, lines: c.lines}
	ch.routes(c.Routes, c.Backends)
	ch.backends(c.Backends)
	if sc := c.DefaultResponse.StatusCode; sc < 100 || sc > 599 {
		ch.add("default_response.status_code", "must be in 100..599, got %d", sc)
	}
	ch.server(c.Server)
	ch.docker(c.Docker)
	ch.policies(c)
	ch.cluster(c)
	ch.tracing(c.Tracing)
	ch.auth(c)
	return ch.probs
}

func (ch *checker) routes(routes []Route, backends []Backend) {
	var names []string
	for _, b := range backends {
		if b.Name != "" {
			names = append(names, b.Name)
		}
	}
	first := map[string]int{}
	for i, r := range routes {
		at := "routes[" + strconv.Itoa(i) + "]"
		if r.Host != "" {
			if msg := checkHost(r.Host); msg != "" {
				ch.add(at+".host", "%s", msg)
			}
		}
		switch j, dup := first[r.Name()]; {
		case r.PathPrefix == "":
			ch.add(at+".path_prefix", "required, such as \"/api\"")
		case !strings.HasPrefix(r.PathPrefix, "/"):
			ch.add(at+".path_prefix", "must start with \"/\", got %q", r.PathPrefix)
		case dup && r.Host == "":
			ch.add(at+".path_prefix", "duplicate path_prefix %q (also routes[%d])", r.PathPrefix, j)
		case dup:
			ch.add(at+".path_prefix", "duplicate path_prefix %q for host %q (also routes[%d])", r.PathPrefix, CanonicalHost(r.Host), j)
		default:
			first[r.Name()] = i
		}
		switch {
		case r.Backend == "":
			ch.add(at+".backend", "required: the name of one of the backends")
		case !slices.Contains(names, r.Backend):
			ch.add(at+".backend", "unknown backend %q%s", r.Backend, suggest(r.Backend, names))
		}
		ch.nonNegative(at+".timeout", r.Timeout)
		ch.tokens(at+".methods", r.Methods)
		ch.tokens(at+".upgrades", r.Upgrades)
		for j, u := range r.Upgrades {
			if strings.EqualFold(u, "h2c") {
				ch.add(fmt.Sprintf("%s.upgrades[%d]", at, j), "h2c upgrades are never forwarded (rgate speaks HTTP/2 itself)")
			}
		}
	}
}

// tokens checks that each value of a list is an HTTP token (RFC 9110
// 5.6.2), as method names and upgrade protocols are.
func (ch *checker) tokens(field string, vals []string) {
	for j, v := range vals {
		if !isToken(v) {
			ch.add(fmt.Sprintf("%s[%d]", field, j), "must be a token (letters, digits, !#$%%&'*+-.^_`|~), got %q", v)
		}
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (ch *checker) backends(backends []Backend) {
	first := map[string]int{}
	for i, b := range backends {
		at := "backends[" + strconv.Itoa(i) + "]"
		switch j, dup := first[b.Name]; {
		case b.Name == "":
			ch.add(at+".name", "required")
		case dup:
			ch.add(at+".name", "duplicate backend name %q (also backends[%d])", b.Name, j)
		default:
			first[b.Name] = i
		}
		if len(b.MatchLabels) == 0 && len(b.URLs) == 0 {
			ch.add(at, "needs match_labels or urls (or both)")
		}
		ch.matchLabels(at+".match_labels", b.MatchLabels)
		ch.urls(at+".urls", b.URLs)
		ch.upstream(at, b)
		ch.port(at+".port", b.Port)
	}
}

func (ch *checker) matchLabels(at string, labels []string) {
	first := map[string]int{}
	for j, l := range labels {
		field := at + "[" + strconv.Itoa(j) + "]"
		key, _, err := parseLabel(l)
		if err != nil {
			ch.add(field, "%s", err.Error())
			continue
		}
		if k, dup := first[key]; dup {
			ch.add(field, "repeats label key %q (also match_labels[%d])", key, k)
			continue
		}
		first[key] = j
	}
}

func (ch *checker) urls(at string, urls []string) {
	first := map[string]int{}
	for j, raw := range urls {
		field := at + "[" + strconv.Itoa(j) + "]"
		if msg := checkURL(raw); msg != "" {
			ch.add(field, "%s", msg)
			continue
		}
		if k, dup := first[raw]; dup {
			ch.add(field, "duplicate url %q (also urls[%d])", raw, k)
			continue
		}
		first[raw] = j
	}
}

// checkURL returns what is wrong with a static upstream URL, or "". It must
// be http(s)://host[:port] with an optional trailing "/".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Sprintf("invalid url %q: %v", raw, err)
	}
	switch {
	case !ValidProtocol(u.Scheme):
		return fmt.Sprintf("url %q must start with http://, h2c:// or https://, such as \"http://host:8080\"", raw)
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Sprintf("url %q has no host, want \"%s://host:port\"", raw, u.Scheme)
	case u.User != nil:
		return fmt.Sprintf("url %q must not contain user info", raw)
	case u.Path != "" && u.Path != "/":
		return fmt.Sprintf("url %q must not have a path (%q); routes pass the request path through", raw, u.Path)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Sprintf("url %q must not have a query", raw)
	case u.Fragment != "":
		return fmt.Sprintf("url %q must not have a fragment", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("url %q: port must be in 1..65535, got %s", raw, p)
		}
	}
	return ""
}

func (ch *checker) server(s Server) {
	ch.port("server.admin_port", s.AdminPort)
	ch.nonNegative("server.read_header_timeout", s.ReadHeaderTimeout)
	ch.nonNegative("server.idle_timeout", s.IdleTimeout)
	ch.nonNegative("server.shutdown_grace", s.ShutdownGrace)
	ch.tls(s.TLS)
}

func (ch *checker) port(field string, p int) {
	if p < 0 || p > 65535 {
		ch.add(field, "must be in 0..65535, got %d", p)
	}
}

func (ch *checker) nonNegative(field string, d Duration) {
	if d < 0 {
		ch.add(field, "must not be negative, got %s", d)
	}
}
