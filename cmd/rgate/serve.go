package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rgate/rgate/internal/accesslog"
	"github.com/rgate/rgate/internal/admin"
	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/clusterstats"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/gateway"
	"github.com/rgate/rgate/internal/listener"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/recent"
	"github.com/rgate/rgate/internal/stats"
)

// firstSnapshotWait is how long start-up waits for Docker's first container
// list before accepting traffic, so the first requests do not see an empty
// table. When Docker is unreachable, serving starts anyway.
const firstSnapshotWait = 2 * time.Second

// recentRequests is how many finished requests /requests can show.
const recentRequests = 1000

// serve runs the gateway until SIGINT or SIGTERM, then drains in-flight
// requests for at most the configured grace period.
func serve(cfg *config.Config, o options, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	store := stats.NewStore()
	mets := metrics.New()

	adminPort := cfg.Server.AdminPort
	if o.adminPort != 0 {
		adminPort = o.adminPort
	}
	shared, err := openCluster(cfg, o.port, log)
	if err != nil {
		return err
	}
	if shared != nil {
		defer shared.Close()
	}
	tlsPort, certStore, acme, err := startCerts(cfg, o, shared, log)
	if err != nil {
		return err
	}
	ring := recent.New(recentRequests)
	// Access log lines are written in batches (32 KiB, or 100 ms after
	// the first pending line), not with one system call per request.
	alog := accesslog.NewBuffered(os.Stdout, 100*time.Millisecond)
	defer alog.Flush()

	disc, closeEngines, err := newDiscovery(cfg, log)
	if err != nil {
		return err
	}
	defer closeEngines()
	sharer := clusterstats.New(clusterstats.Options{Store: shared, Stats: store, Log: log}) // nil without cluster:
	gw := gateway.New(cfg, gateway.Options{Stats: store, Metrics: mets, AccessLog: alog, Recent: ring, Cluster: shared,
		Replicas: sharer.Replicas, Log: log})
	defer gw.Close()
	wireSources(mets, store, gw, disc, certStore)

	adminOpts := admin.Options{
		Stats: store, Metrics: mets.Handler(), Version: versionString(), Started: started, Recent: ring, Certs: certStore,
		Cluster: shared, ClusterStats: sharer.Handler(),
		Table:   gw.Table,
		Config:  func() admin.ConfigState { return configState(gw, o.config) },
		Explain: func(host, p string) any { return gw.ExplainHost(host, p) },
	}
	if disc != nil {
		adminOpts.Docker, adminOpts.Engines = disc.Status, engineStatuses(cfg, disc)
	}
	adminHandler := admin.New(adminOpts)
	traffic := http.Handler(gw)
	if adminPort == 0 {
		traffic = admin.Ahead(adminHandler, gw)
	}

	var wg sync.WaitGroup
	bg, cancelBG := context.WithCancel(context.Background())
	defer func() { cancelBG(); wg.Wait() }()
	if disc != nil {
		wg.Go(func() { _ = disc.Run(bg) })
		awaitFirstSnapshot(ctx, gw, disc, log)
		wg.Go(func() { gw.Run(bg, disc.Updates()) })
	}
	wg.Go(func() { sharer.Run(bg) })
	rl := newReloader(o.config, gw, cfg, log)
	wg.Go(func() { rl.run(bg) })
	if certStore != nil {
		wg.Go(func() { certStore.Watch(bg) })
		wg.Go(func() { reloadOnHUP(bg, certStore.ReloadLogged) })
	}
	if acme.run != nil {
		wg.Go(func() { acme.run(bg) })
	}

	lo := listener.Options{Bind: o.bind, Port: o.port, TLSPort: tlsPort, AdminPort: adminPort,
		Traffic: traffic, Admin: adminHandler, Server: cfg.Server, Certs: certStore, ACMEHTTP: acme.http, ACMEALPN: acme.alpn,
		IsAdmin: admin.IsPath, Log: log}
	servers, err := listener.Listen(lo)
	if err != nil {
		return err
	}
	logSummary(log, gw, o.port, tlsPort, adminPort)
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.Serve() }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	}
	return shutdown(servers, cfg.Server.ShutdownGrace.D(), log)
}

func usesDocker(cfg *config.Config) bool {
	for _, b := range cfg.Backends {
		if len(b.MatchLabels) > 0 {
			return true
		}
	}
	return false
}

func awaitFirstSnapshot(ctx context.Context, gw *gateway.Gateway, w *docker.Discovery, log *slog.Logger) {
	deadline := time.NewTimer(firstSnapshotWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case s := <-w.Updates():
			gw.SetSnapshot(s)
			return
		case <-tick.C:
			if w.Unreachable() {
				log.Warn("docker is unreachable; serving without containers until it answers", "error", w.Status().LastError)
				return
			}
		case <-deadline.C:
			log.Warn("docker has not answered yet; serving without containers until it does")
			return
		case <-ctx.Done():
			return
		}
	}
}

func shutdown(servers []*listener.Server, grace time.Duration, log *slog.Logger) error {
	log.Info("shutting down", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.Shutdown(ctx); err != nil {
				log.Warn("grace period over; closing remaining connections", "listener", s.Name, "error", err)
				s.Close()
			}
		})
	}
	wg.Wait()
	log.Info("stopped")
	return nil
}

func logSummary(log *slog.Logger, gw *gateway.Gateway, port, tlsPort, adminPort int) {
	t := gw.Table()
	containers := 0
	for _, b := range t.Backends {
		for _, u := range b.Upstreams {
			if !u.Static() {
				containers++
			}
		}
		log.Info("backend", "name", b.Name, "upstreams", len(b.Upstreams), "skipped", len(b.Skipped))
	}
	for _, r := range t.Routes() {
		log.Info("route", "route", r.Name, "backend", r.Backend.Name, "timeout", r.Timeout)
	}
	admin := "on traffic port"
	if adminPort != 0 {
		admin = strconv.Itoa(adminPort)
	}
	tlsInfo := "off"
	if tlsPort != 0 {
		tlsInfo = strconv.Itoa(tlsPort)
	}
	log.Info("rgate listening", "version", versionString(), "port", port, "tls_port", tlsInfo, "admin", admin,
		"routes", len(t.Routes()), "backends", len(t.Backends), "containers", containers)
}

// openCluster connects to the shared store when the config has a cluster:
// section; nil otherwise.
func openCluster(cfg *config.Config, port int, log *slog.Logger) (*cluster.Store, error) {
	if cfg.Cluster == nil {
		return nil, nil
	}
	s, err := cluster.Open(cfg.Cluster, cluster.InstanceID(cfg.Cluster.InstanceID, port), log)
	if err != nil {
		return nil, err
	}
	st := s.Status()
	log.Info("cluster store", "addrs", cfg.Cluster.Redis.Addrs, "instance", st.Instance, "state", st.State)
	return s, nil
}
