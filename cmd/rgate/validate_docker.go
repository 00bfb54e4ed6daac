package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/route"
)

// dockerListTimeout bounds validate --docker's whole talk with Docker.
const dockerListTimeout = 10 * time.Second

// validateDocker lists the containers of every engine once and prints,
// per route, which would serve it now and why the others would not, then
// the warnings of route.Lint. cfg is valid; an engine that cannot be
// reached is the only failure (the others are still shown).
func validateDocker(cfg *config.Config, stdout, stderr io.Writer) int {
	srcs, closeEngines, err := connectEngines(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "rgate: %v\n", err)
		return 1
	}
	defer closeEngines()
	code := 0
	var snap docker.Snapshot
	for _, src := range srcs {
		part, where, err := listContainers(src)
		if err != nil {
			fmt.Fprintf(stderr, "rgate: cannot reach Docker at %s: %v\n", where, err)
			code = 1
			continue
		}
		n := len(part.Containers)
		fmt.Fprintf(stdout, "docker: %d container%s at %s\n", n, plural(n), where)
		snap.Containers = append(snap.Containers, part.Containers...)
	}
	if code != 0 && len(snap.Containers) == 0 && len(srcs) == 1 {
		return code
	}
	t := route.Compile(cfg, snap, route.Deps{})
	for _, rt := range t.Routes() {
		be := route.ExplainBackend(rt.Backend, cfg, snap, false)
		printRoute(stdout, rt, be)
	}
	for _, w := range route.Lint(cfg, snap) {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return code
}

// listContainers lists every container of src once, bounded by
// dockerListTimeout. where names the engine and where it came from, for
// messages: for the one engine of the environment, DOCKER_HOST or the
// default socket; for a docker.endpoints entry, its name and host.
func listContainers(src docker.Source) (docker.Snapshot, string, error) {
	var where string
	switch env := os.Getenv("DOCKER_HOST"); {
	case src.Name != "":
		where = src.Host + " (endpoint " + src.Name + ")"
	case env != "":
		where = env + " (from DOCKER_HOST)"
	default:
		where = cmp.Or(docker.DaemonHost(src.API), "the default socket") + " (the default socket; DOCKER_HOST is not set)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerListTimeout)
	defer cancel()
	snap, err := docker.List(ctx, src, nil)
	return snap, where, err
}

// printRoute prints "ROUTE -> BACKEND: N container(s)" and a line per
// container and url.
func printRoute(w io.Writer, rt *route.Route, be route.BackendExplanation) {
	serving := 0
	for _, c := range be.Containers {
		if c.Verdict == route.VerdictServing {
			serving++
		}
	}
	fmt.Fprintf(w, "%s -> %s: %d container(s)\n", rt.Prefix, be.Name, serving)
	if len(be.MatchLabels) == 0 {
		fmt.Fprintf(w, "  (no match_labels: static urls only)\n")
	}
	for _, c := range be.Containers {
		id := c.ID
		if c.Endpoint != "" {
			id = c.Endpoint + " " + c.ID
		}
		if c.Verdict == route.VerdictServing {
			fmt.Fprintf(w, "  serving   %s (%s) %s\n", c.Name, id, c.Address)
			continue
		}
		fmt.Fprintf(w, "  excluded  %s (%s): %s\n", c.Name, id, strings.Join(c.Reasons, "; "))
	}
	for _, u := range be.URLs {
		fmt.Fprintf(w, "  serving   url %s\n", u.URL)
	}
}
