package e2e

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// engine is a second Docker engine that a test runs itself: its own
// dockerd (and the containerd it starts) on a unix socket in a short temp
// directory, with no iptables, no bridge and the vfs storage driver, so
// that it touches nothing of the machine's engine. Containers on it use the
// host network only.
type engine struct {
	t      *testing.T
	dir    string // short: the socket and exec-root paths have length limits
	sock   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startEngine starts a second engine, imports the testapp image into it
// and removes everything (containers, dockerd, mounts, files) at cleanup.
// Without dockerd (or root) the test is skipped, or fails where the
// end-to-end tests are required (CI, RGATE_E2E=1), as in TestMain.
func startEngine(t *testing.T) *engine {
	t.Helper()
	required := os.Getenv("CI") != "" || os.Getenv("RGATE_E2E") == "1"
	var why string
	if _, err := exec.LookPath("dockerd"); err != nil {
		why = "dockerd is not installed"
	} else if os.Geteuid() != 0 {
		why = "running a second dockerd needs root"
	}
	if why != "" {
		if required {
			t.Fatalf("%s; CI or RGATE_E2E=1 is set, so this test must run", why)
		}
		t.Skip(why)
	}
	dir, err := os.MkdirTemp("", "rgb-")
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{t: t, dir: dir, sock: filepath.Join(dir, "b.sock")}
	t.Cleanup(e.cleanup)
	e.start()
	e.importImage()
	return e
}

// host is the engine's DOCKER_HOST.
func (e *engine) host() string { return "unix://" + e.sock }

// start runs dockerd and waits until it answers; failing, it fails the
// test.
func (e *engine) start() {
	e.t.Helper()
	if err := e.launch(); err != nil {
		e.t.Fatalf("%v; log:\n%s", err, e.logTail())
	}
}

// launch runs dockerd and waits (at most 30s) until it answers.
func (e *engine) launch() error {
	log, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	e.cmd = exec.Command("dockerd", "--host", e.host(),
		"--data-root", filepath.Join(e.dir, "data"), "--exec-root", filepath.Join(e.dir, "x"),
		"--pidfile", filepath.Join(e.dir, "b.pid"),
		"--iptables=false", "--bridge=none", "--storage-driver=vfs")
	e.cmd.Stdout, e.cmd.Stderr = log, log
	if err := e.cmd.Start(); err != nil {
		return errors.New("starting dockerd: " + err.Error())
	}
	exited := make(chan struct{})
	e.exited = exited
	go func(c *exec.Cmd) { _ = c.Wait(); close(exited) }(e.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := e.try("info", "--format", "{{.ServerVersion}}"); err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("dockerd exited at start")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("dockerd did not answer within 30s")
		}
	}
}

// kill sends dockerd SIGKILL and waits for it and its containerd (which
// dies with it) to be gone: a dockerd started while the old containerd's
// pid still exists, if only as a zombie, waits for that containerd and
// fails. The containers' processes, under their shims, stay.
func (e *engine) kill() {
	e.t.Helper()
	pid, _ := os.ReadFile(filepath.Join(e.dir, "x", "containerd", "containerd.pid"))
	_ = e.cmd.Process.Signal(syscall.SIGKILL)
	<-e.exited
	if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil && n > 0 {
		eventually(e.t, 15*time.Second, "the killed dockerd's containerd gone", func() bool {
			_, err := os.Stat("/proc/" + strconv.Itoa(n))
			return errors.Is(err, os.ErrNotExist)
		})
	}
}

func (e *engine) running() bool {
	select {
	case <-e.exited:
		return false
	default:
		return e.cmd != nil
	}
}

// docker runs the docker CLI against this engine; an error fails the test.
func (e *engine) docker(args ...string) string {
	e.t.Helper()
	out, err := e.try(args...)
	if err != nil {
		e.t.Fatalf("docker -H %s %s: %v", e.host(), strings.Join(args, " "), err)
	}
	return out
}

func (e *engine) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", e.host()}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.New(err.Error() + ": " + strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// importImage copies the testapp image from the machine's engine.
func (e *engine) importImage() {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	save := exec.CommandContext(ctx, "docker", "save", testappImage)
	load := exec.CommandContext(ctx, "docker", "-H", e.host(), "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		t.Fatalf("docker save: %v", err)
	}
	out, lerr := load.CombinedOutput()
	serr := save.Wait()
	if lerr != nil || serr != nil {
		t.Fatalf("copying %s into the second engine: save %v, load %v: %s", testappImage, serr, lerr, out)
	}
}

// runContainer runs a testapp on this engine's host network, named name
// plus a random suffix, with labels and rgate.port=<a free port>, and waits
// until it answers. It returns the name and the port.
func (e *engine) runContainer(name string, labels map[string]string) (string, int) {
	e.t.Helper()
	name += "-" + randHex(3)
	port := freePort(e.t)
	labels = maps.Clone(labels)
	labels["rgate.port"] = strconv.Itoa(port)
	args := []string{"run", "-d", "--name", name, "--network", "host"}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, "--label", k+"="+labels[k])
	}
	args = append(args, "-e", "LISTEN=127.0.0.1:"+strconv.Itoa(port), "-e", "NAME="+name, testappImage)
	e.docker(args...)
	waitTestapp(e.t, port, name)
	return name, port
}

// cleanup removes every container of the engine and stops it. A killed
// engine is started again first: its restart stops the containers that
// outlived it. Then the mounts dockerd left under dir go, and dir.
func (e *engine) cleanup() {
	t := e.t
	if e.cmd != nil && !e.running() {
		if err := e.launch(); err != nil {
			t.Errorf("restarting the second dockerd to clean up: %v", err)
		}
	}
	if e.running() {
		if ids, err := e.try("ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
			if _, err := e.try(append([]string{"rm", "-f"}, strings.Fields(ids)...)...); err != nil {
				t.Errorf("removing the second engine's containers: %v", err)
			}
		}
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(20 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
			t.Errorf("the second dockerd did not stop within 20s of SIGTERM")
		}
	}
	if t.Failed() {
		t.Logf("second dockerd log:\n%s", e.logTail())
	}
	for _, m := range mountsUnder(e.dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", m, err)
		}
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Errorf("removing %s: %v", e.dir, err)
	}
}

func (e *engine) logTail() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
	return tail(string(b), 40)
}

// mountsUnder lists the mount points at or under dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}
