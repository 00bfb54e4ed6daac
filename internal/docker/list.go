package docker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/moby/moby/client"
)

// List pings the engine of src (negotiating the API version, as a
// Watcher's session does) and lists every container once, with the
// Watcher's own lister: the result is what a Watcher's first Snapshot would
// be, its containers stamped with src's endpoint. It is for one-shot
// callers such as `rgate validate --docker`; bound it with ctx. A nil log
// discards logs.
func List(ctx context.Context, src Source, log *slog.Logger) (Snapshot, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := src.API.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return Snapshot{}, fmt.Errorf("pinging docker: %w", err)
	}
	l := lister{api: src.API, log: log, endpoint: src.Name, address: src.Address}
	cs, err := l.list(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Containers: cs}, nil
}

// DaemonHost returns the engine address api talks to
// ("unix:///var/run/docker.sock", from DOCKER_HOST or the default), or ""
// when api does not say (a test fake).
func DaemonHost(api API) string {
	if h, ok := api.(interface{ DaemonHost() string }); ok {
		return h.DaemonHost()
	}
	return ""
}
