// Package config defines rgate's configuration file: its schema (the YAML
// field names are a user contract), strict loading, defaults and validation.
//
// A seed-format file (routes, default_response, backends) keeps working
// unchanged; every newer option is an optional key with a safe default.
package config

import "time"

// Config is one whole rgate configuration file.
type Config struct {
	// Routes map a request host and path prefix to a backend. Routes for
	// the request's host come first (exact names before wildcards), then
	// those without a host; among them the longest matching prefix wins.
	Routes []Route `yaml:"routes"`
	// DefaultResponse is what the gateway answers when no route matches.
	// Default: status 404 with body "no route matches this path".
	DefaultResponse DefaultResponse `yaml:"default_response"`
	// Backends name groups of upstream servers: Docker containers found by
	// label, static URLs, or both.
	Backends []Backend `yaml:"backends"`
	// Server holds listener settings. Every field is optional.
	Server Server `yaml:"server"`
	// AccessLog writes one JSON line per request to stdout. Default off.
	AccessLog AccessLog `yaml:"access_log"`
	// Cluster shares rate limits, stats and ACME state between replicas
	// through Redis. Default absent: each replica on its own.
	Cluster *Cluster `yaml:"cluster"`
	// Docker lists the Docker engines to watch. Default: one engine, from
	// DOCKER_HOST, else the local socket.
	Docker Docker `yaml:"docker"`
	// Tracing exports OpenTelemetry spans over OTLP/HTTP. Default off.
	Tracing *Tracing `yaml:"tracing"`
	// Consumers are the known callers, with their credentials (hashes
	// only). Default none.
	Consumers []Consumer `yaml:"consumers"`
	// Auth are named authentication policies that routes refer to.
	// Default none.
	Auth []AuthPolicy `yaml:"auth"`

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
	// Host, when set, limits the route to requests for this host (the Host
	// header, which for HTTP/2 is :authority; its port and one trailing
	// dot are ignored): an exact name ("api.example.com") or a wildcard
	// for one label ("*.example.com"), matched case-insensitively, an IDN
	// in its ASCII (punycode) form. Default "": requests for any host.
	Host string `yaml:"host"`
	// Backend is the name of an entry in backends. Required.
	Backend string `yaml:"backend"`
	// Timeout bounds the whole upstream exchange (connect, send, response
	// headers); past it the gateway answers 504. Default 30s.
	Timeout Duration `yaml:"timeout"`
	// StripPrefix removes PathPrefix from the path sent upstream
	// ("/api/payment/charge" -> "/charge"). Default false.
	StripPrefix bool `yaml:"strip_prefix"`
	// Retries is how many more times an idempotent request (GET, HEAD,
	// OPTIONS, TRACE, and PUT/DELETE without a body) is sent to a different
	// upstream after a connect error or a 502/503 answer. Default 2; 0
	// disables retries.
	Retries *int `yaml:"retries"`
	// MaxBodyBytes caps the request body; a larger one gets 413 (chunked
	// bodies too). Default 0: no limit.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// RateLimit limits requests per client key. Default off.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Cache stores GET/HEAD 200 answers. Default off.
	Cache *Cache `yaml:"cache"`
	// CORS answers preflight requests and adds CORS headers. Default off.
	CORS *CORS `yaml:"cors"`
	// Headers sets and removes request and response headers. Default none.
	Headers *Headers `yaml:"headers"`
	// Methods, when set, are the only request methods the route serves;
	// any other gets 405 with an Allow header. Default: every method but
	// TRACE (which echoes a request back, cookies and all, and is refused
	// unless listed here).
	Methods []string `yaml:"methods"`
	// Upgrades are the protocols a client may switch the connection to
	// (the Upgrade header, case-insensitive); a request asking for another
	// is served as an ordinary request, without its Upgrade header. h2c is
	// never forwarded. Default [websocket].
	Upgrades []string `yaml:"upgrades"`
	// Auth names an entry of auth: requests must authenticate by it (401
	// otherwise). Default "": no authentication.
	Auth string `yaml:"auth"`
	// AllowConsumers, when not empty, are the only consumers the route
	// serves; any other authenticated caller gets 403. Needs auth.
	AllowConsumers []string `yaml:"allow_consumers"`
	// ForwardCredentials sends the client's credential (the API key, the
	// Authorization header) on to the upstream. Default false: removed.
	ForwardCredentials bool `yaml:"forward_credentials"`
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
	// Balance picks an upstream per request: "random" (default),
	// "round_robin" or "least_conn".
	Balance string `yaml:"balance"`
	// HealthCheck probes every upstream actively. Default off (passive
	// ejection after repeated connect failures is always on).
	HealthCheck *HealthCheck `yaml:"health_check"`
	// CircuitBreaker stops sending traffic to a failing backend for a while.
	// Default off.
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"`
	// Protocol is how rgate speaks to the backend's containers: http
	// (default), h2c (HTTP/2 without TLS, for gRPC) or https. A
	// container's rgate.protocol label overrides it; a url's scheme
	// (http://, h2c://, https://) sets it for that url.
	Protocol string `yaml:"protocol"`
	// TLS tunes connections to https upstreams. Default: verify against
	// the system's roots.
	TLS *UpstreamTLS `yaml:"tls"`
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
	// MaxHeaderBytes caps the size of a request's head: the request line,
	// the header fields and the empty line that ends them, in bytes as
	// received (empty lines before the request line do not count). A head
	// of exactly MaxHeaderBytes is accepted, one byte more gets 431.
	// Exception: on a connection rgate has handed to net/http (after a
	// chunked upload, an Upgrade, an HTTP/1.0 request, a head over 4KiB,
	// ...), net/http counts a later request's head from the bytes it reads
	// after the request before it: what of the head came in with that
	// request (at most 4096 bytes) is not counted, and a cap under 4097
	// bytes is 4097 there. Default 1MiB.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// TrustedProxies are the addresses (IPs or CIDR ranges) of proxies in
	// front of rgate whose X-Forwarded-For/-Proto/-Host are believed. From
	// any other client those headers are replaced. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TLS is the HTTPS listener. Default absent: plaintext only.
	TLS *TLS `yaml:"tls"`
	// HTTP2 offers HTTP/2 (ALPN h2) on the TLS port. Default true.
	HTTP2 *bool `yaml:"http2"`
	// H2C serves HTTP/2 without TLS on the plain port (prior knowledge).
	// Default false.
	H2C bool `yaml:"h2c"`
}

// HTTP2On reports whether the TLS port offers HTTP/2.
func (s Server) HTTP2On() bool { return s.HTTP2 == nil || *s.HTTP2 }

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
	DefaultMaxHeaderBytes    = Mebibyte
	DefaultRetries           = 2
)
