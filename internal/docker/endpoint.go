package docker

import (
	"cmp"
	"fmt"

	"github.com/moby/moby/client"
)

// Endpoint is one Docker engine to watch.
type Endpoint struct {
	// Name identifies the engine on its containers (Container.Endpoint) and
	// in statuses and logs; "" for the one engine of the environment.
	Name string
	// Host is the engine's API URL ("unix:///var/run/docker.sock",
	// "tcp://10.0.0.12:2376"); "" takes it from the environment, as
	// Connect does.
	Host string
	// CAFile, CertFile and KeyFile are PEM files for a TLS connection:
	// the CA that signed the engine's certificate ("" for the system's
	// roots) and rgate's client certificate and key (both or neither).
	// All empty: no TLS.
	CAFile, CertFile, KeyFile string
	// Address is where the engine's published and host-network ports are
	// reached (Container.HostAddress); "" for loopback.
	Address string
}

// TLS reports whether e connects with TLS.
func (e Endpoint) TLS() bool { return e.CAFile != "" || e.CertFile != "" || e.KeyFile != "" }

// Connect creates a client for e. With no Host it is the client Connect
// makes, from the environment. The TLS files are read here: one that is
// missing or does not parse is an error that names it. Connect does no
// network I/O: an engine that is down is not an error here. The API
// version is negotiated with the engine on first use.
func (e Endpoint) Connect() (API, error) {
	opts := []client.Opt{client.WithUserAgent("rgate")}
	if e.Host == "" {
		opts = append(opts, client.FromEnv)
	} else {
		opts = append(opts, client.WithHost(e.Host))
		if e.TLS() {
			opts = append(opts, client.WithTLSClientConfig(e.CAFile, e.CertFile, e.KeyFile))
		}
	}
	c, err := client.New(opts...)
	if err != nil {
		if e.Name != "" {
			return nil, fmt.Errorf("creating docker client for endpoint %s (%s): %w", e.Name, e.Host, err)
		}
		return nil, fmt.Errorf("creating docker client: %w", err)
	}
	return c, nil
}

// Source is an engine and the client that talks to it.
type Source struct {
	Endpoint
	API API
}

// host is s's API URL: its Host, else what its client says.
func (s Source) host() string { return cmp.Or(s.Host, DaemonHost(s.API)) }
