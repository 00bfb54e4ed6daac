package config

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Docker says which Docker engines rgate watches for containers.
type Docker struct {
	// Endpoints are the engines, each watched on its own (list, events,
	// reconnect): one that goes away keeps its last known containers while
	// the others keep updating, and a backend's containers may come from
	// any of them. Default none: one engine, from DOCKER_HOST (and
	// DOCKER_CERT_PATH, DOCKER_TLS_VERIFY), else the local socket.
	Endpoints []DockerEndpoint `yaml:"endpoints"`
}

// DockerEndpoint is one Docker engine.
type DockerEndpoint struct {
	// Name identifies the engine in /explain, /health, the dashboard,
	// metrics and logs; unique among endpoints. Required.
	Name string `yaml:"name"`
	// Host is the engine's API: "unix:///var/run/docker.sock" or
	// "tcp://host:port". Required. Plain tcp:// (no tls) is accepted but
	// warned about: the Docker API is root on its host to anyone who can
	// reach it.
	Host string `yaml:"host"`
	// TLS authenticates rgate to a tcp:// engine with a client certificate
	// and verifies the engine's certificate. Default absent: plain TCP.
	TLS *DockerTLS `yaml:"tls"`
	// Address is where this engine's published and host-network ports are
	// reached (an IP or a DNS name, no port). Default: the host of a tcp://
	// Host, or loopback (127.0.0.1, as with one local engine) for a unix
	// socket.
	Address string `yaml:"address"`
}

// DockerTLS are the PEM files of a TLS connection to a Docker engine.
type DockerTLS struct {
	// CAFile verifies the engine's certificate. Default: the system's
	// roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are rgate's client certificate and its key,
	// both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Host schemes a Docker endpoint may use.
const (
	DockerSchemeUnix = "unix"
	DockerSchemeTCP  = "tcp"
)

const dockerField = "docker.endpoints"

// applyDefaults fills each endpoint's absent address from its host.
func (d *Docker) applyDefaults() {
	for i := range d.Endpoints {
		e := &d.Endpoints[i]
		if e.Address != "" {
			continue
		}
		if u, err := url.Parse(e.Host); err == nil && u.Scheme == DockerSchemeTCP {
			e.Address = u.Hostname()
		}
	}
}

// docker checks the docker block.
func (ch *checker) docker(d Docker) {
	names := map[string]int{}
	hosts := map[string]int{}
	for i, e := range d.Endpoints {
		at := dockerField + "[" + strconv.Itoa(i) + "]"
		switch j, dup := names[e.Name]; {
		case e.Name == "":
			ch.add(at+".name", "required: a name for this engine, such as \"host-a\"")
		case !validEndpointName(e.Name):
			ch.add(at+".name", "must be 1-63 letters, digits, '.', '_' or '-', got %q", e.Name)
		case dup:
			ch.add(at+".name", "duplicate endpoint name %q (also %s[%d])", e.Name, dockerField, j)
		default:
			names[e.Name] = i
		}
		scheme := ch.dockerHost(at+".host", e.Host)
		if j, dup := hosts[e.Host]; dup && e.Host != "" {
			ch.add(at+".host", "the same engine as %s[%d] (%q): its containers would be counted twice", dockerField, j, e.Host)
		} else {
			hosts[e.Host] = i
		}
		ch.dockerTLS(at+".tls", e.TLS, scheme)
		if e.Address != "" && !validAddress(e.Address) {
			ch.add(at+".address", "must be an IP address or a host name, without scheme or port, got %q", e.Address)
		}
	}
}

// dockerHost checks an endpoint's host URL and returns its scheme ("" when
// it is unusable).
func (ch *checker) dockerHost(field, host string) string {
	if host == "" {
		ch.add(field, "required: unix:///path/to/docker.sock or tcp://host:port")
		return ""
	}
	u, err := url.Parse(host)
	if err != nil {
		ch.add(field, "invalid URL %q, want unix:///path/to/docker.sock or tcp://host:port", host)
		return ""
	}
	switch u.Scheme {
	case DockerSchemeUnix:
		if u.Host != "" || u.Path == "" {
			ch.add(field, "%q: a unix socket is unix:///absolute/path (three slashes)", host)
			return ""
		}
	case DockerSchemeTCP:
		port := u.Port()
		if n, err := strconv.Atoi(port); u.Hostname() == "" || err != nil || n < 1 || n > 65535 {
			ch.add(field, "%q: want tcp://host:port (2376 is the usual TLS port)", host)
			return ""
		}
		if (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
			ch.add(field, "%q: want tcp://host:port, with no path, user or query", host)
			return ""
		}
	default:
		ch.add(field, "%q: the scheme must be unix:// or tcp:// (reach an ssh-only engine through a socket proxy or TLS)", host)
		return ""
	}
	return u.Scheme
}

// dockerTLS checks an endpoint's tls block; scheme is its host's.
func (ch *checker) dockerTLS(field string, t *DockerTLS, scheme string) {
	if t == nil {
		return
	}
	if scheme == DockerSchemeUnix {
		ch.add(field, "only for tcp:// hosts (a unix socket is not TLS)")
	}
	switch {
	case t.CAFile == "" && t.CertFile == "" && t.KeyFile == "":
		ch.add(field, "needs ca_file, or cert_file and key_file, or all three")
	case t.CertFile != "" && t.KeyFile == "":
		ch.add(field+".key_file", "required with cert_file: the client certificate's PEM private key")
	case t.CertFile == "" && t.KeyFile != "":
		ch.add(field+".cert_file", "required with key_file: the PEM client certificate")
	}
}

// DockerWarnings are the docker block's risky but allowed settings: a
// tcp:// engine without TLS that is not on loopback. Each names the file,
// line and field, like a Problem. cfg must be valid.
func (c *Config) DockerWarnings() Problems {
	ch := &checker{file: c.Path, lines: c.lines}
	for i, e := range c.Docker.Endpoints {
		u, err := url.Parse(e.Host)
		if err != nil || u.Scheme != DockerSchemeTCP || e.TLS != nil || isLoopback(u.Hostname()) {
			continue
		}
		ch.add(dockerField+"["+strconv.Itoa(i)+"].host",
			"%q without tls: the plain Docker API gives root on that host to anyone who can reach the port; "+
				"use TLS client certificates or a socket proxy that allows only container lists and events", e.Host)
	}
	return ch.probs
}

func validEndpointName(n string) bool {
	if len(n) > 63 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("._-", c) >= 0) {
			return false
		}
	}
	return n != ""
}

// validAddress reports whether a is an IP address or a DNS name.
func validAddress(a string) bool {
	if _, err := netip.ParseAddr(a); err == nil {
		return true
	}
	return validDomain(a)
}

// isLoopback reports whether host is a loopback IP or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
