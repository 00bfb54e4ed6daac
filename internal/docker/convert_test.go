package docker

import (
	"net/netip"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
)

func TestConvert(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		in   container.Summary
		want Container
	}{
		{
			name: "name among link aliases",
			in:   container.Summary{ID: "x", Names: []string{"/web/db-alias", "/db"}},
			want: Container{ID: "x", Name: "db"},
		},
		{
			name: "ports sorted, duplicates dropped, both families kept",
			in: container.Summary{ID: "x", Ports: []container.PortSummary{
				{PrivatePort: 80, Type: "tcp", IP: ip("::"), PublicPort: 8080},
				{PrivatePort: 53, Type: "udp"},
				{PrivatePort: 80, Type: "tcp", IP: ip("0.0.0.0"), PublicPort: 8080},
				{PrivatePort: 53, Type: "udp"},
			}},
			want: Container{ID: "x", Ports: []Port{
				{Private: 53, Proto: "udp"},
				{Private: 80, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 8080},
				{Private: 80, Proto: "tcp", HostIP: "::", HostPort: 8080},
			}},
		},
		{
			name: "networks without an address omitted, IPv6-only kept",
			in: container.Summary{ID: "x", NetworkSettings: &container.NetworkSettingsSummary{
				Networks: map[string]*network.EndpointSettings{
					"front": {IPAddress: ip("10.0.0.5")},
					"v6":    {GlobalIPv6Address: ip("fd00::5")},
					"down":  {},
					"nil":   nil,
				},
			}},
			want: Container{ID: "x", Networks: map[string]string{"front": "10.0.0.5", "v6": "fd00::5"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.Labels = map[string]string{}
			if tc.want.Networks == nil {
				tc.want.Networks = map[string]string{}
			}
			if tc.want.Ports == nil {
				tc.want.Ports = []Port{}
			}
			if got := convert(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("convert() =\n %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestHealthHint(t *testing.T) {
	for _, tc := range []struct {
		status, hint string
		ok           bool
	}{
		{"Up 3 minutes (healthy)", "healthy", true},
		{"Up 3 minutes (unhealthy)", "unhealthy", true},
		{"Up 2 seconds (health: starting)", "health: starting", true},
		{"Up 3 minutes", "", false},
		{"Up 3 minutes (Paused)", "", false},
		{"Exited (0) 2 minutes ago", "", false},
	} {
		hint, ok := healthHint(tc.status)
		if hint != tc.hint || ok != tc.ok {
			t.Errorf("healthHint(%q) = %q, %v; want %q, %v", tc.status, hint, ok, tc.hint, tc.ok)
		}
	}
}

func TestHealthFromInspect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		healthy := withState(running("a", nil), container.StateRunning, "Up 3 minutes (healthy)")
		starting := withState(running("b", nil), container.StateRunning, "Up 1 second (health: starting)")
		plain := running("c", nil)
		stopped := withState(running("d", nil), container.StateExited, "Exited (0) 1 minute ago")
		lost := withState(running("e", nil), container.StateRunning, "Up 1 minute (unhealthy)")
		listed := running("f", nil) // API >= 1.52: health in the list itself
		listed.Status = "Up 1 minute (healthy)"
		listed.Health = &container.HealthSummary{Status: container.Healthy}
		api := newFakeAPI(healthy, starting, plain, stopped, lost, listed)
		api.setHealth("a", container.Healthy)
		api.setHealth("b", container.Starting)
		api.setHealth("d", container.Unhealthy) // not running: not inspected
		// e: inspect fails, so the Status text is used.
		h := start(t, api, Options{})
		defer h.stop()

		want := map[string]string{"a": "running/healthy", "b": "running/starting", "c": "running",
			"d": "exited", "e": "running/unhealthy", "f": "running/healthy"}
		if got := states(h.next()); !reflect.DeepEqual(got, want) {
			t.Errorf("states = %v, want %v", got, want)
		}
		if _, n := api.counts(); n != 3 {
			t.Errorf("%d inspects, want 3 (a, b, e)", n)
		}

		// Health unchanged: only the failed inspect is retried.
		s := h.stream()
		s.send(events.ContainerEventType, events.ActionStart, "c", nil)
		advance(time.Second)
		if _, n := api.counts(); n != 4 {
			t.Errorf("%d inspects after a re-list, want 4", n)
		}

		// b becomes healthy: its Status changes, so it is inspected again.
		api.setHealth("b", container.Healthy)
		api.set(healthy, withState(starting, container.StateRunning, "Up 31 seconds (healthy)"), plain, stopped, lost, listed)
		s.send(events.ContainerEventType, "health_status: healthy", "b", nil)
		advance(time.Second)
		if got := states(h.next()); got["b"] != "running/healthy" {
			t.Errorf("states = %v, want b healthy", got)
		}
		if _, n := api.counts(); n != 6 {
			t.Errorf("%d inspects, want 6", n)
		}
	})
}
