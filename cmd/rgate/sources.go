package main

import (
	"github.com/rgate/rgate/internal/admin"
	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/gateway"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/stats"
)

// wireSources connects the scrape-time metrics and the breaker part of
// /stats to the gateway's live state.
func wireSources(m *metrics.Metrics, store *stats.Store, gw *gateway.Gateway, d *docker.Discovery, cs *certs.Store) {
	src := metrics.Sources{
		Backends: func() []metrics.BackendState {
			var out []metrics.BackendState
			for _, b := range gw.Table().Backends {
				s := metrics.BackendState{Name: b.Name, Upstreams: len(b.Upstreams)}
				if b.Breaker != nil {
					s.HasBreaker, s.BreakerState, s.BreakerTrips = true, b.Breaker.StateCode(), b.Breaker.State().Trips
				}
				out = append(out, s)
			}
			return out
		},
		Config: func() (uint64, bool) {
			gen, last := gw.ConfigState()
			return gen, last == nil || last.Error == ""
		},
	}
	if d != nil {
		src.Docker = func() bool { return d.Status().Connected }
		src.DockerEndpoints = func() []metrics.EndpointState {
			var out []metrics.EndpointState
			for _, e := range d.Endpoints() {
				if e.Name != "" {
					out = append(out, metrics.EndpointState{Name: e.Name, Connected: e.Connected})
				}
			}
			return out
		}
	}
	if cs != nil {
		src.Certificates = func() []metrics.CertificateState {
			var out []metrics.CertificateState
			for _, c := range cs.Status() {
				name := ""
				if len(c.Names) > 0 {
					name = c.Names[0]
				}
				out = append(out, metrics.CertificateState{Name: name, Source: c.Source, NotAfter: c.NotAfter})
			}
			return out
		}
	}
	m.SetSources(src)
	store.SetBreakerSource(func(backend string) any {
		if b := gw.Table().Backend(backend); b != nil && b.Breaker != nil {
			return b.Breaker.State()
		}
		return nil
	})
}

func configState(gw *gateway.Gateway, file string) admin.ConfigState {
	gen, last := gw.ConfigState()
	st := admin.ConfigState{File: file, Generation: gen}
	if last != nil {
		st.LastReloadAt, st.LastReloadError = last.At, last.Error
	}
	return st
}
