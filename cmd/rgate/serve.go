package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rgate/rgate/internal/accesslog"
	"github.com/rgate/rgate/internal/admin"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/gateway"
	"github.com/rgate/rgate/internal/h1server"
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
	ring := recent.New(recentRequests)
	// Access log lines are written in batches (32 KiB, or 100 ms after
	// the first pending line), not with one system call per request.
	alog := accesslog.NewBuffered(os.Stdout, 100*time.Millisecond)
	defer alog.Flush()

	var watcher *docker.Watcher
	if usesDocker(cfg) {
		api, err := docker.Connect()
		if err != nil {
			return fmt.Errorf("creating docker client: %w", err)
		}
		defer api.Close()
		watcher = docker.NewWatcher(api, log, docker.Options{})
	}
	gw := gateway.New(cfg, gateway.Options{Stats: store, Metrics: mets, AccessLog: alog, Recent: ring, Log: log})
	defer gw.Close()
	wireSources(mets, store, gw, watcher)

	adminOpts := admin.Options{
		Stats: store, Metrics: mets.Handler(), Version: versionString(), Started: started, Recent: ring,
		Table:   gw.Table,
		Config:  func() admin.ConfigState { return configState(gw, o.config) },
		Explain: func(p string) any { return gw.Explain(p) },
	}
	if watcher != nil {
		adminOpts.Docker = watcher.Status
	}
	adminHandler := admin.New(adminOpts)
	traffic := http.Handler(gw)
	if adminPort == 0 {
		traffic = admin.Ahead(adminHandler, gw)
	}

	var wg sync.WaitGroup
	bg, cancelBG := context.WithCancel(context.Background())
	defer func() { cancelBG(); wg.Wait() }()
	if watcher != nil {
		wg.Go(func() { _ = watcher.Run(bg) })
		awaitFirstSnapshot(ctx, gw, watcher, log)
		wg.Go(func() { gw.Run(bg, watcher.Updates()) })
	}
	rl := newReloader(o.config, gw, cfg, log)
	wg.Go(func() { rl.run(bg) })

	servers, err := listen(cfg, o, adminPort, traffic, adminHandler, log)
	if err != nil {
		return err
	}
	logSummary(log, gw, o.port, adminPort)
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.serve() }()
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

func awaitFirstSnapshot(ctx context.Context, gw *gateway.Gateway, w *docker.Watcher, log *slog.Logger) {
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
			if st := w.Status(); st.LastError != "" && !st.Connected {
				log.Warn("docker is unreachable; serving without containers until it answers", "error", st.LastError)
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

// server is one listener: rgate's HTTP/1.1 server, which hands the
// connections it does not take (upgrades, chunked uploads, Expect,
// HTTP/1.0, malformed requests) to a net/http server.
type server struct {
	name string
	srv  *h1server.Server
	ln   net.Listener
}

func (s *server) serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", s.name, err)
	}
	return nil
}

func listen(cfg *config.Config, o options, adminPort int, traffic, adminHandler http.Handler, log *slog.Logger) ([]*server, error) {
	type spec struct {
		name string
		port int
		h    http.Handler
	}
	specs := []spec{{"traffic", o.port, traffic}}
	if adminPort != 0 {
		specs = append(specs, spec{"admin", adminPort, adminHandler})
	}
	var out []*server
	for _, sp := range specs {
		addr := net.JoinHostPort(o.bind, strconv.Itoa(sp.port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, s := range out {
				s.ln.Close()
			}
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		out = append(out, &server{name: sp.name, ln: ln, srv: &h1server.Server{
			Handler:           sp.h,
			ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
			IdleTimeout:       cfg.Server.IdleTimeout.D(),
			MaxHeaderBytes:    int(cfg.Server.MaxHeaderBytes),
			ErrorLog:          log,
			ParkIdleAfter:     parkIdleAfter,
			// The Fallback's MaxHeaderBytes is h1server's to set: net/http
			// reads 4 KiB more than its own.
			Fallback: &http.Server{
				Handler:           sp.h,
				ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
				IdleTimeout:       cfg.Server.IdleTimeout.D(),
				ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
			},
		}})
	}
	return out, nil
}

// parkIdleAfter is how long a client connection may sit idle between
// requests before it gives its goroutine up (h1server.Server.ParkIdleAfter):
// long enough that a busy keep-alive connection never pays for parking,
// short enough that thousands of idle ones cost ~1 KiB each, not ~6.
const parkIdleAfter = time.Second

func shutdown(servers []*server, grace time.Duration, log *slog.Logger) error {
	log.Info("shutting down", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.srv.Shutdown(ctx); err != nil {
				log.Warn("grace period over; closing remaining connections", "listener", s.name, "error", err)
				s.srv.Close()
			}
		})
	}
	wg.Wait()
	log.Info("stopped")
	return nil
}

func logSummary(log *slog.Logger, gw *gateway.Gateway, port, adminPort int) {
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
		log.Info("route", "path_prefix", r.Prefix, "backend", r.Backend.Name, "timeout", r.Timeout)
	}
	admin := "on traffic port"
	if adminPort != 0 {
		admin = strconv.Itoa(adminPort)
	}
	log.Info("rgate listening", "version", versionString(), "port", port, "admin", admin,
		"routes", len(t.Routes()), "backends", len(t.Backends), "containers", containers)
}
