package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// File is the file name as given to Load or Parse; "" when unknown.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Field is the field path, such as "routes[1].backend"; "" for the whole
	// file.
	Field string
	// Msg says what is wrong, naming the offending value.
	Msg string
}

// String formats p as "file:line: field: msg", leaving out the parts that
// are unknown.
func (p Problem) String() string {
	var b strings.Builder
	loc := p.File
	if p.Line > 0 {
		if loc == "" {
			loc = "line"
		}
		loc += ":" + strconv.Itoa(p.Line)
	}
	if loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems lists everything wrong with a configuration file. It is the error
// returned by Load, Parse and Validate; get it back with errors.As.
type Problems []Problem

// Error returns one problem per line, each formatted by Problem.String.
func (ps Problems) Error() string {
	if len(ps) == 0 {
		return "no problems"
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// err returns ps as an error, or nil when it is empty (never a typed nil).
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sortByLine orders ps top to bottom through the file, keeping the order of
// problems found on the same line.
func (ps Problems) sortByLine() {
	slices.SortStableFunc(ps, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
}
