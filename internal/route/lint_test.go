package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

func TestLint(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Routes: []config.Route{{PathPrefix: "/p", Backend: "payment"}},
		Backends: []config.Backend{
			{Name: "payment", MatchLabels: []string{"app_name=payment", "env=production"}},
			{Name: "ghost", MatchLabels: []string{"app_name=ghost"}},
			{Name: "orders", MatchLabels: []string{"app_name=orders"}},
			{Name: "static", URLs: []string{"http://127.0.0.1:9"}},
		},
	}
	img := func(c docker.Container, image string) docker.Container { c.Image = image; return c }
	snap := docker.Snapshot{Containers: []docker.Container{
		img(ctr("a", "9001", "app_name", "payment", "env", "production"), "pay:1"),
		img(ctr("b", "9001", "app_name", "payment", "env", "production"), "pay:1"),
		img(ctr("c", "9002", "app_name", "payment", "env", "production"), "pay:2"),
		img(ctr("off", "9009", "app_name", "payment", "env", "production", LabelEnable, "false"), "other:9"),
		ctr("keytypo", "9003", "app_nme", "payment", "env", "production"),
		ctr("valtypo", "9004", "app_name", "paymnet", "env", "production"), // two edits
		ctr("envtypo", "9005", "app_name", "payment", "env", "producton"),
		ctr("far", "9006", "app_name", "payroll", "env", "production"),  // 3 edits: not a typo
		ctr("keyfar", "9007", "app_nme", "shop", "env", "production"),   // key near, value far
		ctr("order", "9008", "app_name", "orders", "env", "production"), // serves orders: not suspected
		ctr("short", "9010", "app_name", "payment", "env", "prd", "en", "production"),
	}}
	got := Lint(cfg, snap)
	want := []string{
		`backend "payment": its containers listen on different ports: 9001 (n-a, n-b); 9002 (n-c)`,
		`backend "payment": its containers run different images: pay:1 (n-a, n-b); pay:2 (n-c)`,
		`container "n-keytypo" (keytypo): label app_nme=payment looks like a typo of app_name=payment (backend "payment")`,
		`container "n-valtypo" (valtypo): label app_name=paymnet looks like a typo of app_name=payment (backend "payment")`,
		`container "n-envtypo" (envtypo): label env=producton looks like a typo of env=production (backend "payment")`,
		`backend "ghost": match_labels app_name=ghost match no container`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Lint =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestNear(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
		near      bool
	}{
		{"app_nme", "app_name", true},
		{"app_nmae", "app_name", true}, // a swap is two edits
		{"appname", "app_name", true},
		{"app_name", "app_name", false}, // equal is no typo
		{"ap_nme", "app_name", true},
		{"a_nme", "app_name", false},
		{"prd", "prod", true},
		{"dev", "prod", false}, // short strings: one edit only
		{"pord", "prod", false},
	} {
		if got := near(tc.got, tc.want); got != tc.near {
			t.Errorf("near(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.near)
		}
	}
}

func TestLintManyNames(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Backends: []config.Backend{{Name: "b", MatchLabels: []string{"k=v"}}}}
	var snap docker.Snapshot
	for i, port := range []string{"1", "1", "1", "1", "1", "1", "1", "2"} {
		snap.Containers = append(snap.Containers, ctr(string(rune('a'+i)), port, "k", "v"))
	}
	got := Lint(cfg, snap)
	want := `backend "b": its containers listen on different ports: 1 (n-a, n-b, n-c, n-d, n-e and 2 more); 2 (n-h)`
	if len(got) != 1 || got[0] != want {
		t.Errorf("Lint = %q, want [%q]", got, want)
	}
}
