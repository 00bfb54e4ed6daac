// Package docker is rgate's only window on the Docker engine: it turns the
// engine's container list and event stream into Snapshot values of rgate's own
// plain Container type, so that nothing else in rgate imports the Docker SDK.
//
// # Model
//
// A Watcher owns one connection to the engine (an API, normally the
// *client.Client returned by Connect). Run loops over sessions; each session
//
//  1. pings the engine (negotiating the API version),
//  2. subscribes to container events (before listing, so that nothing that
//     happens between the list and the subscription is lost),
//  3. lists every container (running or not) and sends a Snapshot,
//  4. follows the event stream: an event that can change what rgate routes
//     to (create, start, restart, die, stop, kill, pause, unpause, rename,
//     destroy, health_status, and network connect/disconnect) schedules a new
//     list, coalesced so that a burst of events costs one list, made at most
//     Options.Coalesce after the first event of the burst; a periodic resync
//     (Options.Resync) repairs anything the stream missed.
//
// Every change is a whole, sorted Snapshot, never a delta, delivered on a
// one-slot "latest wins" channel (Watcher.Updates): a slow reader skips
// intermediate snapshots and only ever sees the newest, and a snapshot equal to
// the previous one is not sent again.
//
// When the engine goes away (stream error, EOF, failed list) the watcher keeps
// the last snapshot (it never sends an empty one because Docker is down),
// reports itself disconnected in Watcher.Status, backs off exponentially with
// jitter and starts a new session, which re-lists everything. Run only returns
// when its context is done.
//
// # Several engines
//
// A Discovery runs one Watcher per Endpoint (the engines of the
// docker.endpoints config, or the one engine of the environment) and merges
// their snapshots into one. Each container carries its engine's name
// (Container.Endpoint; its identity is the pair endpoint, ID) and the
// address at which that engine's published and host-network ports are
// reached (Container.HostAddress). An engine that goes away keeps its last
// containers in the merged snapshot until its watcher lists it again; the
// others keep updating meanwhile.
//
// # Stopping containers
//
// Docker reports a container "running" until its process has exited, but a
// gateway must stop sending it requests as soon as it is told to stop. So a
// stop, pause or kill event (with a terminating signal) marks the container as
// stopping at once: snapshots report it with State "stopping" (StateStopping)
// even while lists still say "running", until a later start, unpause or restart
// event for it, or until a list taken more than 10s after the mark still sees it
// running (the signal did not stop it). This way `docker stop` takes a
// container out of the pool before its connections die.
//
// # Health
//
// Engines before API 1.52 (the Debian 20.10 engine speaks 1.41) have no health
// field in the container list. Health is then read with ContainerInspect, only
// for running containers whose list status text mentions health, and cached
// until that text changes, so a re-list usually inspects nothing.
package docker
