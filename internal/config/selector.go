package config

import (
	"fmt"
	"strings"
)

// Selector returns b's match_labels as a map from label key to value.
//
// It returns nil for a backend without match_labels. Callers must read that
// as "selects no containers" (the backend has only static urls), not as the
// empty selector that every container would match.
func (b Backend) Selector() (map[string]string, error) {
	if len(b.MatchLabels) == 0 {
		return nil, nil
	}
	sel := make(map[string]string, len(b.MatchLabels))
	for _, l := range b.MatchLabels {
		key, value, err := parseLabel(l)
		if err != nil {
			return nil, fmt.Errorf("parsing match_labels of backend %q: %w", b.Name, err)
		}
		if _, dup := sel[key]; dup {
			return nil, fmt.Errorf("parsing match_labels of backend %q: label key %q repeated", b.Name, key)
		}
		sel[key] = value
	}
	return sel, nil
}

// parseLabel splits a "key=value" label on its first "=". The value may be
// empty; the key may not, nor may it have surrounding spaces (Docker keeps
// them, so such a label would never match).
func parseLabel(label string) (key, value string, err error) {
	key, value, ok := strings.Cut(label, "=")
	switch {
	case !ok:
		return "", "", fmt.Errorf("label %q is not key=value", label)
	case key == "":
		return "", "", fmt.Errorf("label %q has an empty key", label)
	case strings.TrimSpace(key) != key:
		return "", "", fmt.Errorf("label %q has spaces around its key", label)
	}
	return key, value, nil
}
