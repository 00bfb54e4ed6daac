package config

import (
	"reflect"
	"strconv"
	"strings"
)

// decodeProblem is a decoder message turned into a Problem, with the field
// path that the problem makes unreliable (validation problems at or under
// scope are left out, since they would only repeat it).
type decodeProblem struct {
	Problem
	scope string
}

// splitLine splits the "line N: " prefix off a YAML message, also dropping
// a leading "yaml: ".
func splitLine(msg string) (int, string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, rest, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg
	}
	return line, rest
}

// translate turns one message of a *yaml.TypeError into a problem that
// names the field path.
func (ix *sourceIndex) translate(file, raw string) decodeProblem {
	line, msg := splitLine(raw)
	p := decodeProblem{Problem: Problem{File: file, Line: line, Msg: msg}}
	if name, typ, ok := cutField(msg, " not found in type "); ok {
		p.Field = ix.fieldOrName(line, name)
		p.Msg = "unknown key " + strconv.Quote(name) + suggest(name, yamlKeys(typ))
		p.scope = parentPath(p.Field)
		return p
	}
	if name, _, ok := cutField(msg, " already set in type "); ok {
		p.Field = ix.fieldOrName(line, name)
		p.Msg = "set more than once"
		p.scope = p.Field
		return p
	}
	if rest, ok := strings.CutPrefix(msg, "mapping key "); ok {
		quoted, first, _ := strings.Cut(rest, " already defined at ")
		name, err := strconv.Unquote(quoted)
		if err != nil {
			name = quoted
		}
		p.Field = ix.fieldOrName(line, name)
		p.Msg = "duplicate key (first at " + first + ")"
		p.scope = p.Field
		return p
	}
	if rest, ok := strings.CutPrefix(msg, "cannot unmarshal "); ok {
		tag, _, _ := strings.Cut(rest, " ")
		e, found := ix.valueAt(line, tag, msg)
		i := strings.LastIndex(rest, " into ")
		if found && i >= 0 {
			p.Field = e.path
			p.Msg = "expected " + goTypeName(rest[i+len(" into "):]) + ", got " + valueName(e)
		}
		p.scope = p.Field
		return p
	}
	if e, found := ix.valueAt(line, "", msg); found {
		p.Field = e.path
	}
	p.scope = p.Field
	return p
}

// cutField parses "field NAME<sep>TYPE".
func cutField(msg, sep string) (name, typ string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "field ")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, sep)
}

// fieldOrName returns the path of key name on line, or name itself when the
// key is not written out in place (it came through an alias).
func (ix *sourceIndex) fieldOrName(line int, name string) string {
	if p := ix.keyPath(line, name); p != "" {
		return p
	}
	return name
}

// goTypeName describes a Go type from a decoder message in YAML terms.
func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	}
	return t
}

// valueName describes the YAML value of e for messages.
func valueName(e nodeEntry) string {
	switch e.tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!null":
		return "null"
	case "!!str":
		return "string " + strconv.Quote(e.value)
	case "!!int":
		return "integer " + e.value
	case "!!float":
		return "number " + e.value
	case "!!bool":
		return "boolean " + e.value
	}
	return strconv.Quote(e.value)
}

// yamlKeys returns the YAML keys of the struct type named typ ("config.Route")
// reachable from Config, for "did you mean" hints.
func yamlKeys(typ string) []string {
	return structKeys(reflect.TypeFor[Config](), typ, map[reflect.Type]bool{})
}

func structKeys(t reflect.Type, want string, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	var keys, found []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
		if k := structKeys(f.Type, want, seen); k != nil {
			found = k
		}
	}
	if t.String() == want {
		return keys
	}
	return found
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to name
// within an edit distance of 2, or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := EditDistance(name, c); d < bestDist && d > 0 {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}
