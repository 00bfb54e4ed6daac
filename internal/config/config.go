// Package config defines rgate's configuration file: its schema (the YAML
// field names are a user contract), strict loading, defaults and validation.
//
// A seed-format file (routes, default_response, backends) keeps working
// unchanged; every newer option is an optional key with a safe default.
package config

import "time"

// Config is one whole rgate configuration file.
type Config struct {
	// Routes map a request path prefix to a backend. The longest matching
	// prefix wins.
	Routes []Route `yaml:"routes"`
	// DefaultResponse is what the gateway answers when no route matches.
	// Default: status 404 with body "no route matches this path".
	DefaultResponse DefaultResponse `yaml:"default_response"`
	// Backends name groups of upstream servers: Docker containers found by
	// label, static URLs, or both.
	Backends []Backend `yaml:"backends"`
	// Server holds listener settings. Every field is optional.
	Server Server `yaml:"server"`

	// Path is the file this config was loaded from (not part of the YAML).
	Path string `yaml:"-"`
	// lines maps field paths to the lines they are on in Path, so that
	// Validate can cite them (not part of the YAML; nil when built in code).
	lines lineIndex `yaml:"-"`
}

// Route sends requests whose path starts with PathPrefix to Backend.
type Route struct {
	// PathPrefix is a plain string prefix of the request path; it must start
	// with "/". Required.
	PathPrefix string `yaml:"path_prefix"`
	// Backend is the name of an entry in backends. Required.
	Backend string `yaml:"backend"`
	// Timeout bounds the whole upstream exchange (connect, send, response
	// headers); past it the gateway answers 504. Default 30s.
	Timeout Duration `yaml:"timeout"`
}

// DefaultResponse is the answer for requests that match no route.
type DefaultResponse struct {
	// Body is sent byte for byte. Default "no route matches this path".
	Body string `yaml:"body"`
	// StatusCode must be in 100..599. Default 404.
	StatusCode int `yaml:"status_code"`
}

// Backend is a named group of upstream servers.
type Backend struct {
	// Name is unique among backends and referenced by routes. Required.
	Name string `yaml:"name"`
	// MatchLabels are "key=value" Docker labels; a running container that
	// carries all of them serves this backend.
	MatchLabels []string `yaml:"match_labels"`
	// URLs are static upstreams ("http://host:port") that serve beside any
	// matching containers.
	URLs []string `yaml:"urls"`
	// Port is the container port to use when a container has no rgate.port
	// label. Default 0: the container's only published, else only exposed, port.
	Port int `yaml:"port"`
	// Network is the Docker network whose IP to use when a container is on
	// several and has no rgate.network label. Default "": its only network.
	Network string `yaml:"network"`
}

// Server holds listener settings.
type Server struct {
	// AdminPort serves the admin endpoints on their own port. Default 0: on
	// the traffic port.
	AdminPort int `yaml:"admin_port"`
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive client connections. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ShutdownGrace bounds how long in-flight requests may finish after
	// SIGINT/SIGTERM. Default 15s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
}

// Duration is a time.Duration written as a Go duration string ("30s", "1m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults used when a key is absent.
const (
	DefaultStatusCode        = 404
	DefaultBody              = "no route matches this path"
	DefaultRouteTimeout      = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownGrace     = 15 * time.Second
)
