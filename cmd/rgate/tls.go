package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/config"
)

// startCerts loads the TLS listener's certificates when server.tls is set
// and returns its port (--tls-port over server.tls.port); port 0 and a nil
// store without TLS. A certificate that does not load stops rgate.
func startCerts(cfg *config.Config, o options, log *slog.Logger) (int, *certs.Store, error) {
	t := cfg.Server.TLS
	if t == nil {
		if o.tlsPort != 0 {
			return 0, nil, errors.New("--tls-port needs a server.tls block (certificates or acme) in the config")
		}
		return 0, nil, nil
	}
	port := t.Port
	if o.tlsPort != 0 {
		port = o.tlsPort
	}
	if port == 0 {
		return 0, nil, fmt.Errorf("%s: server.tls.port (or --tls-port) is required", cfg.Path)
	}
	var pairs []certs.Pair
	for _, c := range t.Certificates {
		pairs = append(pairs, certs.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile})
	}
	s, err := certs.New(certs.Options{Files: pairs, Log: log})
	if err != nil {
		return 0, nil, fmt.Errorf("%s: server.tls.certificates: %w", cfg.Path, err)
	}
	return port, s, nil
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
