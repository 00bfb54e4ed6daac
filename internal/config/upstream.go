package config

import "fmt"

// Upstream protocols (backends[].protocol, the rgate.protocol label, a
// url's scheme).
const (
	ProtocolHTTP  = "http"
	ProtocolH2C   = "h2c"   // HTTP/2 without TLS (prior knowledge): gRPC
	ProtocolHTTPS = "https" // TLS; HTTP/2 when the upstream offers it
)

// ValidProtocol reports whether p names an upstream protocol.
func ValidProtocol(p string) bool {
	return p == ProtocolHTTP || p == ProtocolH2C || p == ProtocolHTTPS
}

// UpstreamTLS tunes connections to a backend's https upstreams.
type UpstreamTLS struct {
	// CAFile is a PEM file of CAs to trust. Default: the system's roots.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name to verify (and send as SNI). Default: the
	// upstream's host.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CertFile and KeyFile are a client certificate for upstream mTLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// upstream checks a backend's protocol and tls blocks.
func (ch *checker) upstream(at string, b Backend) {
	if b.Protocol != "" && !ValidProtocol(b.Protocol) {
		ch.add(at+".protocol", "must be http, h2c or https, got %q", b.Protocol)
	}
	if t := b.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		ch.add(at+".tls", "cert_file and key_file go together (got %s)", fmt.Sprintf("cert_file %q, key_file %q", t.CertFile, t.KeyFile))
	}
}
