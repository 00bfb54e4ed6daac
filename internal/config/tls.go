package config

import (
	"net/url"
	"strconv"
	"strings"
)

// TLS is the HTTPS listener. Absent: no TLS listener.
type TLS struct {
	// Port is the HTTPS listener's port; --tls-port overrides it.
	// Required (here or on the command line).
	Port int `yaml:"port"`
	// Certificates are static certificates, chosen by SNI; the first is
	// the default for a handshake no certificate's names cover.
	Certificates []Certificate `yaml:"certificates"`
	// ACME obtains and renews certificates automatically (RFC 8555),
	// beside or instead of Certificates.
	ACME *ACME `yaml:"acme"`
	// MinVersion is the lowest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
	// ClientCAFile, when set, requires every client to present a
	// certificate signed by one of these CAs (PEM): mutual TLS.
	ClientCAFile string `yaml:"client_ca_file"`
	// RedirectHTTP makes the plain port answer 308 to the https:// URL,
	// except for ACME http-01 challenges and the admin endpoints.
	// Default false.
	RedirectHTTP bool `yaml:"redirect_http"`
	// HSTS, when set, is the Strict-Transport-Security value sent on
	// every HTTPS answer, e.g. "max-age=31536000; includeSubDomains".
	HSTS string `yaml:"hsts"`
}

// Certificate is one static certificate: a PEM chain and its key.
type Certificate struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ACME settings for automatic certificates.
type ACME struct {
	// Email is the account's contact address.
	Email string `yaml:"email"`
	// Directory is the CA's ACME directory URL. Default Let's Encrypt's
	// production directory.
	Directory string `yaml:"directory"`
	// DirectoryCAFile is a PEM file of CAs to trust for the directory's
	// own TLS (a private ACME server). Default: the system's roots.
	DirectoryCAFile string `yaml:"directory_ca_file"`
	// Storage is the directory where the account key and certificates
	// are kept, reused across restarts. Default ./rgate-certs. With a
	// cluster: section they are kept in the cluster's Redis instead, and
	// this directory is not used.
	Storage string `yaml:"storage"`
	// Domains are the names to obtain certificates for. Required.
	Domains []string `yaml:"domains"`
	// Challenges are the challenge types offered: http-01 (answered on
	// the plain port) and tls-alpn-01 (on the TLS port). Default both.
	Challenges []string `yaml:"challenges"`
}

// Defaults of the TLS settings.
const (
	DefaultTLSMinVersion  = "1.2"
	DefaultACMEDirectory  = "https://acme-v02.api.letsencrypt.org/directory"
	DefaultACMEStorage    = "./rgate-certs"
	ChallengeHTTP01       = "http-01"
	ChallengeTLSALPN01    = "tls-alpn-01"
	tlsFieldCertificates  = "server.tls.certificates"
	tlsFieldACMEDomains   = "server.tls.acme.domains"
	tlsFieldACMEChallenge = "server.tls.acme.challenges"
)

// applyDefaults fills the TLS block's absent settings.
func (t *TLS) applyDefaults() {
	if t.MinVersion == "" {
		t.MinVersion = DefaultTLSMinVersion
	}
	if a := t.ACME; a != nil {
		if a.Directory == "" {
			a.Directory = DefaultACMEDirectory
		}
		if a.Storage == "" {
			a.Storage = DefaultACMEStorage
		}
		if a.Challenges == nil {
			a.Challenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}
		}
	}
}

// tls checks the TLS block. The port may come from --tls-port, so a
// missing one is checked where the flags are known.
func (ch *checker) tls(t *TLS) {
	if t == nil {
		return
	}
	ch.port("server.tls.port", t.Port)
	if len(t.Certificates) == 0 && t.ACME == nil {
		ch.add("server.tls", "needs certificates, acme, or both")
	}
	for i, c := range t.Certificates {
		at := tlsFieldCertificates + "[" + strconv.Itoa(i) + "]"
		if c.CertFile == "" {
			ch.add(at+".cert_file", "required: a PEM certificate chain")
		}
		if c.KeyFile == "" {
			ch.add(at+".key_file", "required: the certificate's PEM private key")
		}
	}
	switch t.MinVersion {
	case "1.2", "1.3":
	default:
		ch.add("server.tls.min_version", "must be \"1.2\" or \"1.3\", got %q", t.MinVersion)
	}
	if a := t.ACME; a != nil {
		ch.acme(a)
	}
}

func (ch *checker) acme(a *ACME) {
	if u, err := url.Parse(a.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
		ch.add("server.tls.acme.directory", "must be an https:// URL, got %q", a.Directory)
	}
	if len(a.Domains) == 0 {
		ch.add(tlsFieldACMEDomains, "required: the names to obtain certificates for")
	}
	for i, d := range a.Domains {
		if !validDomain(d) {
			ch.add(tlsFieldACMEDomains+"["+strconv.Itoa(i)+"]", "must be a DNS name such as \"api.example.com\", got %q", d)
		}
	}
	if len(a.Challenges) == 0 {
		ch.add(tlsFieldACMEChallenge, "must offer at least one of %s, %s", ChallengeHTTP01, ChallengeTLSALPN01)
	}
	for i, c := range a.Challenges {
		if c != ChallengeHTTP01 && c != ChallengeTLSALPN01 {
			ch.add(tlsFieldACMEChallenge+"["+strconv.Itoa(i)+"]", "must be %s or %s, got %q", ChallengeHTTP01, ChallengeTLSALPN01, c)
		}
	}
}

// validDomain reports whether d is a plain DNS name (letters, digits,
// hyphens; dot-separated labels of 1-63 bytes): what a CA issues for.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasSuffix(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
