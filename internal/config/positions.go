package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lineIndex maps a field path ("routes[1].backend") to the line of its key,
// or of the list item for paths ending in an index.
type lineIndex map[string]int

// lineOf returns the line of path, or of its nearest ancestor present in the
// file (a missing required field is reported where its parent is), or 0.
func (li lineIndex) lineOf(path string) int {
	for {
		if line, ok := li[path]; ok {
			return line
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// parentPath strips the last key or index from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// joinKey appends a mapping key to path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nodeEntry is one key or value node of the YAML source.
type nodeEntry struct {
	path  string
	line  int
	key   bool   // a mapping key; otherwise a value or list item
	tag   string // short tag of a value node ("!!str", "!!map", ...)
	value string // scalar value of a value node
}

// sourceIndex records where every field path appears in a YAML document, to
// put lines on validation problems and field paths on decoder messages.
type sourceIndex struct {
	lines   lineIndex
	entries []nodeEntry
}

// newSourceIndex indexes doc. Aliases and merge keys ("<<") are not
// followed: fields that come from them are reported at the line of the
// nearest enclosing field written out in place.
func newSourceIndex(doc *yaml.Node) *sourceIndex {
	ix := &sourceIndex{lines: lineIndex{}}
	ix.walk(doc, "")
	return ix
}

func (ix *sourceIndex) walk(n *yaml.Node, path string) {
	if n.Kind != yaml.DocumentNode {
		ix.entries = append(ix.entries, nodeEntry{path: path, line: n.Line, tag: n.ShortTag(), value: n.Value})
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			ix.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinKey(path, k.Value)
			ix.entries = append(ix.entries, nodeEntry{path: p, line: k.Line, key: true})
			ix.setLine(p, k.Line)
			ix.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			ix.setLine(p, c.Line)
			ix.walk(c, p)
		}
	}
}

// setLine keeps the first line seen for path (a repeated key is reported by
// the decoder; validation points at the first occurrence).
func (ix *sourceIndex) setLine(path string, line int) {
	if _, ok := ix.lines[path]; !ok {
		ix.lines[path] = line
	}
}

// keyPath returns the path of the mapping key name written on line, or "".
func (ix *sourceIndex) keyPath(line int, name string) string {
	for _, e := range ix.entries {
		if e.key && e.line == line && (e.path == name || strings.HasSuffix(e.path, "."+name)) {
			return e.path
		}
	}
	return ""
}

// valueAt finds the value node on line that a decoder message is about.
// Among the values on that line it prefers those with the given tag (when
// tag is not ""), then those whose value msg quotes, then the deepest.
func (ix *sourceIndex) valueAt(line int, tag, msg string) (nodeEntry, bool) {
	var best nodeEntry
	bestScore, found := -1, false
	for _, e := range ix.entries {
		if e.key || e.line != line {
			continue
		}
		score := len(e.path)
		if tag != "" && e.tag == tag {
			score += 1 << 20
		}
		if mentions(msg, e.value) {
			score += 1 << 19
		}
		if score > bestScore {
			best, bestScore, found = e, score, true
		}
	}
	return best, found
}

// mentions reports whether msg quotes value the way this package ("value")
// or the YAML decoder (`value`, cut to 7 bytes when long) does.
func mentions(msg, value string) bool {
	if value == "" {
		return false
	}
	if strings.Contains(msg, strconv.Quote(value)) || strings.Contains(msg, "`"+value+"`") {
		return true
	}
	return len(value) > 10 && strings.Contains(msg, "`"+value[:7]+"...`")
}
