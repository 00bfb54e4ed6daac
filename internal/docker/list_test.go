package docker

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestList(t *testing.T) {
	api := newFakeAPI(running("b", map[string]string{"app": "x"}), withState(running("a", nil), container.StateExited, "Exited (0)"))
	snap, err := List(context.Background(), Source{Endpoint: Endpoint{Name: "b", Address: "10.0.0.2"}, API: api}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range snap.Containers {
		ids = append(ids, c.ID+"/"+c.State)
		if c.Endpoint != "b" || c.HostAddress != "10.0.0.2" {
			t.Errorf("container %s: endpoint %q, host address %q; want the source's", c.ID, c.Endpoint, c.HostAddress)
		}
	}
	if !slices.Equal(ids, []string{"a/exited", "b/running"}) {
		t.Errorf("containers = %v, want a/exited, b/running (sorted by ID)", ids)
	}
	if got := api.callLog(); !slices.Equal(got, []string{"ping", "list"}) {
		t.Errorf("calls = %v, want ping then list", got)
	}
	if DaemonHost(api) != "" {
		t.Errorf("DaemonHost(fake) = %q, want \"\"", DaemonHost(api))
	}
}

func TestListErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name       string
		ping, list error
	}{
		{"ping fails", boom, nil},
		{"list fails", nil, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.setErrs(tc.ping, tc.list)
			if _, err := List(context.Background(), Source{API: api}, nil); !errors.Is(err, boom) {
				t.Errorf("List error = %v, want it to wrap %v", err, boom)
			}
		})
	}
}
