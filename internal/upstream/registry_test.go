package upstream

import (
	"testing"
	"time"
)

func TestRegistryGet(t *testing.T) {
	reg := NewRegistry()
	k := Key{Scheme: "http", Host: "10.0.0.1:8080", ContainerID: "abc", Container: "web-1"}
	a, b := reg.Get(k), reg.Get(k)
	if a != b {
		t.Fatal("same key returned different upstreams")
	}
	if a.Scheme != k.Scheme || a.Host != k.Host || a.ContainerID != k.ContainerID || a.Container != k.Container {
		t.Errorf("upstream fields = %+v, want %+v", a.Key(), k)
	}
	for _, other := range []Key{
		{Scheme: "https", Host: k.Host, ContainerID: k.ContainerID, Container: k.Container},
		{Scheme: k.Scheme, Host: "10.0.0.1:8081", ContainerID: k.ContainerID, Container: k.Container},
		{Scheme: k.Scheme, Host: k.Host, ContainerID: "def", Container: k.Container},
		{Scheme: k.Scheme, Host: k.Host},
	} {
		if reg.Get(other) == a {
			t.Errorf("key %+v shares the upstream of %+v", other, k)
		}
	}
	if reg.Len() != 5 {
		t.Errorf("Len = %d, want 5", reg.Len())
	}
}

func TestRegistryRetain(t *testing.T) {
	reg := NewRegistry()
	keep := reg.Get(Key{Scheme: "http", Host: "a:80"})
	drop := reg.Get(Key{Scheme: "http", Host: "b:80"})
	keep.Acquire()
	drop.ReportConnectFailure(Passive{Threshold: 1, EjectFor: time.Hour})

	reg.Retain([]*Upstream{keep})
	if reg.Len() != 1 {
		t.Fatalf("Len = %d after Retain, want 1", reg.Len())
	}
	if got := reg.Get(keep.Key()); got != keep || got.InFlight() != 1 {
		t.Error("Retain lost a live upstream or its state")
	}
	fresh := reg.Get(drop.Key())
	if fresh == drop {
		t.Fatal("Retain did not forget a dropped upstream")
	}
	if !fresh.Available() {
		t.Error("a forgotten upstream's state came back")
	}

	reg.Retain(nil)
	if reg.Len() != 0 {
		t.Errorf("Len = %d after Retain(nil), want 0", reg.Len())
	}
}
