package e2e

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/cluster/redistest"
)

// TestClusterACME: two replicas share one Redis and get their
// certificate from Pebble. Replica A starts alone and places the order;
// Pebble's validation (http-01 on its HTTP port, or tls-alpn-01 on its TLS
// port) reaches only replica B, through a relay that holds the connection
// until B runs: B answers it from the challenge token A put in Redis.
// Pebble sees one order, and both replicas serve the same certificate (B
// loads the one A stored once A releases the lock).
//
// Why this setup: two processes cannot listen on the one port Pebble
// validates against, so that port is given to B alone; A's own challenge
// ports are elsewhere and Pebble never reaches them. A starting first
// makes A the replica that takes the lock and orders, so the answer can
// only come from the shared store.
func TestClusterACME(t *testing.T) {
	t.Parallel()
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			relay := startRelay(t)
			httpPort, tlsPort := relay.port, freePort(t) // Pebble validates on these
			if challenge == "tls-alpn-01" {
				httpPort, tlsPort = freePort(t), relay.port
			}
			p := startPebble(t, httpPort, tlsPort)
			domain := "c" + strings.ReplaceAll(challenge, "-", "") + ".acme.test"
			up := newRecorder(t, nil).url()
			config := func(id string, tlsPort int) string {
				return acmeConfig(up, tlsPort, p.directory, p.caFile, t.TempDir(), domain, "["+challenge+"]", "") +
					statsClusterYAML(srv.Addr, id)
			}
			tlsA, tlsB := freePort(t), freePort(t)
			a := startGateway(t, config("a", tlsA))
			eventually(t, acmeObtainWait, "replica A's order at Pebble", func() bool { return p.orders() >= 1 })
			b := startGateway(t, config("b", tlsB))
			if challenge == "http-01" {
				relay.to(b.port)
			} else {
				relay.to(tlsB)
			}

			client := &tls.Config{RootCAs: p.roots(t)}
			leafA := awaitACMECertificate(t, tlsA, domain, client)
			leafB := awaitACMECertificate(t, tlsB, domain, client)
			if !leafA.Equal(leafB) {
				t.Errorf("the replicas serve different certificates: serials %v and %v", leafA.SerialNumber, leafB.SerialNumber)
			}
			if n := p.orders(); n != 1 {
				t.Errorf("Pebble received %d orders, want 1", n)
			}
			if relay.conns.Load() == 0 {
				t.Errorf("Pebble's validation never reached replica B")
			}
			if !strings.Contains(a.output(), "ACME certificate obtained") {
				t.Errorf("replica A did not log obtaining the certificate")
			}
			if strings.Contains(b.output(), "ACME certificate obtained") {
				t.Errorf("replica B obtained a certificate itself; want it to load A's from the store")
			}
			checkACMEReported(t, b, domain, leafB)
		})
	}
}
