// Package certs keeps the certificates rgate's TLS listener serves. Static
// certificates come from PEM files: loaded at start (a bad one stops rgate
// with the reason), reloaded when a file changes or on Reload (SIGHUP),
// where a bad new file keeps the certificate it would have replaced and
// says why. A handshake gets the certificate whose names cover its SNI
// (exact before wildcard), or the first configured one. Automatic (ACME)
// certificates plug in through Options.Managed (see ACME): a name it
// manages gets its certificate, and a static one while it has none yet.
//
// The loaded set is an immutable value swapped atomically: a handshake
// reads it once, without a lock, and connections already open keep the
// certificate they were given.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pair names a certificate chain file and its private key file (PEM).
type Pair struct {
	CertFile string
	KeyFile  string
}

// Sources of a certificate.
const (
	SourceFile = "file"
	SourceACME = "acme"
)

// Managed is a source of automatic certificates (ACME): it serves the
// names it manages and reports on them.
type Managed interface {
	// Manages reports whether name (lower case, no trailing dot) is one of
	// its names.
	Manages(name string) bool
	// GetCertificate serves a handshake for one of its names.
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
	// Status describes its certificates.
	Status() []Status
}

// Options set up a Store.
type Options struct {
	// Files are the static certificates, the first the default.
	Files []Pair
	// Managed, when set, serves the names it manages (ACME).
	Managed Managed
	Log     *slog.Logger
}

// Store serves certificates by SNI.
type Store struct {
	files   []Pair
	managed Managed
	log     *slog.Logger
	cur     atomic.Pointer[loaded]
	mu      sync.Mutex // serialises reloads
}

// loaded is one immutable set of static certificates.
type loaded struct {
	entries []*entry // in config order; the first is the default
	exact   map[string]*entry
	wild    map[string]*entry // "example.com" for a "*.example.com" name
}

type entry struct {
	pair     Pair
	cert     *tls.Certificate
	leaf     *x509.Certificate
	loadedAt time.Time
	lastErr  string // the last reload's failure for this pair, "" when it loaded
}

// Status describes one certificate, for /health, the dashboard and
// /metrics.
type Status struct {
	Names    []string  `json:"names"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	Source   string    `json:"source"`
	// File is the certificate file of a static certificate.
	File string `json:"file,omitempty"`
	// LoadedAt is when it was loaded (static) or last obtained (ACME).
	LoadedAt time.Time `json:"loaded_at,omitzero"`
	// LastError is the last reload's or renewal's failure, "" after a
	// success.
	LastError string `json:"last_error"`
}

// New loads every static certificate. An error names the file that
// failed and why; nothing is served then.
func New(o Options) (*Store, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{files: o.Files, managed: o.Managed, log: o.Log}
	l := &loaded{}
	var errs []error
	for _, p := range o.Files {
		e, err := load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.entries = append(l.entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l.index()
	s.cur.Store(l)
	return s, nil
}

// Reload reads every static certificate again. A pair that fails keeps
// the certificate it had (the error is returned, and shown in Status); the
// rest take their new contents. New connections get the new set.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	next := &loaded{}
	var errs []error
	for i, p := range s.files {
		e, err := load(p)
		if err != nil {
			errs = append(errs, err)
			kept := *old.entries[i]
			kept.lastErr = err.Error()
			e = &kept
		}
		next.entries = append(next.entries, e)
	}
	next.index()
	s.cur.Store(next)
	for i, e := range next.entries {
		if e.lastErr == "" && !e.leaf.Equal(old.entries[i].leaf) {
			s.log.Info("certificate reloaded", "file", e.pair.CertFile, "names", e.leaf.DNSNames, "not_after", e.leaf.NotAfter)
		}
	}
	return errors.Join(errs...)
}

// GetCertificate serves a handshake: the managed source's certificate for
// a name it manages; else (or while the managed source has none for it
// yet) the static certificate whose names cover the SNI, exact before
// wildcard; else the first static one. An ACME tls-alpn-01 validation for
// a managed name always gets the managed source's answer.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	l := s.cur.Load()
	if s.managed != nil && name != "" && s.managed.Manages(name) {
		c, err := s.managed.GetCertificate(hello)
		if err == nil || len(l.entries) == 0 || isACMEChallenge(hello) {
			return c, err
		}
	}
	if e := l.exact[name]; e != nil {
		return e.cert, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if e := l.wild[name[i+1:]]; e != nil {
			return e.cert, nil
		}
	}
	if len(l.entries) > 0 {
		return l.entries[0].cert, nil
	}
	if s.managed != nil {
		return s.managed.GetCertificate(hello) // no static one: let it say why
	}
	return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
}

// isACMEChallenge reports whether hello is a tls-alpn-01 validation: it
// offers the acme-tls/1 protocol alone (RFC 8737).
func isACMEChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == "acme-tls/1"
}

// Status describes every certificate: the static ones in config order,
// then the managed ones.
func (s *Store) Status() []Status {
	var out []Status
	for _, e := range s.cur.Load().entries {
		out = append(out, Status{Names: names(e.leaf), Issuer: e.leaf.Issuer.String(), NotAfter: e.leaf.NotAfter,
			Source: SourceFile, File: e.pair.CertFile, LoadedAt: e.loadedAt, LastError: e.lastErr})
	}
	if s.managed != nil {
		out = append(out, s.managed.Status()...)
	}
	return out
}

func load(p Pair) (*entry, error) {
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading certificate %s (key %s): %w", p.CertFile, p.KeyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing certificate %s: %w", p.CertFile, err)
		}
	}
	return &entry{pair: p, cert: &cert, leaf: leaf, loadedAt: time.Now()}, nil
}

// index maps each certificate's names to it; a name two certificates
// claim goes to the first.
func (l *loaded) index() {
	l.exact, l.wild = map[string]*entry{}, map[string]*entry{}
	for _, e := range l.entries {
		for _, n := range names(e.leaf) {
			n = strings.ToLower(n)
			m, key := l.exact, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				m, key = l.wild, rest
			}
			if _, taken := m[key]; !taken {
				m[key] = e
			}
		}
	}
}

// names are a certificate's DNS names (its subject's common name when it
// has none).
func names(c *x509.Certificate) []string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames
	}
	if c.Subject.CommonName != "" {
		return []string{c.Subject.CommonName}
	}
	return []string{}
}
