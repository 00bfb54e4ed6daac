// Package admin serves rgate's own endpoints: /stats, /health (and later
// /metrics and the dashboard). They take precedence over routes and are
// never counted in the stats.
package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

// Options wire the admin endpoints.
type Options struct {
	Stats *stats.Store
	// Table returns the routing table serving now.
	Table func() *route.Table
	// Docker returns the discovery state; nil when no backend uses labels
	// (discovery is off).
	Docker  func() docker.Status
	Version string
	Started time.Time
}

// Paths are the paths the admin handler owns.
var paths = map[string]bool{"/stats": true, "/health": true}

// IsPath reports whether p is an admin endpoint.
func IsPath(p string) bool { return paths[p] }

// New returns the admin handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/stats", o.Stats.Handler())
	mux.HandleFunc("/health", o.health)
	return mux
}

type healthBody struct {
	Status        string                   `json:"status"`
	Version       string                   `json:"version"`
	UptimeSeconds float64                  `json:"uptime_seconds"`
	Docker        dockerState              `json:"docker"`
	Backends      map[string]backendHealth `json:"backends"`
}

type dockerState struct {
	Enabled   bool      `json:"enabled"`
	Connected bool      `json:"connected"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
}

type backendHealth struct {
	// Upstreams is how many containers and URLs serve the backend now.
	Upstreams  int            `json:"upstreams"`
	Containers []upstreamInfo `json:"containers"`
	URLs       []string       `json:"urls"`
	Skipped    []skipInfo     `json:"skipped"`
}

type upstreamInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

type skipInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (o Options) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body := healthBody{Status: "ok", Version: o.Version, UptimeSeconds: time.Since(o.Started).Seconds(),
		Backends: map[string]backendHealth{}}
	if o.Docker != nil {
		s := o.Docker()
		body.Docker = dockerState{Enabled: true, Connected: s.Connected, LastError: s.LastError, Since: s.Since}
		if !s.Connected {
			body.Status = "degraded"
		}
	}
	for _, b := range o.Table().Backends {
		body.Backends[b.Name] = describeBackend(b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}

func describeBackend(b *route.Backend) backendHealth {
	h := backendHealth{Upstreams: len(b.Upstreams), Containers: []upstreamInfo{}, URLs: []string{}, Skipped: []skipInfo{}}
	for _, u := range b.Upstreams {
		if u.Static() {
			h.URLs = append(h.URLs, u.Scheme+"://"+u.Host)
			continue
		}
		h.Containers = append(h.Containers, upstreamInfo{ID: short(u.ContainerID), Name: u.Container, Address: u.Host})
	}
	for _, s := range b.Skipped {
		h.Skipped = append(h.Skipped, skipInfo{ID: short(s.ContainerID), Name: s.Container, Reason: s.Reason})
	}
	return h
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
