// Command otlp-sink is a stand-in OpenTelemetry collector for the
// tracing benchmark rows: it accepts OTLP/HTTP trace exports (POST
// /v1/traces), answers each with 200 and an empty
// ExportTraceServiceResponse, and counts the exports and their bytes
// without decoding them. GET /stats returns the counts as JSON; they are
// also printed when it stops (SIGINT/SIGTERM). Standard library only;
// it listens on loopback only.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

type counts struct {
	exports atomic.Int64
	bytes   atomic.Int64
	refused atomic.Int64
}

func (c *counts) snapshot() map[string]int64 {
	return map[string]int64{"exports": c.exports.Load(), "bytes": c.bytes.Load(), "refused": c.refused.Load()}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18095", "listen address (keep it on loopback)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("bad -addr: %v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("refusing to listen on non-loopback address %q", host)
	}
	var c counts
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			c.refused.Add(1)
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		c.exports.Add(1)
		c.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.snapshot())
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("otlp-sink listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	out, _ := json.Marshal(c.snapshot())
	log.Printf("otlp-sink stopped: %s", out)
}
