package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of rgate as a container (issue 5): the image the Dockerfile makes,
// made offline here with `docker import` of the static binary, the way the
// testapp image is made, since no base image can be pulled.

const (
	// selfImageTag names the image; containers run it by id, so that a
	// concurrent test process that imports its own never swaps it.
	selfImageTag = "rgate-self:e2e"
	// nonrootUID is the Dockerfile's USER, distroless's "nonroot".
	nonrootUID = 65532
	// selfConfigPath is where the Dockerfile puts the config.
	selfConfigPath = "/etc/rgate/rgate.yml"
)

// TestContainerImage runs rgate in a container on the host network with the
// Docker socket mounted read-only, as the non-root user of the image with
// the socket's group added (as examples/compose.yml does), and as root. In
// both, rgate discovers a labelled container, proxies to it, reports Docker
// connected, answers 503 within a second of the container stopping, and
// exits 0 on `docker stop`. Without the socket's group, the non-root rgate
// still serves and /health says why Docker is unreachable.
func TestContainerImage(t *testing.T) {
	t.Parallel()
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		t.Skipf("DOCKER_HOST=%s: mounting the engine's socket needs a unix socket", h)
	}
	sock := engineSocket()
	sockGID, sockMode := socketOwner(t, sock)
	label := uniq(t)
	version := "e2e-" + randHex(4)
	image := importSelfImage(t, oneBackend(label, ""), version)
	path := "/api/" + label + "/x"

	for _, tc := range []struct {
		name    string
		runArgs []string
		uid     int
		group   int // a supplementary group rgate must have, or -1
	}{
		{"nonroot with the socket's group", []string{"--group-add", strconv.Itoa(sockGID)}, nonrootUID, sockGID},
		{"root", []string{"--user", "0:0"}, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := runContainer(t, "backend", map[string]string{"app_name": label})
			s := runSelf(t, image, sock, tc.runArgs...)
			s.checkUser(t, tc.uid, tc.group)

			s.g.waitBackend(t, path, backend.name, 5*time.Second)
			h := s.g.adminJSON(t, "/health")
			if c, _ := jsonAt(h, "docker", "connected"); c != true {
				t.Errorf("GET /health: docker.connected = %v, want true; body %v", c, h)
			}
			if v := jsonString(h, "version"); v != version {
				t.Errorf("GET /health: version = %q, want %q (set by -ldflags -X main.version)", v, version)
			}

			backend.stop()
			d := s.g.waitStatus(t, path, http.StatusServiceUnavailable, routingDelay)
			t.Logf("503 %v after docker stop returned", d.Round(time.Millisecond))
		})
	}

	t.Run("nonroot without the socket's group", func(t *testing.T) {
		if sockMode&0o006 == 0o006 || sockGID == nonrootUID {
			t.Skipf("the socket (mode %v, group %d) is usable without its group", sockMode, sockGID)
		}
		s := runSelf(t, image, sock)
		s.checkUser(t, nonrootUID, -1)
		var h map[string]any
		eventually(t, 5*time.Second, "/health saying permission denied", func() bool {
			h = s.g.adminJSON(t, "/health")
			return strings.Contains(jsonString(h, "docker", "last_error"), "permission denied")
		})
		if c, _ := jsonAt(h, "docker", "connected"); c != false {
			t.Errorf("GET /health: docker.connected = %v, want false", c)
		}
		if st := jsonString(h, "status"); st != "degraded" {
			t.Errorf("GET /health: status = %q, want degraded", st)
		}
	})
}

// selfCtr is rgate running in a container of the image.
type selfCtr struct {
	t    *testing.T
	name string
	g    *gw // only url, port, client and t are set
}

// runSelf runs image with the socket mounted read-only on the host network,
// serving 127.0.0.1 on a free port, and waits until GET /stats answers. At
// cleanup it stops the container (SIGTERM to rgate, PID 1), expects exit
// code 0 and removes it; the container's log is shown when the test failed.
func runSelf(t *testing.T, image, sock string, runArgs ...string) *selfCtr {
	t.Helper()
	port := freePort(t)
	s := &selfCtr{t: t, name: "rgate-self-" + randHex(3)}
	s.g = &gw{t: t, port: port, url: "http://127.0.0.1:" + strconv.Itoa(port), client: newClient(t, 10*time.Second)}
	args := []string{"run", "-d", "--name", s.name, "--network", "host",
		"-v", sock + ":/var/run/docker.sock:ro",
		"--label", labelE2E + "=1", "--label", labelPID + "=" + strconv.Itoa(os.Getpid())}
	args = append(args, runArgs...)
	args = append(args, image, "--config", selfConfigPath, "--bind", "127.0.0.1", "--port", strconv.Itoa(port))
	t.Cleanup(s.cleanup)
	docker(t, args...)

	polls := 0
	eventually(t, 15*time.Second, "rgate in "+s.name+" answering GET /stats", func() bool {
		if r, err := s.g.tryDo(s.g.request(t, http.MethodGet, "/stats", nil)); err == nil && r.status == http.StatusOK {
			return true
		}
		if polls++; polls%10 == 0 && s.state(t, "{{.State.Running}}") != "true" {
			t.Fatalf("rgate container %s is not running (exit code %s)", s.name, s.state(t, "{{.State.ExitCode}}"))
		}
		return false
	})
	return s
}

// state is a `docker inspect --format` value of the container.
func (s *selfCtr) state(t *testing.T, format string) string {
	t.Helper()
	return strings.TrimSpace(docker(t, "inspect", "--format", format, s.name))
}

func (s *selfCtr) cleanup() {
	t := s.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "stop", "-t", "10", s.name).CombinedOutput(); err != nil {
		t.Errorf("docker stop %s: %v: %s", s.name, err, out)
	} else if code, err := exec.CommandContext(ctx, "docker", "inspect", "--format",
		"{{.State.ExitCode}}", s.name).Output(); err != nil || strings.TrimSpace(string(code)) != "0" {
		t.Errorf("rgate container %s: exit code %q after docker stop (err %v), want 0", s.name, bytes.TrimSpace(code), err)
	}
	if t.Failed() {
		logs, _ := exec.CommandContext(ctx, "docker", "logs", s.name).CombinedOutput()
		t.Logf("rgate container %s log:\n%s", s.name, tail(string(logs), 200))
	}
	if out, err := exec.CommandContext(ctx, "docker", "rm", "-f", s.name).CombinedOutput(); err != nil {
		t.Errorf("docker rm -f %s: %v: %s", s.name, err, out)
	}
}

// checkUser asserts that rgate runs as uid and, when gid >= 0, has gid among
// its supplementary groups, as the kernel sees the process. It logs and
// returns when this test cannot see the container's processes (another PID
// namespace).
func (s *selfCtr) checkUser(t *testing.T, uid, gid int) {
	t.Helper()
	pid := s.state(t, "{{.State.Pid}}")
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if errors.Is(err, fs.ErrNotExist) {
		t.Logf("cannot check rgate's user: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("reading rgate's process status: %v", err)
	}
	fields := map[string][]string{}
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.Fields(v)
	}
	if u := fields["Uid"]; len(u) == 0 || u[0] != strconv.Itoa(uid) {
		t.Errorf("rgate runs as uid %v, want %d", u, uid)
	}
	if gid >= 0 && !slices.Contains(fields["Groups"], strconv.Itoa(gid)) {
		t.Errorf("rgate's groups are %v, want them to include %d (the socket's)", fields["Groups"], gid)
	}
}

// socketOwner returns the socket's group and permission bits.
func socketOwner(t *testing.T, sock string) (gid int, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("the engine's socket: %v", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("the engine's socket: no owner information in %T", fi.Sys())
	}
	return int(st.Gid), fi.Mode().Perm()
}

// importSelfImage builds the static gateway with the Dockerfile's flags and
// imports an image laid out as the Dockerfile's final stage: /rgate, the
// config at /etc/rgate/rgate.yml, distroless's /etc/passwd, /etc/group and
// /tmp, user 65532. It returns the image id; the image is removed at cleanup.
func importSelfImage(t *testing.T, config, version string) string {
	t.Helper()
	bin := buildStaticGateway(t, version)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := selfRootfs(data, []byte(config))
	if err != nil {
		t.Fatalf("making the image's file system: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "import",
		"-c", "USER "+strconv.Itoa(nonrootUID)+":"+strconv.Itoa(nonrootUID),
		"-c", "EXPOSE 8080",
		"-c", `ENTRYPOINT ["/rgate"]`,
		"-c", `CMD ["--config", "`+selfConfigPath+`", "--port", "8080"]`,
		"-", selfImageTag)
	cmd.Stdin = bytes.NewReader(rootfs)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker import %s: %v", selfImageTag, err)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "rmi", id).CombinedOutput(); err != nil {
			t.Errorf("docker rmi %s: %v: %s", id, err, out)
		}
	})
	return id
}

// buildStaticGateway builds ./cmd/rgate as the Dockerfile does, but for
// -trimpath, so that it shares the build cache with the harness's build.
// The binary must be static: the image has no C library.
func buildStaticGateway(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rgate")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin,
		"-ldflags", "-s -w -X main.version="+version, "./cmd/rgate")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the static gateway: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("reading the gateway binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("the gateway binary is dynamically linked; the image has no C library")
		}
	}
	return bin
}

// selfRootfs is the tar of the image's file system.
func selfRootfs(bin, config []byte) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:65532:\n"
	now := time.Now()
	files := []struct {
		hdr  tar.Header
		data []byte
	}{
		{tar.Header{Name: "rgate", Mode: 0o755}, bin},
		{tar.Header{Name: "etc/", Mode: 0o755, Typeflag: tar.TypeDir}, nil},
		{tar.Header{Name: "etc/passwd", Mode: 0o644}, []byte(passwd)},
		{tar.Header{Name: "etc/group", Mode: 0o644}, []byte(group)},
		{tar.Header{Name: "etc/rgate/", Mode: 0o755, Typeflag: tar.TypeDir}, nil},
		{tar.Header{Name: "etc/rgate/rgate.yml", Mode: 0o644}, config},
		{tar.Header{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir}, nil},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := f.hdr
		h.ModTime = now
		if h.Typeflag != tar.TypeDir {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
