package config

import (
	"errors"
	"fmt"
	"testing"
)

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"all parts", Problem{"rgate.yml", 7, "routes[1].backend", "unknown backend"}, "rgate.yml:7: routes[1].backend: unknown backend"},
		{"no line", Problem{"rgate.yml", 0, "routes[1].backend", "unknown backend"}, "rgate.yml: routes[1].backend: unknown backend"},
		{"no field", Problem{"rgate.yml", 0, "", "file is empty"}, "rgate.yml: file is empty"},
		{"no file", Problem{"", 3, "server", "bad"}, "line:3: server: bad"},
		{"message only", Problem{"", 0, "", "bad"}, "bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	t.Parallel()
	ps := Problems{
		{File: "a.yml", Line: 1, Field: "routes", Msg: "one"},
		{File: "a.yml", Field: "server", Msg: "two"},
	}
	want := "a.yml:1: routes: one\na.yml: server: two"
	if got := ps.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("loading: %w", ps)
	got, ok := errors.AsType[Problems](wrapped)
	if !ok || len(got) != 2 {
		t.Fatalf("errors.AsType[Problems] = %v, %v; want the 2 problems", got, ok)
	}
	if err := (Problems{}).err(); err != nil {
		t.Errorf("empty Problems.err() = %v, want nil", err)
	}
}
