package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// String returns d in Go duration syntax ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a Go duration string such as "30s", "1m" or "1h30m".
// Negative durations are rejected.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "expected a duration such as \"30s\", got %s", kindName(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return nodeError(n, "invalid duration %q: want a number with a unit, such as \"30s\", \"1m\" or \"1h30m\"", n.Value)
	}
	if v < 0 {
		return nodeError(n, "duration %q must not be negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Size is a number of bytes. In YAML it is a plain integer (1048576) or a
// string with a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers
// of 1024), such as "10MB" or "512 KiB". The unit is case-insensitive.
type Size int64

// Size units.
const (
	Byte     Size = 1
	Kilobyte Size = 1000
	Megabyte Size = 1000 * Kilobyte
	Gigabyte Size = 1000 * Megabyte
	Kibibyte Size = 1 << 10
	Mebibyte Size = 1 << 20
	Gibibyte Size = 1 << 30
)

// sizeUnits lists the units Size accepts, largest first so that String picks
// the largest unit that divides a size exactly.
func sizeUnits() []struct {
	name string
	size Size
} {
	return []struct {
		name string
		size Size
	}{
		{"GiB", Gibibyte}, {"GB", Gigabyte}, {"MiB", Mebibyte}, {"MB", Megabyte},
		{"KiB", Kibibyte}, {"KB", Kilobyte}, {"B", Byte},
	}
}

// ParseSize parses a whole, non-negative number of bytes with an optional
// unit, as described on Size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("size %q must not be negative", s)
	}
	digits := len(t) - len(strings.TrimLeft(t, "0123456789"))
	if digits == 0 {
		return 0, fmt.Errorf("invalid size %q: want a whole number of bytes, optionally with a unit (B, KB, KiB, MB, MiB, GB, GiB)", s)
	}
	n, err := strconv.ParseInt(t[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	unit := strings.TrimSpace(t[digits:])
	mult := Byte
	if unit != "" {
		mult = 0
		for _, u := range sizeUnits() {
			if strings.EqualFold(unit, u.name) {
				mult = u.size
			}
		}
	}
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, KiB, MB, MiB, GB or GiB)", s, unit)
	}
	if n > math.MaxInt64/int64(mult) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(n) * mult, nil
}

// String returns s with the largest unit that divides it exactly ("10MB",
// "512KiB", "1001B").
func (s Size) String() string {
	for _, u := range sizeUnits() {
		if s != 0 && s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML reads a plain integer or a string with a unit; see Size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "expected a size such as \"10MB\", got %s", kindName(n))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return nodeError(n, "%s", err.Error())
	}
	*s = v
	return nil
}

// MarshalYAML writes s as a number of bytes.
func (s Size) MarshalYAML() (any, error) { return int64(s), nil }

// nodeError reports a problem with n as a *yaml.TypeError, which the decoder
// collects while it goes on decoding the rest of the file. The "line N: "
// prefix matches the decoder's own messages.
func nodeError(n *yaml.Node, format string, args ...any) error {
	msg := fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)
	return &yaml.TypeError{Errors: []string{msg}}
}

// kindName names the kind of a YAML node for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return strconv.Quote(n.Value)
	}
}
