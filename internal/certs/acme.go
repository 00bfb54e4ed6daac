package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// ACMEOptions set up automatic certificates.
type ACMEOptions struct {
	// Directory is the CA's ACME directory URL; Email the account's
	// contact address.
	Directory, Email string
	// DirectoryCAFile, when set, is a PEM file of the CAs trusted for the
	// directory's own TLS (instead of the system's roots).
	DirectoryCAFile string
	// Storage is the directory that keeps the account key and the
	// certificates across restarts; unused when Shared is set.
	Storage string
	// Shared, when set, keeps the account, certificates, locks and
	// pending challenge tokens instead of Storage: a storage every
	// replica of a cluster uses, so they obtain each certificate once and
	// any of them answers a challenge another one started.
	Shared certmagic.Storage
	// Domains are the names to obtain certificates for.
	Domains []string
	// HTTP01 and TLSALPN01 are the challenges offered.
	HTTP01, TLSALPN01 bool
	// Host, HTTPPort and TLSPort are where rgate's own listeners answer
	// the challenges: http-01 on the plain port, tls-alpn-01 on the TLS
	// port.
	Host              string
	HTTPPort, TLSPort int
	Log               *slog.Logger
}

// renewalWindow is the part of a certificate's lifetime left when it is
// renewed: a third, so renewal starts at two thirds of the lifetime.
const renewalWindow = 1.0 / 3

// ACME obtains and renews certificates for its domains with certmagic,
// and serves them (a Managed source for a Store). Certificates already in
// storage are loaded when it is made, so a restart serves them at once
// without asking the CA; Run obtains the missing ones and renews.
type ACME struct {
	o       ACMEOptions
	log     *slog.Logger
	cache   *certmagic.Cache
	magic   *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	storage certmagic.Storage
	domains []string
	managed map[string]bool

	mu    sync.Mutex
	state map[string]acmeState // by domain
}

// acmeState is what Status reports beside the certificate itself.
type acmeState struct {
	obtainedAt time.Time // when the certificate serving now was obtained
	lastErr    string    // the last attempt's failure, "" after a success
}

// NewACME sets up automatic certificates and loads the ones in storage.
// A storage directory that cannot be made, or a DirectoryCAFile that
// holds no certificate, is an error; the CA is not contacted here.
func NewACME(o ACMEOptions) (*ACME, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var roots *x509.CertPool
	if o.DirectoryCAFile != "" {
		pem, err := os.ReadFile(o.DirectoryCAFile)
		if err != nil {
			return nil, fmt.Errorf("directory CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory CA file %s holds no PEM certificate", o.DirectoryCAFile)
		}
	}
	storage := o.Shared
	if storage == nil {
		if err := os.MkdirAll(o.Storage, 0o700); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		storage = &certmagic.FileStorage{Path: o.Storage}
	}
	a := &ACME{o: o, log: o.Log, storage: storage, managed: map[string]bool{}, state: map[string]acmeState{}}
	for _, d := range o.Domains {
		d = strings.ToLower(d)
		if !a.managed[d] {
			a.managed[d] = true
			a.domains = append(a.domains, d)
		}
	}
	zl := zapLogger(o.Log)
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		Logger:           zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		RenewalWindowRatio: renewalWindow,
		Storage:            a.storage,
		KeySource:          certmagic.StandardKeyGenerator{KeyType: certmagic.P256},
		OnEvent:            a.onEvent,
		ShouldEmitFunc:     func(event string) bool { return acmeEvents[event] },
		// Renewal follows the lifetime alone (not the CA's renewal info),
		// and nothing is fetched when a stored certificate is loaded.
		DisableARI: true,
		OCSP:       certmagic.OCSPConfig{DisableStapling: true},
		Logger:     zl,
	})
	a.issuer = certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		CA:                      o.Directory,
		Email:                   o.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    !o.HTTP01,
		DisableTLSALPNChallenge: !o.TLSALPN01,
		ListenHost:              o.Host,
		AltHTTPPort:             o.HTTPPort,
		AltTLSALPNPort:          o.TLSPort,
		Logger:                  zl,
	})
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	for _, d := range a.domains {
		if _, err := a.magic.CacheManagedCertificate(context.Background(), d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("stored ACME certificate does not load; a new one will be obtained", "name", d, "error", err)
			a.record(d, time.Time{}, err.Error())
		}
	}
	return a, nil
}

// Run obtains the certificates not in storage and renews them until ctx
// is done, then stops certmagic's background maintenance. Failures are
// logged and retried with backoff; they never stop rgate.
//
// It first waits until rgate's own listeners accept connections on the
// challenge ports: certmagic answers a challenge itself on a port it can
// bind, and leaves it to the listener already there otherwise.
func (a *ACME) Run(ctx context.Context) {
	defer a.cache.Stop()
	if !a.awaitListeners(ctx) {
		return
	}
	// Stored certificates due for renewal; then the missing ones.
	if err := a.cache.RenewManagedCertificates(ctx); err != nil {
		a.log.Error("checking stored ACME certificates for renewal", "error", err)
	}
	if err := a.magic.ManageAsync(ctx, a.domains); err != nil {
		a.log.Error("starting ACME certificate management", "error", err)
	}
	<-ctx.Done()
}

// awaitListeners waits until the challenge ports accept connections; false
// when ctx is done first.
func (a *ACME) awaitListeners(ctx context.Context) bool {
	var ports []int
	if a.o.HTTP01 {
		ports = append(ports, a.o.HTTPPort)
	}
	if a.o.TLSALPN01 {
		ports = append(ports, a.o.TLSPort)
	}
	for _, p := range ports {
		addr := net.JoinHostPort(a.o.Host, strconv.Itoa(p))
		for {
			c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-ctx.Done():
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return true
}

// Manages reports whether name is one of the configured domains, whether
// or not its certificate has been obtained yet (a tls-alpn-01 validation
// comes before it is).
func (a *ACME) Manages(name string) bool { return a.managed[name] }

// GetCertificate serves a handshake for a managed name, and answers
// tls-alpn-01 validations (a hello offering only acme-tls/1).
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.magic.GetCertificate(hello)
}

// HTTPHandler wraps h to answer http-01 challenges ahead of it; nil when
// http-01 is not offered.
func (a *ACME) HTTPHandler() func(http.Handler) http.Handler {
	if !a.o.HTTP01 {
		return nil
	}
	return a.issuer.HTTPChallengeHandler
}

// Status describes each domain's certificate; a domain not obtained yet
// has a zero NotAfter (and the last failure, if any).
func (a *ACME) Status() []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Status, 0, len(a.domains))
	for _, d := range a.domains {
		st := a.state[d]
		s := Status{Names: []string{d}, Source: SourceACME, LoadedAt: st.obtainedAt, LastError: st.lastErr}
		if leaf := a.leaf(d); leaf != nil {
			s.Names, s.Issuer, s.NotAfter = names(leaf), leaf.Issuer.String(), leaf.NotAfter
		}
		out = append(out, s)
	}
	return out
}

// leaf is the cached certificate for domain that lasts longest, or nil.
func (a *ACME) leaf(domain string) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range a.cache.AllMatchingCertificates(domain) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.NotAfter)) {
			best = c.Leaf
		}
	}
	return best
}

// acmeEvents are the certmagic events onEvent acts on.
var acmeEvents = map[string]bool{"cert_obtained": true, "cert_failed": true, "cached_managed_cert": true}

// onEvent keeps each domain's state and logs the outcomes.
func (a *ACME) onEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cert_obtained":
		a.record(name, time.Now(), "")
		msg := "ACME certificate obtained"
		if renewal {
			msg = "ACME certificate renewed"
		}
		a.log.Info(msg, "name", name, "ca", a.o.Directory)
	case "cert_failed":
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("unknown error")
		}
		a.record(name, time.Time{}, err.Error())
		a.log.Error("ACME certificate not obtained; retrying with backoff",
			"name", name, "renewal", renewal, "error", err)
	case "cached_managed_cert": // loaded from storage: obtained when it was stored
		sans, _ := data["sans"].([]string)
		for _, san := range sans {
			if info, err := a.storage.Stat(ctx, certmagic.StorageKeys.SiteCert(a.issuer.IssuerKey(), san)); err == nil && a.managed[san] {
				a.record(san, info.Modified, "")
			}
		}
	}
	return nil
}

// record sets a domain's last error, and when obtainedAt is not zero the
// time its certificate was obtained.
func (a *ACME) record(domain string, obtainedAt time.Time, lastErr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.state[domain]
	if !obtainedAt.IsZero() {
		st.obtainedAt = obtainedAt
	}
	st.lastErr = lastErr
	a.state[domain] = st
}
