// Command app is a tiny server for the docker package's integration test. It
// listens on 127.0.0.1 only and exits on SIGTERM or SIGINT, unless
// -ignore-term is set, in which case only SIGKILL stops it (as with a server
// that drains slowly). With -probe it exits 0 at once, as a HEALTHCHECK.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	probe := flag.Bool("probe", false, "exit 0 (health check)")
	flag.Parse()
	if *probe {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		err := http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("ok\n"))
		}))
		log.Fatal(err)
	}()
	for s := range sigs {
		if s == syscall.SIGTERM && *ignoreTerm {
			continue
		}
		return
	}
}
