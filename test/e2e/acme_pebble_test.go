package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Pebble (Let's Encrypt's test CA) and its challenge test server, built
// once per test binary run from the module's tool dependencies.
var pebbleBuild struct {
	once                 sync.Once
	pebble, challtestsrv string
	err                  error
}

func pebbleBinaries(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	pebbleBuild.once.Do(func() {
		dir := filepath.Dir(testappBin) // this run's temporary directory, removed at exit
		pebbleBuild.pebble = filepath.Join(dir, "pebble")
		pebbleBuild.challtestsrv = filepath.Join(dir, "pebble-challtestsrv")
		for bin, pkg := range map[string]string{
			pebbleBuild.pebble:       "github.com/letsencrypt/pebble/v2/cmd/pebble",
			pebbleBuild.challtestsrv: "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv",
		} {
			if out, err := goBuild(bin, pkg, false); err != nil {
				pebbleBuild.err = fmt.Errorf("building %s (a tool dependency in go.mod): %w\n%s", pkg, err, out)
				return
			}
		}
	})
	if pebbleBuild.err != nil {
		t.Fatal(pebbleBuild.err)
	}
	return pebbleBuild.pebble, pebbleBuild.challtestsrv
}

// toolProc is a helper process whose output is kept, killed at cleanup and
// shown when the test failed.
type toolProc struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

func startToolProc(t *testing.T, name string, env []string, bin string, args ...string) *toolProc {
	t.Helper()
	p := &toolProc{name: name, cmd: exec.Command(bin, args...), out: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.out.String(), 80))
		}
	})
	return p
}

// stop kills the process and waits until it has exited.
func (p *toolProc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// pebble is a running Pebble whose DNS answers 127.0.0.1 for every name.
type pebble struct {
	*toolProc
	// directory is the ACME directory URL; caFile the PEM file of the CA
	// of Pebble's own TLS certificate (rgate's directory_ca_file).
	directory, caFile string
	mgmt              string // the management API's base URL
	client            *http.Client
}

// startPebble runs challtestsrv as DNS only (every A query answers
// 127.0.0.1, AAAA none) and Pebble validating http-01 on httpPort and
// tls-alpn-01 on tlsPort of 127.0.0.1, and waits until both answer.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	pebbleBin, challBin := pebbleBinaries(t)
	dir := t.TempDir()
	ca := newTestCA(t)
	cert, key := ca.issue(t, dir, "pebble", 1, false, "localhost")
	caFile := filepath.Join(dir, "pebble-ca.pem")
	replaceFile(t, caFile, ca.pem)

	dns := "127.0.0.1:" + strconv.Itoa(freePort(t))
	startToolProc(t, "pebble-challtestsrv", nil, challBin, "-dnsserver", dns, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-management", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, dns)
	}}
	eventually(t, 20*time.Second, "challtestsrv answering DNS", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		addrs, err := resolver.LookupHost(ctx, "probe.acme.test")
		return err == nil && len(addrs) == 1 && addrs[0] == "127.0.0.1"
	})

	listen, mgmt := freePort(t), freePort(t)
	var cfg struct {
		Pebble map[string]any `json:"pebble"`
	}
	cfg.Pebble = map[string]any{
		"listenAddress": "127.0.0.1:" + strconv.Itoa(listen), "managementListenAddress": "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate": cert, "privateKey": key, "httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false, "keyAlgorithm": "ecdsa",
	}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	replaceFile(t, cfgFile, b)
	p := &pebble{
		toolProc: startToolProc(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
			pebbleBin, "-config", cfgFile, "-dnsserver", dns),
		directory: fmt.Sprintf("https://localhost:%d/dir", listen),
		caFile:    caFile,
		mgmt:      fmt.Sprintf("https://localhost:%d", mgmt),
		client:    &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}},
	}
	t.Cleanup(p.client.CloseIdleConnections)
	eventually(t, 20*time.Second, "Pebble's directory", func() bool {
		res, err := p.client.Get(p.directory)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// roots is Pebble's issuing root, from its management API.
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	res, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("Pebble's root: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	pool := x509.NewCertPool()
	if res.StatusCode != 200 || !pool.AppendCertsFromPEM(b) {
		t.Fatalf("Pebble's root: %d %q", res.StatusCode, b)
	}
	return pool
}

// orders counts the orders Pebble has accepted, from its log.
func (p *pebble) orders() int { return strings.Count(p.out.String(), "Added order") }

// relay forwards every connection to a loopback port it learns later: it
// stands in for rgate's plain port, which the harness picks when it
// starts rgate, after Pebble has been told where to send http-01
// validations.
type relay struct {
	port   int
	ready  chan struct{}
	target int
	conns  atomic.Int64 // connections relayed
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &relay{port: ln.Addr().(*net.TCPAddr).Port, ready: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.forward(t.Context(), c)
		}
	}()
	return r
}

// to sets the port connections go to (once).
func (r *relay) to(port int) {
	r.target = port
	close(r.ready)
}

func (r *relay) forward(ctx context.Context, c net.Conn) {
	defer c.Close()
	select {
	case <-r.ready:
	case <-ctx.Done():
		return
	}
	up, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.target))
	if err != nil {
		return
	}
	defer up.Close()
	r.conns.Add(1)
	go func() {
		_, _ = io.Copy(up, c)
		_ = up.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(c, up)
}
