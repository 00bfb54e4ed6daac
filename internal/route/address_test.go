package route

import (
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

func TestEligible(t *testing.T) {
	t.Parallel()
	running := func(mut func(c *docker.Container)) *docker.Container {
		c := &docker.Container{ID: "c1", Name: "app", State: "running", Labels: map[string]string{}, Networks: map[string]string{}}
		mut(c)
		return c
	}
	for _, tc := range []struct {
		name     string
		c        *docker.Container
		backend  config.Backend
		wantHost string
		wantWhy  string // substring of the reason; "" means eligible
		wantWarn bool
	}{
		{
			name:     "host network with rgate.port",
			c:        running(func(c *docker.Container) { c.NetworkMode = "host"; c.Labels[LabelPort] = "9001" }),
			wantHost: "127.0.0.1:9001",
		},
		{
			name: "disabled by label",
			c: running(func(c *docker.Container) {
				c.NetworkMode = "host"
				c.Labels[LabelPort] = "9001"
				c.Labels[LabelEnable] = "false"
			}),
			wantWhy: "rgate.enable=false",
		},
		{
			name:    "not running",
			c:       running(func(c *docker.Container) { c.State = "exited"; c.NetworkMode = "host"; c.Labels[LabelPort] = "1" }),
			wantWhy: "not running (state exited)",
		},
		{
			name:    "stopping is not running",
			c:       running(func(c *docker.Container) { c.State = "stopping"; c.NetworkMode = "host"; c.Labels[LabelPort] = "1" }),
			wantWhy: "not running",
		},
		{
			name:    "unhealthy",
			c:       running(func(c *docker.Container) { c.Health = "unhealthy"; c.NetworkMode = "host"; c.Labels[LabelPort] = "1" }),
			wantWhy: "health is unhealthy",
		},
		{
			name:    "health starting",
			c:       running(func(c *docker.Container) { c.Health = "starting"; c.NetworkMode = "host"; c.Labels[LabelPort] = "1" }),
			wantWhy: "health is starting",
		},
		{
			name:     "healthy",
			c:        running(func(c *docker.Container) { c.Health = "healthy"; c.NetworkMode = "host"; c.Labels[LabelPort] = "7" }),
			wantHost: "127.0.0.1:7",
		},
		{
			name:     "bad rgate.port",
			c:        running(func(c *docker.Container) { c.NetworkMode = "host"; c.Labels[LabelPort] = "abc" }),
			wantWhy:  `rgate.port="abc" is not a port`,
			wantWarn: true,
		},
		{
			name:     "rgate.port out of range",
			c:        running(func(c *docker.Container) { c.NetworkMode = "host"; c.Labels[LabelPort] = "70000" }),
			wantWhy:  "not a port",
			wantWarn: true,
		},
		{
			name:     "backend port option",
			c:        running(func(c *docker.Container) { c.NetworkMode = "host" }),
			backend:  config.Backend{Port: 8080},
			wantHost: "127.0.0.1:8080",
		},
		{
			name:     "label beats backend port",
			c:        running(func(c *docker.Container) { c.NetworkMode = "host"; c.Labels[LabelPort] = "81" }),
			backend:  config.Backend{Port: 8080},
			wantHost: "127.0.0.1:81",
		},
		{
			name: "only published port, wildcard binding -> loopback",
			c: running(func(c *docker.Container) {
				c.NetworkMode = "bridge"
				c.Networks["bridge"] = "172.17.0.2"
				c.Ports = []docker.Port{{Private: 80, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 32768}, {Private: 443, Proto: "tcp"}}
			}),
			wantHost: "127.0.0.1:32768",
		},
		{
			name: "published on a specific host IP",
			c: running(func(c *docker.Container) {
				c.NetworkMode = "bridge"
				c.Ports = []docker.Port{{Private: 80, Proto: "tcp", HostIP: "127.0.0.5", HostPort: 8000}}
			}),
			wantHost: "127.0.0.5:8000",
		},
		{
			name: "IPv6 wildcard binding",
			c: running(func(c *docker.Container) {
				c.Ports = []docker.Port{{Private: 80, Proto: "tcp", HostIP: "::", HostPort: 8000}}
			}),
			wantHost: "[::1]:8000",
		},
		{
			name: "only exposed port on the only network",
			c: running(func(c *docker.Container) {
				c.NetworkMode = "mynet"
				c.Networks["mynet"] = "10.0.0.5"
				c.Ports = []docker.Port{{Private: 3000, Proto: "tcp"}}
			}),
			wantHost: "10.0.0.5:3000",
		},
		{
			name: "two exposed ports is ambiguous",
			c: running(func(c *docker.Container) {
				c.Networks["n"] = "10.0.0.5"
				c.Ports = []docker.Port{{Private: 3000, Proto: "tcp"}, {Private: 3001, Proto: "tcp"}}
			}),
			wantWhy:  "2 exposed ports",
			wantWarn: true,
		},
		{
			name: "udp ports do not count",
			c: running(func(c *docker.Container) {
				c.Networks["n"] = "10.0.0.5"
				c.Ports = []docker.Port{{Private: 53, Proto: "udp"}}
			}),
			wantWhy:  "no usable port",
			wantWarn: true,
		},
		{
			name:     "no port at all",
			c:        running(func(c *docker.Container) { c.Networks["n"] = "10.0.0.5" }),
			wantWhy:  "no usable port",
			wantWarn: true,
		},
		{
			name: "two networks ambiguous",
			c: running(func(c *docker.Container) {
				c.Labels[LabelPort] = "80"
				c.Networks["a"], c.Networks["b"] = "10.0.0.1", "10.0.1.1"
			}),
			wantWhy:  "ambiguous network",
			wantWarn: true,
		},
		{
			name: "rgate.network picks one",
			c: running(func(c *docker.Container) {
				c.Labels[LabelPort] = "80"
				c.Labels[LabelNetwork] = "b"
				c.Networks["a"], c.Networks["b"] = "10.0.0.1", "10.0.1.1"
			}),
			wantHost: "10.0.1.1:80",
		},
		{
			name: "backend network option",
			c: running(func(c *docker.Container) {
				c.Labels[LabelPort] = "80"
				c.Networks["a"], c.Networks["b"] = "10.0.0.1", "10.0.1.1"
			}),
			backend:  config.Backend{Network: "a"},
			wantHost: "10.0.0.1:80",
		},
		{
			name: "named network missing",
			c: running(func(c *docker.Container) {
				c.Labels[LabelPort] = "80"
				c.Labels[LabelNetwork] = "zzz"
				c.Networks["a"] = "10.0.0.1"
			}),
			wantWhy:  `not attached to network "zzz"`,
			wantWarn: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, why, warn := Eligible(tc.c, tc.backend)
			if tc.wantWhy == "" {
				if why != "" || host != tc.wantHost {
					t.Fatalf("got host %q reason %q, want host %q", host, why, tc.wantHost)
				}
				return
			}
			if !strings.Contains(why, tc.wantWhy) || host != "" {
				t.Fatalf("got host %q reason %q, want reason containing %q", host, why, tc.wantWhy)
			}
			if warn != tc.wantWarn {
				t.Errorf("warn = %v, want %v", warn, tc.wantWarn)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	sel := map[string]string{"app_name": "payment", "env": "production"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"all labels", map[string]string{"app_name": "payment", "env": "production"}, true},
		{"extra labels fine", map[string]string{"app_name": "payment", "env": "production", "x": "y"}, true},
		{"missing one", map[string]string{"app_name": "payment"}, false},
		{"wrong value", map[string]string{"app_name": "payment", "env": "staging"}, false},
		{"empty value differs from missing", map[string]string{"app_name": "payment", "env": ""}, false},
		{"no labels", nil, false},
	} {
		if got := Matches(sel, tc.labels); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !Matches(map[string]string{"k": ""}, map[string]string{"k": ""}) {
		t.Error("empty value selector must match an empty label value")
	}
}
