// Command testapp is the backend rgate's end-to-end tests run in containers
// (and as a plain process for static upstreams). It uses only the standard
// library so it builds into a static binary that is a whole image by itself.
//
// Configuration comes from flags, with defaults from the environment so that
// `docker run -e` works:
//
//	-listen / LISTEN   address to listen on (default 127.0.0.1:8080)
//	-name   / NAME     identifies the instance (default the hostname)
//
// The gateway does not strip route prefixes, so endpoints are chosen by the
// last segment of the path: /api/payment/bytes?n=10 is the bytes endpoint.
//
//	.../bytes?n=N      N deterministic bytes (see pattern), with Content-Length
//	.../upload         reads the body by streaming; {"body_len","body_sha256"}
//	.../status?code=N  answers status N
//	.../sleep?d=2s     sleeps (until the request is cancelled), then 200
//	.../sleeping       {"sleeping": N}: how many sleep requests are in flight
//	.../ws             WebSocket-style upgrade (101), then echoes raw bytes;
//	                   with ?close_after=N it closes after echoing N bytes
//	.../wsopen         {"ws_open": N}: upgraded .../ws connections still open
//	.../malformed      writes a garbage, non-HTTP answer and closes
//	.../health         200 "ok", or 500 when /tmp/unhealthy exists or UNHEALTHY=1
//	.../respond?h=Name:Value&status=N
//	                   sets the given response headers (h repeats), answers
//	                   status N (default 200) with the JSON echo
//	.../verify         forward auth: "Authorization: Bearer allow" -> 200 with
//	                   X-User-Id and X-Consumer, "Bearer hang" -> no answer,
//	                   else 401 with WWW-Authenticate and "denied by NAME"
//	.../hits           {"hits": N}: requests served so far (not counting
//	                   .../hits, .../ping and .../wsopen)
//	anything else      JSON echo of the request (see echoReply)
//
// Every response carries X-Backend-Name: NAME. With FAIL_STATUS=N in the
// environment, every answer but those of .../ping, .../health and .../hits is
// status N with a short text body.
//
// Subcommands, for `docker exec` and Docker health checks in an image that has
// no shell: `testapp healthcheck` (exit 0 when /health answers 200),
// `testapp touch PATH`, `testapp rm PATH`. When started as .../sh (the image
// links the binary to /bin/sh so Docker's CMD-SHELL health checks work),
// `sh -c "WORDS"` runs WORDS as one of these subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const unhealthyFile = "/tmp/unhealthy"

func main() {
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "sh" && len(args) == 2 && args[0] == "-c" {
		args = strings.Fields(args[1])
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		os.Exit(subcommand(args))
	}

	fs := flag.NewFlagSet("testapp", flag.ExitOnError)
	listen := fs.String("listen", envOr("LISTEN", "127.0.0.1:8080"), "address to listen on")
	name := fs.String("name", envOr("NAME", hostname()), "name of this instance")
	_ = fs.Parse(args)

	if err := serve(*listen, *name); err != nil {
		log.Fatalf("testapp: %v", err)
	}
}

func serve(listen, name string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           newApp(name),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("testapp %s listening on %s", name, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

func subcommand(args []string) int {
	switch {
	case args[0] == "healthcheck" && len(args) == 1:
		return healthcheck(envOr("LISTEN", "127.0.0.1:8080"))
	case args[0] == "touch" && len(args) == 2:
		if err := os.WriteFile(args[1], nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case args[0] == "rm" && len(args) == 2:
		if err := os.Remove(args[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "testapp: unknown command %q\n", strings.Join(args, " "))
	return 2
}

func healthcheck(addr string) int {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/health")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "status", resp.StatusCode)
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "testapp"
	}
	return h
}
