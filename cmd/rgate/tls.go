package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/certs/redisstorage"
	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/config"
)

// acmeListen is what the listeners need for ACME challenges: the plain
// port's http-01 handler wrapper (nil without http-01) and whether the TLS
// port offers acme-tls/1.
type acmeListen struct {
	http func(http.Handler) http.Handler
	alpn bool
	// run obtains and renews the certificates until its ctx is done (nil
	// without ACME); serve runs it with its other background work.
	run func(ctx context.Context)
}

// startCerts loads the TLS listener's certificates when server.tls is set
// and returns its port (--tls-port over server.tls.port); port 0 and a nil
// store without TLS. A static certificate that does not load stops rgate.
// With server.tls.acme it also loads the stored ACME certificates and
// returns how to obtain and renew them in the background (acmeListen.run): a CA that
// does not answer is logged and retried, and stops nothing.
func startCerts(cfg *config.Config, o options, shared *cluster.Store, log *slog.Logger) (int, *certs.Store, acmeListen, error) {
	t := cfg.Server.TLS
	if t == nil {
		if o.tlsPort != 0 {
			return 0, nil, acmeListen{}, errors.New("--tls-port needs a server.tls block (certificates or acme) in the config")
		}
		return 0, nil, acmeListen{}, nil
	}
	port := t.Port
	if o.tlsPort != 0 {
		port = o.tlsPort
	}
	if port == 0 {
		return 0, nil, acmeListen{}, fmt.Errorf("%s: server.tls.port (or --tls-port) is required", cfg.Path)
	}
	pairs := filePairs(t)
	var managed certs.Managed
	var al acmeListen
	if a := t.ACME; a != nil {
		alpn := slices.Contains(a.Challenges, config.ChallengeTLSALPN01)
		ao := certs.ACMEOptions{
			Directory: a.Directory, Email: a.Email, DirectoryCAFile: a.DirectoryCAFile, Storage: a.Storage, Domains: a.Domains,
			HTTP01: slices.Contains(a.Challenges, config.ChallengeHTTP01), TLSALPN01: alpn,
			Host: o.bind, HTTPPort: o.port, TLSPort: port, Log: log,
		}
		storage := sharedCertStorage(shared, log)
		if storage != nil {
			ao.Shared = storage
		}
		m, err := certs.NewACME(ao)
		if err != nil {
			return 0, nil, acmeListen{}, fmt.Errorf("%s: server.tls.acme: %w", cfg.Path, err)
		}
		managed, al = m, acmeListen{http: m.HTTPHandler(), alpn: alpn, run: m.Run}
		if storage != nil {
			al.run = func(ctx context.Context) {
				m.Run(ctx)
				storage.Close()
			}
		}
	}
	s, err := certs.New(certs.Options{Files: pairs, Managed: managed, Log: log})
	if err != nil {
		return 0, nil, acmeListen{}, fmt.Errorf("%s: server.tls.certificates: %w", cfg.Path, err)
	}
	return port, s, al, nil
}

// certStorageTimeout bounds one certificate storage command: ACME work is
// off the request path, and a certificate bundle is a few KiB.
const certStorageTimeout = 5 * time.Second

// sharedCertStorage is the cluster's certificate storage, nil without
// cluster:.
func sharedCertStorage(shared *cluster.Store, log *slog.Logger) *redisstorage.Storage {
	if shared == nil {
		return nil
	}
	log.Info("ACME state (account, certificates, locks, challenge tokens) is kept in the cluster store",
		"prefix", shared.Key("certs:"))
	return redisstorage.New(redisstorage.Options{Client: shared.Background(certStorageTimeout), Prefix: shared.Prefix(), Log: log})
}

// filePairs are the static certificates of a TLS block.
func filePairs(t *config.TLS) []certs.Pair {
	var pairs []certs.Pair
	for _, c := range t.Certificates {
		pairs = append(pairs, certs.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile})
	}
	return pairs
}

// checkCertificates loads a config's static certificates, for validate:
// the error names the file that does not load.
func checkCertificates(cfg *config.Config) error {
	if t := cfg.Server.TLS; t != nil && len(t.Certificates) > 0 {
		if _, err := certs.New(certs.Options{Files: filePairs(t)}); err != nil {
			return fmt.Errorf("%s: server.tls.certificates: %w", cfg.Path, err)
		}
	}
	return nil
}

// reloadOnHUP calls reload on every SIGHUP until ctx is done.
func reloadOnHUP(ctx context.Context, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload()
		}
	}
}
