package admin

import (
	"time"

	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/mw/breaker"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/upstream"
)

// healthBody is the /health document.
type healthBody struct {
	Status        string                   `json:"status"`
	Version       string                   `json:"version"`
	UptimeSeconds float64                  `json:"uptime_seconds"`
	Docker        dockerState              `json:"docker"`
	Config        *ConfigState             `json:"config,omitempty"`
	Routes        []routeInfo              `json:"routes"`
	Backends      map[string]backendHealth `json:"backends"`
	// Certificates are the TLS listener's (absent without TLS).
	Certificates []certs.Status `json:"certificates,omitempty"`
	// Cluster is the shared store's state (absent without cluster:).
	Cluster *cluster.Status `json:"cluster,omitempty"`
}

type dockerState struct {
	Enabled bool `json:"enabled"`
	// Connected is true while every engine is.
	Connected bool      `json:"connected"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	// Endpoints are the engines of docker.endpoints, in config order;
	// absent without that config.
	Endpoints []endpointState `json:"endpoints,omitempty"`
}

// endpointState is one Docker engine's connection.
type endpointState struct {
	Name      string    `json:"name"`
	Host      string    `json:"host"`
	Connected bool      `json:"connected"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
}

// dockerState describes discovery; Enabled is false when it is off.
func (o Options) dockerState() dockerState {
	if o.Docker == nil {
		return dockerState{}
	}
	s := o.Docker()
	d := dockerState{Enabled: true, Connected: s.Connected, LastError: s.LastError, Since: s.Since}
	if o.Engines != nil {
		for _, e := range o.Engines() {
			d.Endpoints = append(d.Endpoints, endpointState{Name: e.Name, Host: e.Host,
				Connected: e.Connected, LastError: e.LastError, Since: e.Since})
		}
	}
	return d
}

type routeInfo struct {
	PathPrefix string `json:"path_prefix"`
	// Host is the route's host; omitted for a route without one.
	Host     string   `json:"host,omitempty"`
	Backend  string   `json:"backend"`
	Policies []string `json:"policies"`
}

type backendHealth struct {
	// Upstreams is how many containers and URLs the backend has; Serving
	// how many of them get new requests now (state "serving").
	Upstreams  int            `json:"upstreams"`
	Serving    int            `json:"serving"`
	Containers []upstreamInfo `json:"containers"`
	URLs       []upstreamInfo `json:"urls"`
	Skipped    []skipInfo     `json:"skipped"`
	Breaker    *breaker.State `json:"breaker,omitempty"`
}

type upstreamInfo struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// Endpoint is the Docker engine of a container (omitted for the one
	// engine of the environment, and for URLs).
	Endpoint string `json:"endpoint,omitempty"`
	Address  string `json:"address"`
	// Health is "unknown" (no active check, or not probed yet), "healthy"
	// or "unhealthy" (active check failing: no traffic).
	Health       string    `json:"health"`
	HealthReason string    `json:"health_reason,omitempty"`
	Ejected      bool      `json:"ejected"`
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// Warming is true for a new container whose port has not accepted a
	// connection yet: it gets no traffic while others can take it.
	Warming bool `json:"warming"`
	// State and Reasons are its verdict (upstream.Health.Verdict): State
	// is "serving", or the first reason's state ("unhealthy", "ejected",
	// "breaker_open", "warming"); Reasons are all that apply, [] when
	// serving.
	State    string   `json:"state"`
	Reasons  []string `json:"reasons"`
	InFlight int64    `json:"in_flight"`
	Requests uint64   `json:"requests"`
}

type skipInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Endpoint string `json:"endpoint,omitempty"`
	Reason   string `json:"reason"`
}

func (o Options) describe() healthBody {
	body := healthBody{Status: "ok", Version: o.Version, UptimeSeconds: time.Since(o.Started).Seconds(),
		Routes: []routeInfo{}, Backends: map[string]backendHealth{}}
	body.Docker = o.dockerState()
	if body.Docker.Enabled && !body.Docker.Connected {
		body.Status = "degraded"
	}
	if o.Certs != nil {
		body.Certificates = o.Certs.Status()
	}
	if o.Cluster != nil {
		st := o.Cluster.Status()
		body.Cluster = &st
		if st.State != "ok" {
			body.Status = "degraded"
		}
	}
	if o.Config != nil {
		c := o.Config()
		body.Config = &c
	}
	t := o.Table()
	for _, r := range t.Routes() {
		p := r.Policies
		if p == nil {
			p = []string{}
		}
		body.Routes = append(body.Routes, routeInfo{PathPrefix: r.Prefix, Host: r.Host, Backend: r.Backend.Name, Policies: p})
	}
	for _, b := range t.Backends {
		body.Backends[b.Name] = describeBackend(b)
	}
	return body
}

func describeBackend(b *route.Backend) backendHealth {
	h := backendHealth{Upstreams: len(b.Upstreams), Containers: []upstreamInfo{}, URLs: []upstreamInfo{}, Skipped: []skipInfo{}}
	var open bool
	h.Breaker, open = route.BreakerOpen(b)
	for _, u := range b.Upstreams {
		info := describeUpstream(u, open)
		if info.State == upstream.StateServing {
			h.Serving++
		}
		if u.Static() {
			info.Address = u.Scheme + "://" + u.Host
			h.URLs = append(h.URLs, info)
			continue
		}
		h.Containers = append(h.Containers, info)
	}
	for _, s := range b.Skipped {
		h.Skipped = append(h.Skipped, skipInfo{ID: docker.ShortID(s.ContainerID), Name: s.Container, Endpoint: s.Endpoint, Reason: s.Reason})
	}
	return h
}

// describeUpstream describes u, whose backend's breaker is open or not.
func describeUpstream(u *upstream.Upstream, breakerOpen bool) upstreamInfo {
	hs := u.Health()
	v := hs.Verdict(breakerOpen)
	return upstreamInfo{
		ID: docker.ShortID(u.ContainerID), Name: u.Container, Endpoint: u.Endpoint, Address: u.Host,
		Health: hs.Active, HealthReason: hs.ActiveReason,
		Ejected: hs.Ejected, EjectedUntil: hs.EjectedUntil, Warming: hs.Warming,
		State: v.State, Reasons: v.Reasons, InFlight: hs.InFlight, Requests: hs.Requests,
	}
}
