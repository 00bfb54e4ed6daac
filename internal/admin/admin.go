// Package admin serves rgate's own endpoints: /stats, /health and /metrics.
// They take precedence over routes and are never counted in the stats.
package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/recent"
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
	Docker func() docker.Status
	// Engines returns each Docker engine's state when docker.endpoints
	// names them; nil: the one engine of the environment (not listed).
	Engines func() []docker.EndpointStatus
	// Config returns the config file's state; nil: not shown.
	Config func() ConfigState
	// Metrics serves /metrics; nil: no /metrics.
	Metrics http.Handler
	// Explain answers /explain?path=...[&host=...]: why a request goes
	// where it goes. nil: /explain answers 404.
	Explain func(host, path string) any
	// Recent holds the last requests for /requests; nil: 404.
	Recent *recent.Ring
	// Certs is the TLS listener's certificate store; nil: no TLS.
	Certs *certs.Store
	// Cluster is the store shared with other replicas; nil: no cluster.
	Cluster *cluster.Store
	// ClusterStats serves /stats?scope=cluster; nil: no cluster (the
	// scope is refused with 400).
	ClusterStats http.Handler
	Version      string
	Started      time.Time
}

// ConfigState is what /health says about the config file.
type ConfigState struct {
	File string `json:"file"`
	// Generation is 1 for the config rgate started with, +1 per applied
	// reload.
	Generation      uint64    `json:"generation"`
	LastReloadAt    time.Time `json:"last_reload_at,omitzero"`
	LastReloadError string    `json:"last_reload_error"`
}

var paths = map[string]bool{
	"/stats": true, "/health": true, "/metrics": true, "/explain": true, "/requests": true, "/dashboard": true,
}

// IsPath reports whether p is an admin endpoint: one of the paths above, or
// a dashboard asset under /dashboard/.
func IsPath(p string) bool { return paths[p] || strings.HasPrefix(p, "/dashboard/") }

// Ahead serves the admin endpoints (IsPath) with adm, ahead of next: the
// traffic port's handler when the admin endpoints have no port of their
// own.
func Ahead(adm, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsPath(r.URL.Path) {
			adm.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// New returns the admin handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/stats", o.statsHandler())
	mux.HandleFunc("/health", o.health)
	if o.Metrics != nil {
		mux.Handle("/metrics", o.Metrics)
	} else {
		mux.HandleFunc("/metrics", http.NotFound)
	}
	mux.HandleFunc("/explain", o.explain)
	mux.HandleFunc("/requests", o.requests)
	mux.HandleFunc("/dashboard", o.dashboard)
	mux.HandleFunc("/dashboard/", o.dashboard)
	return mux
}

// statsHandler serves /stats: this replica's figures, or with
// scope=cluster the cluster's (scope=local is the default).
func (o Options) statsHandler() http.Handler {
	local := o.Stats.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch scope := r.URL.Query().Get("scope"); scope {
		case "", "local":
			local.ServeHTTP(w, r)
		case "cluster":
			if o.ClusterStats == nil {
				stats.WriteError(w, http.StatusBadRequest, "scope=cluster needs a cluster: section in the config")
				return
			}
			o.ClusterStats.ServeHTTP(w, r)
		default:
			stats.WriteError(w, http.StatusBadRequest, "scope must be local or cluster, got "+strconv.Quote(scope))
		}
	})
}

func (o Options) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, o.describe())
}

// writeJSON answers GET/HEAD with v as indented JSON, anything else with 405.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
