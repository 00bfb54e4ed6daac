package docker

// Container is what rgate knows of one Docker container: plain values copied
// out of the Docker SDK's types at this package's edge, so that everything
// downstream (route.Compile) is a pure function of them.
type Container struct {
	ID   string // full id
	Name string // without the leading "/"
	// Endpoint names the Docker engine the container runs on: the name of
	// its Endpoint, "" for the one engine taken from the environment. A
	// container's identity is (Endpoint, ID).
	Endpoint string
	// HostAddress is where the container's published and host-network
	// ports are reached: its endpoint's Address; "" means loopback, as for
	// a local engine.
	HostAddress string
	// Image is the image reference the container was created from.
	Image string
	// State is Docker's state: "running", "paused", "exited", ..., or
	// StateStopping for a container told to stop that Docker still reports
	// running (see the package doc).
	State string
	// Health is "" when the container has no HEALTHCHECK or is not running,
	// else "starting", "healthy" or "unhealthy".
	Health string
	Labels map[string]string
	// NetworkMode is HostConfig.NetworkMode ("host", "bridge", "none", a
	// network name, "container:<id>").
	NetworkMode string
	// Networks maps network name to the container's IP address on it
	// (entries with no IP are omitted).
	Networks map[string]string
	// Ports are the container's exposed ports, with their host bindings,
	// sorted by Private, Proto, HostIP, HostPort (a port published on both
	// IPv4 and IPv6 appears once per binding).
	Ports []Port
}

// StateStopping is the State of a container that has been told to stop (a
// stop, pause or terminating kill event) but that Docker may still list as
// running. It must not receive new requests.
const StateStopping = "stopping"

// Port is one exposed container port and where it is published, if anywhere.
type Port struct {
	Private  uint16 // the container's port
	Proto    string // "tcp" or "udp"
	HostIP   string // "" when not published
	HostPort uint16 // 0 when not published
}

// Snapshot is the whole set of containers at one moment, sorted by
// endpoint (in the order the endpoints were given), then by ID. Snapshots
// are values: nothing mutates one after sending it.
type Snapshot struct {
	Containers []Container
}
