package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path, decodes it strictly (an unknown
// key is an error), applies defaults and validates the result.
//
// Every problem in the file is reported, not just the first: the error is
// then a Problems (get it with errors.As), one line per problem, each naming
// the file, the line where known and the field path. An unreadable file
// gives a wrapped *fs.PathError instead.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse is Load for a file already read into data; name is the file name
// used in problems and stored in Config.Path. Any error is a Problems.
func Parse(data []byte, name string) (*Config, error) {
	doc, probs := parseDocument(data, name)
	if len(probs) > 0 {
		return nil, probs
	}
	ix := newSourceIndex(doc)
	cfg := &Config{Path: name, lines: ix.lines}
	decoded := decodeStrict(data, cfg, ix)
	cfg.ApplyDefaults()
	for _, d := range decoded {
		probs = append(probs, d.Problem)
	}
	for _, p := range cfg.problems() {
		if !covered(p.Field, decoded) {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		probs.sortByLine()
		return nil, probs
	}
	return cfg, nil
}

// parseDocument reads data as exactly one YAML document that is not empty.
func parseDocument(data []byte, name string) (*yaml.Node, Problems) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || (err == nil && isNull(&doc)) {
		return nil, Problems{{File: name, Msg: "file is empty"}}
	}
	if err != nil {
		p := syntaxProblem(name, err)
		p.Msg += wildcardHint(data, p.Line)
		return nil, Problems{p}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return &doc, nil
	case err != nil:
		return nil, Problems{syntaxProblem(name, err)}
	default:
		return nil, Problems{{File: name, Line: extra.Line,
			Msg: "found a second YAML document (\"---\"); a config file holds exactly one"}}
	}
}

// isNull reports whether doc holds nothing but a null ("---" or "null").
func isNull(doc *yaml.Node) bool {
	return len(doc.Content) == 1 && doc.Content[0].ShortTag() == "!!null"
}

// syntaxProblem turns a YAML parse error into a problem.
func syntaxProblem(name string, err error) Problem {
	line, msg := splitLine(err.Error())
	return Problem{File: name, Line: line, Msg: "invalid YAML: " + msg}
}

// unquotedWildcard finds a wildcard host written without quotes, which
// YAML reads as an alias ("*name") and refuses.
var unquotedWildcard = regexp.MustCompile(`(^|[\s{,])host:\s*\*`)

// wildcardHint is what to add to a YAML error on line of data when that
// line holds an unquoted wildcard host, else "".
func wildcardHint(data []byte, line int) string {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) || !unquotedWildcard.Match(lines[line-1]) {
		return ""
	}
	return `; a wildcard host must be quoted, like host: "*.example.com" (YAML reads * as an alias)`
}

// decodeStrict decodes data into cfg, refusing unknown keys. The decoder
// keeps going past type errors, so every one of them is returned.
func decodeStrict(data []byte, cfg *Config, ix *sourceIndex) []decodeProblem {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []decodeProblem{{Problem: syntaxProblem(cfg.Path, err)}}
	}
	out := make([]decodeProblem, len(te.Errors))
	for i, msg := range te.Errors {
		out[i] = ix.translate(cfg.Path, msg)
	}
	return out
}

// covered reports whether a validation problem at field would only repeat
// one of the decode problems.
func covered(field string, decoded []decodeProblem) bool {
	for _, d := range decoded {
		s := d.scope
		if s == "" {
			continue
		}
		if field == s || strings.HasPrefix(field, s+".") || strings.HasPrefix(field, s+"[") {
			return true
		}
	}
	return false
}
