package route

import (
	"fmt"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// TestEndpointAddresses: a container's host-network and published ports
// are reached at its engine's address; a remote engine's loopback-only
// binding is skipped, not dialled on rgate's own loopback.
func TestEndpointAddresses(t *testing.T) {
	t.Parallel()
	remote := func(mut func(c *docker.Container)) *docker.Container {
		c := &docker.Container{ID: "c1", Name: "app", State: "running", Endpoint: "host-b", HostAddress: "10.0.0.12",
			Labels: map[string]string{}, Networks: map[string]string{}}
		mut(c)
		return c
	}
	pub := func(ip string) func(c *docker.Container) {
		return func(c *docker.Container) {
			c.NetworkMode = "bridge"
			c.Ports = []docker.Port{{Private: 80, Proto: "tcp", HostIP: ip, HostPort: 18080}}
		}
	}
	for i, tc := range []struct {
		c        *docker.Container
		wantHost string
		wantWhy  string
	}{
		{remote(func(c *docker.Container) { c.NetworkMode = "host"; c.Labels[LabelPort] = "9001" }), "10.0.0.12:9001", ""},
		{remote(pub("0.0.0.0")), "10.0.0.12:18080", ""},
		{remote(pub("::")), "10.0.0.12:18080", ""},
		{remote(pub("10.0.0.99")), "10.0.0.99:18080", ""},
		{remote(pub("127.0.0.1")), "", "published on 127.0.0.1 only: not reachable from another host (endpoint host-b is at 10.0.0.12)"},
		{remote(func(c *docker.Container) { pub("127.0.0.1")(c); c.HostAddress = "127.0.0.1" }), "127.0.0.1:18080", ""},
		{remote(func(c *docker.Container) { pub("::")(c); c.HostAddress = "" }), "[::1]:18080", ""},
	} {
		host, why, _ := Eligible(tc.c, config.Backend{})
		if host != tc.wantHost || why != tc.wantWhy {
			t.Errorf("Test %d: Eligible = %q, %q; want %q, %q", i, host, why, tc.wantHost, tc.wantWhy)
		}
	}
}

// TestCompileIdentityIsEndpointAndID: the same container ID on two
// engines is two upstreams, each naming its engine, and Explain tells them
// apart.
func TestCompileIdentityIsEndpointAndID(t *testing.T) {
	t.Parallel()
	a := ctr("same", "9001", "app_name", "payment", "env", "production")
	a.Endpoint = "host-a"
	b := ctr("same", "9001", "app_name", "payment", "env", "production")
	b.Endpoint, b.HostAddress = "host-b", "10.0.0.12"
	c := ctr("bad", "x", "app_name", "payment", "env", "production")
	c.Endpoint = "host-b"
	cfg := seedConfig()
	snap := docker.Snapshot{Containers: []docker.Container{a, b, c}}
	pay := Compile(cfg, snap, Deps{}).Backend("payment")
	if got := hosts(pay); fmt.Sprint(got) != "[127.0.0.1:9001 10.0.0.12:9001]" {
		t.Fatalf("upstreams = %v, want one per engine", got)
	}
	if pay.Upstreams[0].Endpoint != "host-a" || pay.Upstreams[1].Endpoint != "host-b" || pay.Upstreams[0] == pay.Upstreams[1] {
		t.Errorf("upstream endpoints = %q, %q", pay.Upstreams[0].Endpoint, pay.Upstreams[1].Endpoint)
	}
	if len(pay.Skipped) != 1 || pay.Skipped[0].Endpoint != "host-b" {
		t.Errorf("skipped = %+v, want bad on host-b", pay.Skipped)
	}
	be := ExplainBackend(pay, cfg, snap, false)
	got := map[string]string{}
	for _, ce := range be.Containers {
		got[ce.Endpoint+"/"+ce.ID] = ce.Verdict + " " + ce.Address
	}
	want := map[string]string{"host-a/same": "serving 127.0.0.1:9001", "host-b/same": "serving 10.0.0.12:9001", "host-b/bad": "excluded "}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("explained = %v, want %v", got, want)
	}
}
