package docker

import (
	"context"

	"github.com/moby/moby/client"
)

// API is the part of the Docker Engine SDK client that this package uses. It is
// satisfied by *client.Client; tests use a fake.
//
// Events follows the SDK's contract: the stream runs until ctx is cancelled or
// an error (io.EOF when the engine closes it) is sent on Err, after which Err is
// closed.
type API interface {
	Ping(ctx context.Context, opts client.PingOptions) (client.PingResult, error)
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	Events(ctx context.Context, opts client.EventsListOptions) client.EventsResult
	Close() error
}

// Interface guards.
var _ API = (*client.Client)(nil)

// Connect creates a Docker Engine client configured from the environment
// (DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY),
// defaulting to the local socket: Endpoint{}.Connect. The API version is
// negotiated with the engine on first use (unless DOCKER_API_VERSION pins
// one), so older engines such as 20.10 (API 1.41) work.
//
// Connect does no I/O: an engine that is down is not an error here; the Watcher
// retries until it comes up. The caller closes the client when done.
func Connect() (API, error) { return Endpoint{}.Connect() }
