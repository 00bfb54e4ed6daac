package route

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// lintNames caps how many container names one warning lists per group.
const lintNames = 5

// Lint checks a valid config against the containers of snap for the
// mistakes that leave a backend without the containers its owner meant it
// to have, and returns one warning sentence for each, in config order:
//
//   - a backend's match_labels match no container at all;
//   - the containers matching one backend listen on different ports, or run
//     different images (containers with rgate.enable=false are left out);
//   - a container label looks like a typo of a selector pair the container
//     lacks: its key is near the selector's key (and its value equal or near
//     the selector's value), or, under the selector's key, its value is near
//     the selector's value. Near is an edit distance of 1-2 (1 for strings of
//     4 runes or fewer, which 2 edits make too alike). A container that fully
//     matches another backend is not suspected of a typo for this one.
//
// The warnings describe, they do not reject: a config with warnings is
// still valid.
func Lint(cfg *config.Config, snap docker.Snapshot) []string {
	sels := make([]map[string]string, len(cfg.Backends))
	for i, bc := range cfg.Backends {
		sels[i], _ = bc.Selector() // validated already
	}
	var ws []string
	for i, bc := range cfg.Backends {
		sel := sels[i]
		if len(sel) == 0 {
			continue
		}
		var matched []*docker.Container
		for j := range snap.Containers {
			if c := &snap.Containers[j]; Matches(sel, c.Labels) {
				matched = append(matched, c)
			}
		}
		if len(matched) == 0 {
			ws = append(ws, fmt.Sprintf("backend %q: match_labels %s match no container",
				bc.Name, strings.Join(bc.MatchLabels, ", ")))
		}
		ws = append(ws, spreadWarnings(bc, matched)...)
		others := slices.Concat(sels[:i], sels[i+1:])
		ws = append(ws, typoWarnings(bc.Name, sel, others, snap)...)
	}
	return ws
}

// spreadWarnings flags the containers of one backend that disagree on their
// port or image.
func spreadWarnings(bc config.Backend, matched []*docker.Container) []string {
	byPort := map[uint16][]string{}
	byImage := map[string][]string{}
	for _, c := range matched {
		if disabledReason(c) != "" {
			continue
		}
		if port, why := containerPort(c, bc); why == "" {
			byPort[port] = append(byPort[port], c.Name)
		}
		byImage[c.Image] = append(byImage[c.Image], c.Name)
	}
	var ws []string
	if len(byPort) > 1 {
		ws = append(ws, fmt.Sprintf("backend %q: its containers listen on different ports: %s",
			bc.Name, describeGroups(byPort)))
	}
	if len(byImage) > 1 {
		ws = append(ws, fmt.Sprintf("backend %q: its containers run different images: %s",
			bc.Name, describeGroups(byImage)))
	}
	return ws
}

// describeGroups renders "k1 (a, b); k2 (c)" in key order.
func describeGroups[K cmp.Ordered](m map[K][]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		names := m[k]
		list := strings.Join(names[:min(len(names), lintNames)], ", ")
		if len(names) > lintNames {
			list += fmt.Sprintf(" and %d more", len(names)-lintNames)
		}
		parts = append(parts, fmt.Sprintf("%v (%s)", k, list))
	}
	return strings.Join(parts, "; ")
}

// typoWarnings flags container labels that look like typos of backend
// name's selector sel; others are the other backends' selectors.
func typoWarnings(name string, sel map[string]string, others []map[string]string, snap docker.Snapshot) []string {
	var ws []string
	keys := sortedKeys(sel)
	for i := range snap.Containers {
		c := &snap.Containers[i]
		if matchesAny(others, c.Labels) {
			continue
		}
		for _, k := range keys {
			for _, typo := range labelTypos(c.Labels, k, sel[k]) {
				ws = append(ws, fmt.Sprintf("container %q (%s): label %s looks like a typo of %s=%s (backend %q)",
					c.Name, docker.ShortID(c.ID), typo, k, sel[k], name))
			}
		}
	}
	return ws
}

// labelTypos returns, as "key=value", the labels that look like a typo of
// the pair k=v, which labels lacks.
func labelTypos(labels map[string]string, k, v string) []string {
	if got, ok := labels[k]; ok {
		if got != v && v != "" && near(got, v) {
			return []string{k + "=" + got}
		}
		return nil
	}
	var out []string
	for _, lk := range sortedKeys(labels) {
		lv := labels[lk]
		if near(lk, k) && (lv == v || near(lv, v)) {
			out = append(out, lk+"="+lv)
		}
	}
	return out
}

// near reports whether got differs from want by a small edit: 1-2 edits, or
// exactly 1 when want has 4 runes or fewer.
func near(got, want string) bool {
	if got == want {
		return false
	}
	limit := 2
	if len([]rune(want)) <= 4 {
		limit = 1
	}
	return config.EditDistance(got, want) <= limit
}

func matchesAny(sels []map[string]string, labels map[string]string) bool {
	for _, s := range sels {
		if len(s) > 0 && Matches(s, labels) {
			return true
		}
	}
	return false
}
