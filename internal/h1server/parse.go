package h1server

import (
	"bytes"
	"math"
	"net/http"
	"net/url"
	"strings"
	"unsafe"

	"github.com/rgate/rgate/internal/h1syntax"
)

// Parser outcomes.
const (
	parseMore    = iota // the head is incomplete: read more bytes
	parseDone           // a complete, acceptable head was parsed
	parseDecline        // the fast path does not serve this: hand the connection off
)

// Header fields the parser treats specially.
const (
	kindOther = iota
	kindHost
	kindContentLength
)

type field struct {
	ks, ke, vs, ve int32 // key and (trimmed) value offsets in the head
	kind           uint8
}

// headParser parses one request head incrementally: feed is called with all
// bytes available so far (always starting at the head's first byte) and
// parses the complete lines it has not seen yet, declining as soon as a line
// is outside the fast path's contract, the way net/http answers a malformed
// line as soon as it has read it.
type headParser struct {
	maxHead int // the largest head accepted (<= the read buffer size)

	pos  int // offset of the first unparsed line
	scan int // offset from which to search for the next '\n'

	nline       int
	methodEnd   int
	targetStart int
	targetEnd   int

	fields    []field
	hostIdx   int
	hostCount int
	clCount   int

	headLen       int   // set by parseDone: bytes in the head, final CRLF included
	contentLength int64 // set by parseDone
}

func (p *headParser) reset(maxHead int) {
	p.maxHead = maxHead
	p.pos, p.scan, p.nline = 0, 0, 0
	p.fields = p.fields[:0]
	p.hostIdx, p.hostCount, p.clCount = -1, 0, 0
	p.headLen, p.contentLength = 0, 0
}

// feed parses the complete lines of buf it has not parsed yet.
func (p *headParser) feed(buf []byte) int {
	for {
		i := bytes.IndexByte(buf[p.scan:], '\n')
		if i < 0 {
			p.scan = len(buf)
			if len(buf) >= p.maxHead {
				return parseDecline // too big for the fast path (or at all)
			}
			return parseMore
		}
		lf := p.scan + i
		if lf+1 > p.maxHead {
			return parseDecline
		}
		if lf == p.pos || buf[lf-1] != '\r' {
			return parseDecline // bare LF
		}
		line := buf[p.pos : lf-1]
		switch {
		case p.nline == 0:
			if !p.requestLine(line) {
				return parseDecline
			}
		case len(line) == 0:
			p.headLen = lf + 1
			if !p.finish(buf) {
				return parseDecline
			}
			return parseDone
		default:
			if !p.headerLine(buf, p.pos, lf-1) {
				return parseDecline
			}
		}
		p.nline++
		p.pos = lf + 1
		p.scan = p.pos
	}
}

func (p *headParser) requestLine(line []byte) bool {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return false
	}
	method := line[:sp1]
	if !h1syntax.IsToken(method) || string(method) == "CONNECT" {
		return false
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return false
	}
	target := rest[:sp2]
	if string(rest[sp2+1:]) != "HTTP/1.1" || target[0] != '/' {
		return false
	}
	// url.ParseRequestURI fails on a "/"-target only for control bytes or a
	// malformed %-escape in the path; check both now, so such a request is
	// handed off (and answered) without waiting for the rest of its head.
	// build re-checks with url.ParseRequestURI itself.
	inPath := true
	for i := 0; i < len(target); i++ {
		c := target[i]
		switch {
		case c < ' ' || c == 0x7f:
			return false
		case c == '?':
			inPath = false
		case c == '%' && inPath:
			if i+2 >= len(target) || !h1syntax.IsHex(target[i+1]) || !h1syntax.IsHex(target[i+2]) {
				return false
			}
		}
	}
	p.methodEnd = sp1
	p.targetStart = sp1 + 1
	p.targetEnd = sp1 + 1 + sp2
	return true
}

func (p *headParser) headerLine(buf []byte, start, end int) bool {
	line := buf[start:end]
	if line[0] == ' ' || line[0] == '\t' {
		return false // obs-fold, or whitespace before the first field
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !h1syntax.IsToken(line[:colon]) {
		return false
	}
	vs, ve := colon+1, len(line)
	for _, c := range line[vs:] {
		if h1syntax.InvalidValueByte[c] {
			return false
		}
	}
	for vs < ve && h1syntax.IsOWS(line[vs]) {
		vs++
	}
	for ve > vs && h1syntax.IsOWS(line[ve-1]) {
		ve--
	}
	key := line[:colon]
	f := field{ks: int32(start), ke: int32(start + colon), vs: int32(start + vs), ve: int32(start + ve)}
	switch len(key) {
	case 4:
		if h1syntax.EqualFoldBytes(key, "Host") {
			f.kind = kindHost
			p.hostCount++
			p.hostIdx = len(p.fields)
		}
	case 6:
		if h1syntax.EqualFoldBytes(key, "Expect") {
			return false
		}
	case 7:
		if h1syntax.EqualFoldBytes(key, "Upgrade") {
			return false
		}
	case 14:
		if h1syntax.EqualFoldBytes(key, "Content-Length") {
			f.kind = kindContentLength
			p.clCount++
		}
	case 17:
		if h1syntax.EqualFoldBytes(key, "Transfer-Encoding") {
			return false
		}
	}
	p.fields = append(p.fields, f)
	return true
}

// finish applies the checks that need the whole head.
func (p *headParser) finish(buf []byte) bool {
	if p.hostCount != 1 {
		return false
	}
	h := p.fields[p.hostIdx]
	if !h1syntax.ValidHost(buf[h.vs:h.ve]) {
		return false
	}
	if p.clCount > 1 {
		return false // net/http dedups identical values; leave that to it
	}
	if p.clCount == 1 {
		for _, f := range p.fields {
			if f.kind != kindContentLength {
				continue
			}
			v := buf[f.vs:f.ve]
			if len(v) == 0 {
				return false
			}
			var n uint64
			for _, c := range v {
				if c < '0' || c > '9' {
					return false
				}
				n = n*10 + uint64(c-'0')
				if n > math.MaxInt64 {
					return false
				}
			}
			p.contentLength = int64(n)
		}
	}
	return true
}

// build fills r from the parsed head in buf[:p.headLen], exactly as
// net/http's readRequest would for the same bytes: Method, URL, Proto*,
// Header (canonical keys, Host removed, Pragma: no-cache implying
// Cache-Control), Host, RequestURI, Close and ContentLength. Body,
// RemoteAddr and the context are the caller's. It reports false if the
// request target does not parse.
//
// All strings share one allocation: a copy of the head.
func (p *headParser) build(buf []byte, r *http.Request) bool {
	b := make([]byte, p.headLen)
	copy(b, buf)
	for _, f := range p.fields {
		h1syntax.CanonicalizeKey(b[f.ks:f.ke])
	}
	s := unsafe.String(&b[0], len(b))

	var method string
	switch m := s[:p.methodEnd]; m {
	case "GET":
		method = "GET"
	case "HEAD":
		method = "HEAD"
	case "POST":
		method = "POST"
	default:
		method = m
	}
	target := s[p.targetStart:p.targetEnd]
	nf := len(p.fields)
	var u *url.URL
	var vals []string
	if nf <= smallFields && simpleTarget(target) {
		// One allocation for the URL and the header values.
		m := new(smallMem)
		u, vals = &m.u, m.vals[:nf]
		setSimpleURL(u, target)
	} else {
		var err error
		if u, err = url.ParseRequestURI(target); err != nil {
			return false
		}
		vals = make([]string, nf)
	}

	hdr := make(http.Header, nf-1)
	var host string
	pragma := false
	for i, f := range p.fields {
		val := s[f.vs:f.ve]
		switch f.kind {
		case kindHost:
			host = val
			continue
		case kindOther:
			if f.ke-f.ks == 6 && s[f.ks:f.ke] == "Pragma" {
				pragma = true
			}
		}
		key := s[f.ks:f.ke]
		if vv, ok := hdr[key]; ok {
			hdr[key] = append(vv, val)
		} else {
			vals[i] = val
			hdr[key] = vals[i : i+1 : i+1]
		}
	}
	if pragma {
		// net/http's fixPragmaCacheControl.
		if hp := hdr["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
			if _, ok := hdr["Cache-Control"]; !ok {
				hdr["Cache-Control"] = []string{"no-cache"}
			}
		}
	}

	r.Method = method
	r.URL = u
	r.Proto = "HTTP/1.1"
	r.ProtoMajor = 1
	r.ProtoMinor = 1
	r.Header = hdr
	r.Host = host
	r.RequestURI = target
	r.ContentLength = p.contentLength
	r.Close = h1syntax.HeaderValuesContainsToken(hdr["Connection"], "close")
	return true
}

// parseHead parses a complete head at the start of buf with the fast path's
// rules. It returns the request (without Body, RemoteAddr or context) and
// the head's length, or ok == false if the fast path would decline the head
// or it is incomplete. It exists for tests and the fuzz target.
func parseHead(buf []byte, maxHead int) (r *http.Request, n int, ok bool) {
	var p headParser
	p.reset(maxHead)
	if p.feed(buf) != parseDone {
		return nil, 0, false
	}
	r = new(http.Request)
	if !p.build(buf, r) {
		return nil, 0, false
	}
	return r, p.headLen, true
}

// smallFields is how many header fields (Host included) smallMem holds.
const smallFields = 10

// smallMem is the URL and header values of a typical request, allocated
// together.
type smallMem struct {
	u    url.URL
	vals [smallFields]string
}

// pathSafe marks the bytes net/url neither unescapes nor escapes in a path
// (its encodePath set): a path of only these bytes parses to itself.
var pathSafe = func() (t [256]bool) {
	for _, c := range []byte("$&+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~") {
		t[c] = true
	}
	return t
}()

// simpleTarget reports whether target ("/"-prefixed, free of control
// bytes) has a path of only pathSafe bytes, so that setSimpleURL gives the
// same URL as url.ParseRequestURI.
func simpleTarget(target string) bool {
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c == '?' {
			return true
		}
		if !pathSafe[c] {
			return false
		}
	}
	return true
}

// setSimpleURL is url.ParseRequestURI for a simpleTarget.
func setSimpleURL(u *url.URL, target string) {
	path, query, hasQuery := strings.Cut(target, "?")
	if hasQuery && query == "" {
		// "/p?": url.Parse sets ForceQuery when the only '?' is last.
		u.ForceQuery = true
	}
	u.Path = path
	u.RawQuery = query
}
