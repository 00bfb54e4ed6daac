package docker

import (
	"strings"
	"time"
)

// stopGrace is how long a stop mark holds against lists that still see the
// container running. Docker's default stop timeout is 10s, after which it sends
// SIGKILL; a container still running in a list taken later than that after the
// mark has ignored the signal and goes back into the pool.
const stopGrace = 10 * time.Second

// stopMarks records, per container ID, since when a container has been told to
// stop.
//
// `docker stop` sends SIGTERM (a kill event), waits for the process to exit
// (die) and only then reports stop; all that time the engine lists the
// container as running. Left to the list, the gateway would keep sending new
// requests to a process that is shutting down, and they would fail. So a kill
// event with a terminating signal (or none named), a stop event or a pause
// event marks the container at once, and while marked, a container listed as
// running is reported with State StateStopping, which takes it out of the pool
// before its connections die. A mark is cleared by:
//   - a later start, unpause or restart event for the container;
//   - a list taken after the mark that no longer sees it running (it stopped:
//     the list's own State now says so) or no longer sees it at all;
//   - a list taken more than stopGrace after the mark that still sees it
//     running: the signal did not stop it (e.g. a SIGTERM it handles).
//
// stopMarks is owned by the Watcher's Run goroutine.
type stopMarks map[string]time.Time

// mark records that container id was told to stop at the given time.
func (m stopMarks) mark(id string, at time.Time) { m[id] = at }

// clear forgets the mark on id and reports whether there was one.
func (m stopMarks) clear(id string) bool {
	_, ok := m[id]
	delete(m, id)
	return ok
}

// observe updates the marks from a list requested at listedAt, which may only
// clear marks made before it. It returns the IDs whose mark expired while the
// container was still running.
func (m stopMarks) observe(cs []Container, listedAt time.Time) (expired []string) {
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		seen[c.ID] = true
		since, ok := m[c.ID]
		if !ok || listedAt.Before(since) {
			continue
		}
		switch {
		case c.State != "running":
			delete(m, c.ID)
		case listedAt.Sub(since) > stopGrace:
			delete(m, c.ID)
			expired = append(expired, c.ID)
		}
	}
	for id, since := range m {
		if !seen[id] && !listedAt.Before(since) {
			delete(m, id)
		}
	}
	return expired
}

// apply returns a copy of cs in which marked running containers have State
// StateStopping. cs is not modified.
func (m stopMarks) apply(cs []Container) []Container {
	out := make([]Container, len(cs))
	copy(out, cs)
	for i := range out {
		if _, ok := m[out[i].ID]; ok && out[i].State == "running" {
			out[i].State = StateStopping
		}
	}
	return out
}

// isStopSignal reports whether a kill event's attributes name a signal that
// stops a container (SIGTERM or SIGKILL, by name or number), or name none.
// Other signals (SIGHUP to reload, SIGUSR1, ...) leave the container serving.
func isStopSignal(attrs map[string]string) bool {
	sig := attrs["signal"]
	if sig == "" {
		return true
	}
	switch strings.TrimPrefix(strings.ToUpper(sig), "SIG") {
	case "KILL", "9", "TERM", "15":
		return true
	}
	return false
}
