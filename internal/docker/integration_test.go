package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestEngine runs a Watcher against the real Docker engine: a labelled
// container started from an image built offline must appear within 1s with
// its labels, host network mode and health, and leave the pool within 1s of
// `docker stop`, even though it ignores SIGTERM and so keeps running.
func TestEngine(t *testing.T) {
	api := engine(t)
	image := buildImage(t)
	token := strings.ToLower(rand.Text()[:10])
	name := "rgate-docker-it-" + token

	ctx, cancel := context.WithCancel(t.Context())
	w := NewWatcher(api, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})), Options{})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	waitFor(t, w, 5*time.Second, "the initial snapshot", func(Snapshot) bool { return true })

	start := time.Now()
	docker(t, "run", "-d", "--network", "host", "--name", name,
		"--label", "rgate.test="+token, "--label", "app_name=payment", image, "-ignore-term")
	t.Cleanup(func() { _, _ = exec.Command("docker", "rm", "-f", name).CombinedOutput() })
	s := waitFor(t, w, time.Second, "the container running", func(s Snapshot) bool {
		return find(s, name).State == "running"
	})
	c := find(s, name)
	t.Logf("appeared after %v", time.Since(start))
	if c.Labels["rgate.test"] != token || c.Labels["app_name"] != "payment" || c.NetworkMode != "host" {
		t.Errorf("container = %+v, want its labels and host network mode", c)
	}
	waitFor(t, w, 5*time.Second, "the container healthy", func(s Snapshot) bool {
		return find(s, name).Health == "healthy"
	})

	// The app ignores SIGTERM: Docker lists it running until the SIGKILL 2s later.
	stop := exec.Command("docker", "stop", "-t", "2", name)
	start = time.Now()
	if err := stop.Start(); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	s = waitFor(t, w, time.Second, "the container out of the pool", func(s Snapshot) bool {
		c := find(s, name)
		return c.ID != "" && c.State != "running"
	})
	t.Logf("left the pool after %v as %q", time.Since(start), find(s, name).State)
	if err := stop.Wait(); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	waitFor(t, w, 2*time.Second, "the container exited", func(s Snapshot) bool {
		return find(s, name).State == "exited"
	})
	if st := w.Status(); !st.Connected || st.Events == 0 {
		t.Errorf("Status() = %+v, want connected with events", st)
	}
}

// engine returns a client for the engine, or skips the test if there is none.
func engine(t *testing.T) API {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the Docker engine test in short mode")
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil && os.Getenv("DOCKER_HOST") == "" {
		t.Skip("no Docker engine: /var/run/docker.sock missing and DOCKER_HOST unset")
	}
	for _, tool := range []string{"docker", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s command: %v", tool, err)
		}
	}
	api, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Skipf("Docker engine not reachable: %v", err)
	}
	return api
}

// buildImage builds testdata/app statically and imports it as a one-file
// image (no pull, no network), removed when the test ends.
func buildImage(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	build := exec.Command("go", "build", "-o", bin, "./testdata/app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test app: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	image := "rgate-docker-it:" + strings.ToLower(rand.Text()[:10])
	imp := exec.Command("docker", "import",
		"-c", `ENTRYPOINT ["/app"]`,
		"-c", `HEALTHCHECK --interval=1s --timeout=1s CMD ["/app", "-probe"]`,
		"-", image)
	imp.Stdin = &buf
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("importing the test image: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = exec.Command("docker", "rmi", "-f", image).CombinedOutput() })
	return image
}

// docker runs a docker command and fails the test if it fails.
func docker(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// find returns the container called name in s (the zero Container if none).
func find(s Snapshot, name string) Container {
	for _, c := range s.Containers {
		if c.Name == name {
			return c
		}
	}
	return Container{}
}

// waitFor reads snapshots until one satisfies ok, and fails after timeout.
func waitFor(t *testing.T, w *Watcher, timeout time.Duration, what string, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var last Snapshot
	for {
		select {
		case s := <-w.Updates():
			last = s
			if ok(s) {
				return s
			}
		case <-deadline.C:
			t.Fatalf("no snapshot with %s within %v; last: %+v", what, timeout, last)
		}
	}
}
