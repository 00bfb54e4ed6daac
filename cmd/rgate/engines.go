package main

import (
	"fmt"
	"log/slog"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// dockerEndpoints are the engines a config watches: its docker.endpoints,
// or the one engine of the environment (DOCKER_HOST, else the local
// socket) when it lists none.
func dockerEndpoints(cfg *config.Config) []docker.Endpoint {
	if len(cfg.Docker.Endpoints) == 0 {
		return []docker.Endpoint{{}}
	}
	out := make([]docker.Endpoint, 0, len(cfg.Docker.Endpoints))
	for _, e := range cfg.Docker.Endpoints {
		ep := docker.Endpoint{Name: e.Name, Host: e.Host, Address: e.Address}
		if t := e.TLS; t != nil {
			ep.CAFile, ep.CertFile, ep.KeyFile = t.CAFile, t.CertFile, t.KeyFile
		}
		out = append(out, ep)
	}
	return out
}

// connectEngines creates a client per engine of cfg (reading their TLS
// files; no network I/O). closeAll closes them all. The error names the
// endpoint's field.
func connectEngines(cfg *config.Config) (srcs []docker.Source, closeAll func(), err error) {
	closeAll = func() {
		for _, s := range srcs {
			_ = s.API.Close()
		}
	}
	for i, ep := range dockerEndpoints(cfg) {
		api, err := ep.Connect()
		if err != nil {
			closeAll()
			if ep.Name == "" {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("%s: docker.endpoints[%d]: %w", cfg.Path, i, err)
		}
		srcs = append(srcs, docker.Source{Endpoint: ep, API: api})
	}
	return srcs, closeAll, nil
}

// checkEngines is validate's check of docker.endpoints: each engine's TLS
// files load. It prints the block's warnings to warn.
func checkEngines(cfg *config.Config, warn func(string)) error {
	for _, w := range cfg.DockerWarnings() {
		warn(w.String())
	}
	if len(cfg.Docker.Endpoints) == 0 {
		return nil
	}
	_, closeAll, err := connectEngines(cfg)
	if err != nil {
		return err
	}
	closeAll()
	return nil
}

// newDiscovery connects to cfg's engines and returns their Discovery, or
// nil when no backend uses labels (discovery is off). It logs the docker
// block's warnings. closeAll closes the clients.
func newDiscovery(cfg *config.Config, log *slog.Logger) (d *docker.Discovery, closeAll func(), err error) {
	if !usesDocker(cfg) {
		return nil, func() {}, nil
	}
	srcs, closeAll, err := connectEngines(cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range cfg.DockerWarnings() {
		log.Warn("insecure docker endpoint", "problem", w.String())
	}
	return docker.NewDiscovery(srcs, log, docker.Options{}), closeAll, nil
}

// engineStatuses is what /health lists of the engines: each one of
// docker.endpoints; nil for the one engine of the environment.
func engineStatuses(cfg *config.Config, d *docker.Discovery) func() []docker.EndpointStatus {
	if len(cfg.Docker.Endpoints) == 0 {
		return nil
	}
	return d.Endpoints
}
