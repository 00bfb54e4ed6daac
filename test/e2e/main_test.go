// Package e2e runs the rgate binary against a real Docker engine.
//
// Every test builds its own gateway process on a free loopback port and runs
// its own testapp containers (--network host, listening on 127.0.0.1) whose
// labels carry a per-test unique value, so tests run in parallel without
// seeing each other's containers.
//
// When the Docker engine does not answer, the package is skipped, unless CI
// or RGATE_E2E=1 is set, in which case it fails. `go test -short` skips it too
// (again unless RGATE_E2E=1). RGATE_BIN runs a prebuilt gateway binary instead
// of building ./cmd/rgate. Under -race the gateway is built with -race as well,
// and a data race it reports fails the test that ran it.
package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	testappImage = "rgate-testapp:e2e"
	// labelE2E marks every container the tests create.
	labelE2E = "rgate.e2e"
	// labelPID names the test process that owns a container, so that a later
	// run can remove what a killed run left behind.
	labelPID = "rgate.e2e.pid"
)

// Set once by TestMain, read-only afterwards.
var (
	repoRoot      string
	rgateBin      string
	rgateBuildErr error
	testappBin    string
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	required := os.Getenv("CI") != "" || os.Getenv("RGATE_E2E") == "1"
	if err := dockerAlive(); err != nil {
		if required {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: the Docker engine does not answer `docker info`: %v\n"+
				"e2e: CI or RGATE_E2E=1 is set, so the end-to-end tests must run; start dockerd.\n", err)
			return 1
		}
		fmt.Printf("e2e: SKIP: the Docker engine does not answer `docker info` (%v); "+
			"set RGATE_E2E=1 to make this a failure\n", err)
		return 0
	}
	if testing.Short() && !required {
		fmt.Println("e2e: SKIP: -short given (set RGATE_E2E=1 to run the end-to-end tests anyway)")
		return 0
	}

	tmp, err := os.MkdirTemp("", "rgate-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: setting up: %v\n", err)
		return 1
	}
	removeContainers(staleContainers())
	defer removeContainers(ownContainers())
	return m.Run()
}

// setup finds the repository, builds the testapp binary and image, and the
// gateway (whose build error is kept for the tests to report).
func setup(tmp string) error {
	root, err := findRepoRoot()
	if err != nil {
		return err
	}
	repoRoot = root
	testappBin = filepath.Join(tmp, "testapp")
	if out, err := goBuild(testappBin, "./test/testapp", false); err != nil {
		return fmt.Errorf("building the testapp: %w\n%s", err, out)
	}
	if err := importTestappImage(testappBin); err != nil {
		return err
	}
	if bin := os.Getenv("RGATE_BIN"); bin != "" {
		rgateBin = bin
		return nil
	}
	rgateBin = filepath.Join(tmp, "rgate")
	if out, err := goBuild(rgateBin, "./cmd/rgate", raceEnabled); err != nil {
		rgateBuildErr = fmt.Errorf("building ./cmd/rgate: %w\n%s", err, out)
	}
	return nil
}

func findRepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("finding the repository: no caller information")
	}
	// file is <root>/test/e2e/main_test.go.
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	return root, nil
}

func goBuild(out, pkg string, race bool) ([]byte, error) {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	if !race {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	return cmd.CombinedOutput()
}

// importTestappImage makes the image from the static binary alone: /app, a
// /bin/sh link to it (for Docker's CMD-SHELL health checks) and /tmp.
// The image carries the binary's sha256 in its environment, so an unchanged
// testapp is not imported again, and a replaced image is removed.
func importTestappImage(bin string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	stamp := "TESTAPP_SHA256=" + hex.EncodeToString(sum[:])
	oldID, oldEnv := imageInfo(testappImage)
	if strings.Contains(oldEnv, stamp) {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	hdrs := []*tar.Header{
		{Name: "app", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: now},
		{Name: "bin/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: now},
		{Name: "bin/sh", Linkname: "app", Mode: 0o755, Typeflag: tar.TypeLink, ModTime: now},
		{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir, ModTime: now},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "import",
		"-c", `ENTRYPOINT ["/app"]`, "-c", "ENV "+stamp, "-", testappImage)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("importing %s: %w\n%s", testappImage, err, out)
	}
	if oldID != "" {
		// Fails while a container still uses it; then it stays, harmlessly.
		_ = exec.CommandContext(ctx, "docker", "rmi", oldID).Run()
	}
	return nil
}

// imageInfo returns an image's id and environment, or "" when it is absent.
func imageInfo(ref string) (id, env string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect",
		"--format", "{{.Id}} {{json .Config.Env}}", ref).Output()
	if err != nil {
		return "", ""
	}
	id, env, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	return id, env
}

func dockerAlive() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ownContainers lists the containers this test process created.
func ownContainers() []string {
	return listContainers("label=" + labelPID + "=" + strconv.Itoa(os.Getpid()))
}

// staleContainers lists test containers whose owning process is gone.
func staleContainers() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label="+labelE2E+"=1",
		"--format", `{{.ID}} {{.Label "`+labelPID+`"}}`).Output()
	if err != nil {
		return nil
	}
	var ids []string
	for line := range strings.Lines(string(out)) {
		id, pid, _ := strings.Cut(strings.TrimSpace(line), " ")
		n, err := strconv.Atoi(pid)
		if id != "" && (err != nil || syscall.Kill(n, 0) == syscall.ESRCH) {
			ids = append(ids, id)
		}
	}
	return ids
}

func listContainers(filter string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", filter).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

func removeContainers(ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"rm", "-f"}, ids...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	_ = cmd.Run()
}
