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

// validateDocker lists the containers once and prints, per route, which
// would serve it now and why the others would not, then the warnings of
// route.Lint. cfg is valid; Docker being unreachable is the only failure.
func validateDocker(cfg *config.Config, stdout, stderr io.Writer) int {
	snap, where, err := listContainers()
	if err != nil {
		fmt.Fprintf(stderr, "rgate: cannot reach Docker at %s: %v\n", where, err)
		return 1
	}
	fmt.Fprintf(stdout, "docker: %d container%s at %s\n", len(snap.Containers), plural(len(snap.Containers)), where)
	t := route.Compile(cfg, snap, route.Deps{})
	for _, rt := range t.Routes() {
		be := route.ExplainBackend(rt.Backend, cfg, snap, false)
		printRoute(stdout, rt, be)
	}
	for _, w := range route.Lint(cfg, snap) {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return 0
}

// listContainers connects as serve does (DOCKER_HOST honoured) and lists
// every container, bounded by dockerListTimeout. where names the endpoint
// and where it came from, for messages.
func listContainers() (docker.Snapshot, string, error) {
	env := os.Getenv("DOCKER_HOST")
	where := env + " (from DOCKER_HOST)"
	api, err := docker.Connect()
	if err != nil {
		return docker.Snapshot{}, where, err
	}
	defer api.Close()
	if env == "" {
		where = cmp.Or(docker.Endpoint(api), "the default socket") + " (the default socket; DOCKER_HOST is not set)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerListTimeout)
	defer cancel()
	snap, err := docker.List(ctx, api, nil)
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
		if c.Verdict == route.VerdictServing {
			fmt.Fprintf(w, "  serving   %s (%s) %s\n", c.Name, c.ID, c.Address)
			continue
		}
		fmt.Fprintf(w, "  excluded  %s (%s): %s\n", c.Name, c.ID, strings.Join(c.Reasons, "; "))
	}
	for _, u := range be.URLs {
		fmt.Fprintf(w, "  serving   url %s\n", u.URL)
	}
}
