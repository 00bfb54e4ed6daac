package e2e

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ctr is one testapp container on the host network.
type ctr struct {
	t          *testing.T
	name       string // container name, and the testapp's NAME (X-Backend-Name)
	port       string // the rgate.port label
	listenPort int    // where the testapp listens on 127.0.0.1
}

// ctrSpec is what startContainer runs.
type ctrSpec struct {
	labels map[string]string
	env    []string
	// listenPort is where the testapp listens; 0 means the port of the
	// rgate.port label (a free port unless labels sets rgate.port).
	listenPort int
	// runArgs are extra `docker run` flags, e.g. health check settings.
	runArgs []string
	// create only creates the container; c.start() starts it.
	create bool
}

// runContainer runs a testapp container named name plus a random suffix,
// labelled with labels and rgate.port=<a free port>, listening on that port,
// and waits until it answers. It is removed at cleanup.
func runContainer(t *testing.T, name string, labels map[string]string, env ...string) *ctr {
	t.Helper()
	return startContainer(t, name, ctrSpec{labels: labels, env: env})
}

func startContainer(t *testing.T, name string, s ctrSpec) *ctr {
	t.Helper()
	c := &ctr{t: t, name: name + "-" + randHex(3), listenPort: s.listenPort}
	labels := maps.Clone(s.labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if p, ok := labels["rgate.port"]; ok {
		c.port = p
	} else {
		c.port = strconv.Itoa(freePort(t))
		labels["rgate.port"] = c.port
	}
	if c.listenPort == 0 {
		n, err := strconv.Atoi(c.port)
		if err != nil {
			n = freePort(t)
		}
		c.listenPort = n
	}
	labels[labelE2E] = "1"
	labels[labelPID] = strconv.Itoa(os.Getpid())

	verb := "run"
	if s.create {
		verb = "create"
	}
	args := []string{verb, "--name", c.name, "--network", "host"}
	if !s.create {
		args = append(args, "-d")
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, "--label", k+"="+labels[k])
	}
	env := append([]string{"LISTEN=127.0.0.1:" + strconv.Itoa(c.listenPort), "NAME=" + c.name}, s.env...)
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, s.runArgs...)
	args = append(args, testappImage)

	t.Cleanup(c.remove)
	docker(t, args...)
	if !s.create {
		c.waitListening()
	}
	return c
}

// remove deletes the container (at cleanup).
func (c *ctr) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "rm", "-f", c.name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such container") {
		c.t.Errorf("docker rm -f %s: %v: %s", c.name, err, out)
	}
}

// start runs `docker start`, and returns the moment it returned, then waits
// for the testapp to answer.
func (c *ctr) start() time.Time {
	c.t.Helper()
	docker(c.t, "start", c.name)
	started := time.Now()
	c.waitListening()
	return started
}

// stop runs `docker stop` (SIGTERM, then SIGKILL after 2s).
func (c *ctr) stop() { c.t.Helper(); docker(c.t, "stop", "-t", "2", c.name) }

// kill runs `docker kill` (SIGKILL).
func (c *ctr) kill() { c.t.Helper(); docker(c.t, "kill", c.name) }

func (c *ctr) pause()   { c.t.Helper(); docker(c.t, "pause", c.name) }
func (c *ctr) unpause() { c.t.Helper(); docker(c.t, "unpause", c.name) }

// exec runs the testapp binary inside the container with args.
func (c *ctr) exec(args ...string) {
	c.t.Helper()
	docker(c.t, append([]string{"exec", c.name, "/app"}, args...)...)
}

// health returns the container's Docker health status ("" without a check).
func (c *ctr) health() string {
	c.t.Helper()
	out := docker(c.t, "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", c.name)
	return strings.TrimSpace(out)
}

// waitListening waits until the testapp answers on its listen port.
func (c *ctr) waitListening() {
	c.t.Helper()
	waitTestapp(c.t, c.listenPort, c.name)
}

// waitTestapp waits until the testapp named name answers on port.
func waitTestapp(t *testing.T, port int, name string) {
	t.Helper()
	client := newClient(t, time.Second)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/ping"
	eventually(t, 15*time.Second, "testapp "+name+" answering on port "+strconv.Itoa(port), func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Backend-Name") == name
	})
}

// docker runs the docker CLI (bounded) and returns its stdout.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// proc is a testapp running as a plain process (a static upstream).
type proc struct {
	name string
	port int
	url  string
}

// startProcess runs the testapp binary outside Docker on a free port and
// waits until it answers. It is stopped at cleanup.
func startProcess(t *testing.T, name string) *proc {
	t.Helper()
	p := &proc{name: name + "-" + randHex(3), port: freePort(t)}
	p.url = "http://127.0.0.1:" + strconv.Itoa(p.port)
	cmd := exec.Command(testappBin)
	cmd.Env = append(os.Environ(), "LISTEN=127.0.0.1:"+strconv.Itoa(p.port), "NAME="+p.name)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting testapp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			if err := <-done; err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Logf("testapp %s: %v", p.name, err)
			}
		}
	})
	waitTestapp(t, p.port, p.name)
	return p
}
