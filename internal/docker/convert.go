package docker

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// lister lists every container and converts the list into Containers. It is
// owned by the Watcher's Run goroutine.
type lister struct {
	api API
	log *slog.Logger
	// endpoint and address are stamped on every container listed
	// (Container.Endpoint, Container.HostAddress).
	endpoint, address string
	// health caches inspect results across lists; see healthOf.
	health map[string]healthEntry
}

// healthEntry is the health read by inspect for one container, and the Status
// text hint it was read under.
type healthEntry struct {
	hint   string
	health string
}

// list returns all containers (running or not), sorted by ID.
func (l *lister) list(ctx context.Context) ([]Container, error) {
	res, err := l.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	next := make(map[string]healthEntry)
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		c := convert(s)
		c.Endpoint, c.HostAddress = l.endpoint, l.address
		c.Health, err = l.healthOf(ctx, s, next)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	l.health = next
	slices.SortFunc(out, func(a, b Container) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// healthOf returns the health of the listed container s.
//
// From API 1.52 the list carries health and it is used as is. Older engines
// (this machine's 20.10 speaks 1.41) only show it in the human-readable Status
// text ("Up 3 minutes (healthy)", "(unhealthy)", "(health: starting)"), which is
// not part of the API contract, so health is read from ContainerInspect
// (State.Health.Status) instead. To keep inspects few:
//   - only running containers whose Status mentions health are inspected: a
//     container without a HEALTHCHECK never does, and health does not matter
//     for one that is not running;
//   - the result is cached per container ID together with the Status hint it
//     was read under. The hint changes whenever health does, so a re-list only
//     inspects containers whose health changed since the previous list (usually
//     none), rather than every healthchecked container on every event.
//
// If inspect fails for one container (it may have been removed since the
// list), its health is taken from the Status hint instead, so that one
// container does not fail the whole list. Only a done ctx is an error.
func (l *lister) healthOf(ctx context.Context, s container.Summary, next map[string]healthEntry) (string, error) {
	if s.State != container.StateRunning {
		return "", nil
	}
	if s.Health != nil {
		return healthValue(s.Health.Status), nil
	}
	hint, ok := healthHint(s.Status)
	if !ok {
		return "", nil
	}
	if e, ok := l.health[s.ID]; ok && e.hint == hint {
		next[s.ID] = e
		return e.health, nil
	}
	res, err := l.api.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("inspecting container %s: %w", ShortID(s.ID), err)
		}
		l.log.Warn("inspecting container for health; using its status text",
			"container", ShortID(s.ID), "status", s.Status, "error", err)
		return hintHealth(hint), nil
	}
	var h string
	if st := res.Container.State; st != nil && st.Health != nil {
		h = healthValue(st.Health.Status)
	}
	next[s.ID] = healthEntry{hint: hint, health: h}
	return h, nil
}

// healthValue maps Docker's health status to Container.Health.
func healthValue(s container.HealthStatus) string {
	if s == container.NoHealthcheck {
		return ""
	}
	return string(s)
}

// healthHint returns the health part of a list Status text such as
// "Up 3 minutes (healthy)": "healthy", "unhealthy" or "health: starting".
// ok is false when the text says nothing about health.
func healthHint(status string) (hint string, ok bool) {
	i := strings.LastIndexByte(status, '(')
	if i < 0 || !strings.HasSuffix(status, ")") {
		return "", false
	}
	hint = status[i+1 : len(status)-1]
	if !strings.Contains(hint, "health") {
		return "", false
	}
	return hint, true
}

// hintHealth maps a Status hint to Container.Health, for when inspect fails.
func hintHealth(hint string) string {
	switch hint {
	case "healthy", "unhealthy":
		return hint
	case "health: starting":
		return string(container.Starting)
	}
	// Unknown wording: not healthy, so not served, until the next list.
	return string(container.Starting)
}

// convert copies one list entry into a Container (all but Health).
func convert(s container.Summary) Container {
	c := Container{
		ID:          s.ID,
		Name:        containerName(s.Names),
		Image:       s.Image,
		State:       string(s.State),
		Labels:      maps.Clone(s.Labels),
		NetworkMode: s.HostConfig.NetworkMode,
		Networks:    map[string]string{},
		Ports:       ports(s.Ports),
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if s.NetworkSettings != nil {
		for name, ep := range s.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			switch {
			case ep.IPAddress.IsValid():
				c.Networks[name] = ep.IPAddress.String()
			case ep.GlobalIPv6Address.IsValid():
				c.Networks[name] = ep.GlobalIPv6Address.String()
			}
		}
	}
	return c
}

// containerName picks the container's own name out of the list's Names,
// which also holds legacy link aliases ("/other/alias").
func containerName(names []string) string {
	for _, n := range names {
		n = strings.TrimPrefix(n, "/")
		if !strings.Contains(n, "/") {
			return n
		}
	}
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	return ""
}

// ports converts and sorts the list's ports, dropping exact duplicates.
func ports(in []container.PortSummary) []Port {
	out := make([]Port, 0, len(in))
	for _, p := range in {
		port := Port{Private: p.PrivatePort, Proto: p.Type, HostPort: p.PublicPort}
		if p.IP.IsValid() {
			port.HostIP = p.IP.String()
		}
		out = append(out, port)
	}
	slices.SortFunc(out, func(a, b Port) int {
		return cmp.Or(
			cmp.Compare(a.Private, b.Private),
			cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.HostIP, b.HostIP),
			cmp.Compare(a.HostPort, b.HostPort),
		)
	})
	return slices.Compact(out)
}

// ShortID abbreviates a container ID for logs, errors and admin pages, as
// docker ps does.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
