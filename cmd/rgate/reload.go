package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"sync"
	"syscall"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/gateway"
)

// reloader re-reads the config file on SIGHUP and whenever the file
// changes. A valid file replaces the running config; an invalid one is
// logged problem by problem and the running config keeps serving.
type reloader struct {
	mu      sync.Mutex
	path    string
	gw      *gateway.Gateway
	log     *slog.Logger
	applied [32]byte // sha256 of the file content last applied or rejected
	server  config.Server
	docker  config.Docker
}

func newReloader(path string, gw *gateway.Gateway, cfg *config.Config, log *slog.Logger) *reloader {
	r := &reloader{path: path, gw: gw, log: log, server: cfg.Server, docker: cfg.Docker}
	if data, err := os.ReadFile(path); err == nil {
		r.applied = sha256.Sum256(data)
	}
	return r
}

// run serves reloads until ctx is done.
func (r *reloader) run(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		if err := config.Watch(ctx, r.path, r.log, func() { r.reload(false) }); err != nil {
			r.log.Warn("config file changes will not be noticed; send SIGHUP to reload", "error", err)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("SIGHUP: reloading config", "file", r.path)
			r.reload(true)
		}
	}
}

// reload loads the file; unless forced, a file whose content did not
// change since the last attempt is ignored.
func (r *reloader) reload(force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.log.Warn("config reload failed; keeping the running config", "file", r.path, "error", err)
		r.gw.Reloaded(nil, err)
		return
	}
	sum := sha256.Sum256(data)
	if !force && bytes.Equal(sum[:], r.applied[:]) {
		return
	}
	r.applied = sum
	cfg, err := config.Parse(data, r.path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				r.log.Error("config problem", "problem", p.String())
			}
		}
		r.log.Warn("config reload rejected; keeping the running config", "file", r.path, "problems", len(ps))
		r.gw.Reloaded(nil, err)
		return
	}
	if !reflect.DeepEqual(cfg.Server, r.server) {
		r.log.Warn("server settings changed; they take effect after a restart", "file", r.path)
	}
	if !reflect.DeepEqual(cfg.Docker, r.docker) {
		r.log.Warn("docker endpoints changed; they take effect after a restart", "file", r.path)
	}
	r.gw.Reloaded(cfg, nil)
	gen, _ := r.gw.ConfigState()
	r.log.Info("config reloaded", "file", r.path, "generation", gen, "routes", len(cfg.Routes), "backends", len(cfg.Backends))
}
