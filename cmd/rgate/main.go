// Command rgate is an API gateway for services that run as Docker
// containers: it routes requests by path prefix to the containers that carry
// a backend's labels.
//
//	rgate --config rgate.yml --port 8080
//	rgate validate --config rgate.yml
//	rgate hash-key < key.txt        # hex SHA-256 for api_keys_sha256
//	rgate hash-password < pass.txt  # bcrypt for basic_auth.password_bcrypt
//	rgate --version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/rgate/rgate/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line settings for serving.
type options struct {
	config     string
	port       int
	bind       string
	adminPort  int
	tlsPort    int
	logLevel   string
	logFormat  string
	version    bool
	cpuProfile string
}

func run(args []string, stdout, stderr io.Writer) int {
	if code, ok := subcommand(args, stdout, stderr); ok {
		return code
	}
	var o options
	fs := flag.NewFlagSet("rgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "rgate.yml", "config file")
	fs.StringVar(&o.config, "c", "rgate.yml", "config file (shorthand)")
	fs.IntVar(&o.port, "port", 8080, "port to serve traffic on")
	fs.IntVar(&o.port, "p", 8080, "port (shorthand)")
	fs.StringVar(&o.bind, "bind", "", "address to listen on (default all interfaces)")
	fs.IntVar(&o.tlsPort, "tls-port", 0, "HTTPS port (overrides server.tls.port; needs a server.tls block)")
	fs.IntVar(&o.adminPort, "admin-port", 0, "serve /stats and /health on this port instead of the traffic port (overrides server.admin_port)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until shutdown (for performance work)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rgate [--config FILE] [--port N] [flags]\n       rgate validate --config FILE\n       rgate hash-key | hash-password  (reads stdin)\n       rgate --version\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rgate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "rgate", versionString())
		return 0
	}
	if o.port < 1 || o.port > 65535 {
		fmt.Fprintf(stderr, "rgate: --port %d: must be 1-65535\n", o.port)
		return 2
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "rgate: %v\n", err)
		return 2
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "rgate: %v\n", err)
			return 1
		}
		defer stop()
	}
	if err := serve(cfg, o, log); err != nil {
		fmt.Fprintf(stderr, "rgate: %v\n", err)
		return 1
	}
	return 0
}

// subcommand runs the subcommand args name, if they name one.
func subcommand(args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "validate":
		return validate(args[1:], stdout, stderr), true
	case "hash-key":
		return hashKey(os.Stdin, stdout, stderr), true
	case "hash-password":
		return hashPassword(os.Stdin, stdout, stderr), true
	}
	return 0, false
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rgate validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "rgate.yml", "config file")
	fs.StringVar(path, "c", "rgate.yml", "config file (shorthand)")
	withDocker := fs.Bool("docker", false, "also list Docker's containers and show which would serve each route")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	if err := checkCertificates(cfg); err != nil {
		fmt.Fprintf(stderr, "rgate: %v\n", err)
		return 1
	}
	if err := checkEngines(cfg, func(w string) { fmt.Fprintf(stdout, "warning: %s\n", w) }); err != nil {
		fmt.Fprintf(stderr, "rgate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d routes, %d backends)\n", cfg.Path, len(cfg.Routes), len(cfg.Backends))
	if *withDocker {
		return validateDocker(cfg, stdout, stderr)
	}
	return 0
}

// printConfigError prints every problem of a config, one per line.
func printConfigError(w io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		fmt.Fprintf(w, "rgate: invalid config (%d problem%s):\n", len(ps), plural(len(ps)))
		for _, p := range ps {
			fmt.Fprintf(w, "  %s\n", p.String())
		}
		return
	}
	fmt.Fprintf(w, "rgate: %v\n", err)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}
