package config

import (
	"fmt"
	"strings"
)

// Name identifies the route in stats, metrics and policy state: its
// path_prefix, or host + path_prefix for a route with a host
// ("api.example.com/api"). A prefix starts with "/" and a host has none,
// so two routes share a name exactly when they share host and prefix,
// which validation forbids.
func (r Route) Name() string { return CanonicalHost(r.Host) + r.PathPrefix }

// CanonicalHost is the form a route's host is matched in: lower case,
// without one trailing dot ("API.example.com." -> "api.example.com").
func CanonicalHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// maxHostLen is the longest DNS name (RFC 1035 2.3.4, in its text form).
const maxHostLen = 253

// checkHost returns what is wrong with a route's host, or "". A host is a
// DNS name in ASCII (an IDN in its punycode form), optionally with one
// trailing dot, whose first label may be "*" (one label, any name).
func checkHost(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return fmt.Sprintf("%q: a host name, not a URL: drop the scheme, like \"api.example.com\"", h)
	case strings.Contains(h, "/"):
		return fmt.Sprintf("%q: a host name has no path; match paths with path_prefix", h)
	case strings.HasPrefix(h, "[") || strings.Count(h, ":") > 1:
		return fmt.Sprintf("%q: an IPv6 address is not a host name; route by name", h)
	case strings.Contains(h, ":"):
		return fmt.Sprintf("%q: leave the port out (the request's port is ignored)", h)
	case h == "*" || h == "*.":
		return fmt.Sprintf("%q: a wildcard alone would match every host; leave host out instead", h)
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			return fmt.Sprintf("%q: write an internationalised name in its ASCII (punycode) form, "+
				"such as \"xn--bcher-kva.example\" for \"bücher.example\"", h)
		}
	}
	name := strings.TrimSuffix(h, ".")
	if len(name) > maxHostLen {
		return fmt.Sprintf("%q: longer than %d characters", h, maxHostLen)
	}
	labels := strings.Split(name, ".")
	if labels[0] == "*" {
		labels = labels[1:]
	}
	for _, l := range labels {
		if msg := checkLabel(l); msg != "" {
			return fmt.Sprintf("%q: %s", h, msg)
		}
	}
	return ""
}

// checkLabel returns what is wrong with one label of a host name, or "".
func checkLabel(l string) string {
	switch {
	case l == "":
		return "empty label (a leading dot, or two dots in a row)"
	case strings.Contains(l, "*"):
		return "a wildcard covers exactly one label, like \"*.example.com\""
	case len(l) > 63:
		return fmt.Sprintf("label %q is longer than 63 characters", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with \"-\"", l)
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Sprintf("%q is not allowed in a host name (letters, digits, \"-\" and \"_\")", string(c))
		}
	}
	return ""
}
