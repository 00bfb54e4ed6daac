package route

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// Labels rgate reads on containers.
const (
	LabelEnable  = "rgate.enable"
	LabelPort    = "rgate.port"
	LabelNetwork = "rgate.network"
	// LabelProtocol overrides the backend's protocol for one container.
	LabelProtocol = "rgate.protocol"
)

// Eligible decides whether container c (which already matches backend b's
// labels) can serve, and where. It returns the upstream "host:port", or a
// reason it cannot serve; warn marks reasons that are configuration
// mistakes worth a warning rather than ordinary lifecycle states. When
// several reasons apply it gives the first of: disabled, not running, not
// healthy, no address; Explain lists them all, in the same words.
func Eligible(c *docker.Container, b config.Backend) (host, reason string, warn bool) {
	if r := disabledReason(c); r != "" {
		return "", r, false
	}
	if r := cmp.Or(stateReason(c), healthReason(c)); r != "" {
		return "", r, false
	}
	if r := protocolReason(c); r != "" {
		return "", r, true
	}
	host, reason = address(c, b)
	if reason != "" {
		return "", reason, true
	}
	return host, "", false
}

// Protocol is how rgate speaks to container c of backend b: its
// rgate.protocol label, else the backend's protocol, else http.
func Protocol(c *docker.Container, b config.Backend) string {
	if p, ok := c.Labels[LabelProtocol]; ok {
		return p
	}
	return cmp.Or(b.Protocol, config.ProtocolHTTP)
}

// protocolReason says why c's rgate.protocol label is unusable, or "".
func protocolReason(c *docker.Container) string {
	if p, ok := c.Labels[LabelProtocol]; ok && !config.ValidProtocol(p) {
		return "label " + LabelProtocol + " has value " + quoteIfOdd(p) + ", want http, h2c or https"
	}
	return ""
}

// disabledReason says why c opted out with rgate.enable=false, or "".
func disabledReason(c *docker.Container) string {
	if c.Labels[LabelEnable] == "false" {
		return "disabled by " + LabelEnable + "=false"
	}
	return ""
}

// stateReason says why c is not running, or "".
func stateReason(c *docker.Container) string {
	if c.State != "running" {
		return "not running (state " + c.State + ")"
	}
	return ""
}

// healthReason says why c's Docker HEALTHCHECK keeps it out, or "".
func healthReason(c *docker.Container) string {
	if c.Health != "" && c.Health != "healthy" {
		return "not healthy (docker health is " + c.Health + ")"
	}
	return ""
}

// address resolves the "host:port" at which rgate reaches c for backend b,
// or says why it cannot.
func address(c *docker.Container, b config.Backend) (host, reason string) {
	port, reason := containerPort(c, b)
	if reason != "" {
		return "", reason
	}
	return containerHost(c, b, port)
}

// containerPort picks the container-side port: label rgate.port, else the
// backend's port option, else the only published port, else the only
// exposed port.
func containerPort(c *docker.Container, b config.Backend) (uint16, string) {
	if v, ok := c.Labels[LabelPort]; ok {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 {
			return 0, fmt.Sprintf("no usable port: label %s=%q is not a port number (1-65535)", LabelPort, v)
		}
		return uint16(p), ""
	}
	if b.Port > 0 {
		return uint16(b.Port), ""
	}
	var published, exposed []uint16
	for _, p := range c.Ports {
		if p.Proto != "" && p.Proto != "tcp" {
			continue
		}
		if !slices.Contains(exposed, p.Private) {
			exposed = append(exposed, p.Private)
		}
		if p.HostPort != 0 && !slices.Contains(published, p.Private) {
			published = append(published, p.Private)
		}
	}
	switch {
	case len(published) == 1:
		return published[0], ""
	case len(published) > 1:
		return 0, fmt.Sprintf("no usable port: %d published ports; set label %s or the backend's port", len(published), LabelPort)
	case len(exposed) == 1:
		return exposed[0], ""
	case len(exposed) > 1:
		return 0, fmt.Sprintf("no usable port: %d exposed ports; set label %s or the backend's port", len(exposed), LabelPort)
	}
	return 0, "no usable port: none published or exposed; set label " + LabelPort + " or the backend's port"
}

// containerHost finds the address at which port of c is reachable from
// rgate. Host-network and published ports are on c's Docker host: at its
// endpoint's address (c.HostAddress), loopback for a local engine.
func containerHost(c *docker.Container, b config.Backend, port uint16) (string, string) {
	ps := strconv.Itoa(int(port))
	if c.NetworkMode == "host" {
		return net.JoinHostPort(cmp.Or(c.HostAddress, "127.0.0.1"), ps), ""
	}
	for _, p := range c.Ports {
		if p.Private == port && p.HostPort != 0 && (p.Proto == "" || p.Proto == "tcp") {
			host, reason := publishedHost(p.HostIP, c)
			if reason != "" {
				return "", reason
			}
			return net.JoinHostPort(host, strconv.Itoa(int(p.HostPort))), ""
		}
	}
	netName := c.Labels[LabelNetwork]
	if netName == "" {
		netName = b.Network
	}
	if netName != "" {
		ip, ok := c.Networks[netName]
		if !ok {
			return "", fmt.Sprintf("not attached to network %q", netName)
		}
		return net.JoinHostPort(ip, ps), ""
	}
	switch len(c.Networks) {
	case 0:
		return "", "no IP address: the container is on no network and publishes no port"
	case 1:
		for _, ip := range c.Networks {
			return net.JoinHostPort(ip, ps), ""
		}
	}
	return "", fmt.Sprintf("ambiguous network: on %d networks; set label %s or the backend's network", len(c.Networks), LabelNetwork)
}

// publishedHost is where a port published on hostIP of c's Docker host is
// dialled. On a local engine (no HostAddress): bindHost. On another host, a
// wildcard binding is reached at the endpoint's address, a binding to one
// of that host's IPs at that IP, and one to its loopback not at all.
func publishedHost(hostIP string, c *docker.Container) (string, string) {
	if c.HostAddress == "" {
		return bindHost(hostIP), ""
	}
	switch hostIP {
	case "", "0.0.0.0", "::":
		return c.HostAddress, ""
	}
	if ip := net.ParseIP(hostIP); ip != nil && ip.IsLoopback() && !isLoopbackHost(c.HostAddress) {
		return "", "published on " + hostIP + " only: not reachable from another host (endpoint " +
			c.Endpoint + " is at " + c.HostAddress + ")"
	}
	return hostIP, ""
}

// isLoopbackHost reports whether h is a loopback IP or "localhost".
func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// bindHost maps a published port's host IP to an address to dial: the
// wildcard addresses mean loopback works.
func bindHost(ip string) string {
	switch ip {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return ip
}
