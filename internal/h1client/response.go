package h1client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"os"
	"strings"

	"github.com/rgate/rgate/internal/h1syntax"
)

// Response is the head of an upstream's answer. It belongs to its Conn and
// is valid until the next ReadResponse on that connection; the strings in
// Header may be kept.
type Response struct {
	StatusCode int
	Proto      string // "HTTP/1.1" or "HTTP/1.0"
	// Header is without Transfer-Encoding and Trailer, and without
	// Content-Length when the body is chunked (as net/http reads it).
	Header http.Header
	// ContentLength is the body's declared length, or -1 when the body
	// is chunked or runs until the connection closes.
	ContentLength int64
	// Chunked: the body uses the chunked transfer coding.
	Chunked bool
	// Close: the upstream will close the connection after this answer.
	Close bool
	// Trailer holds the trailer names the upstream announced (nil values)
	// and, once the body has been read to the end, the trailers it sent.
	Trailer http.Header
	// bodyless: no body follows (HEAD, 1xx, 204, 304).
	bodyless bool
	// cn is the connection of a response returned by Do, until Finish.
	cn *Conn
}

// maxHeadBytes bounds an answer's head (status line and headers).
const maxHeadBytes = 1 << 20

// max1xx bounds the informational answers before a final one, as
// net/http does.
const max1xx = 5

var (
	errHeadTooLarge = errors.New("h1client: response head too large")
	errMalformed    = errors.New("h1client: malformed response")
)

// ErrNothingRead wraps a failure that happened before any byte of an
// answer arrived: on a reused connection, the request may not have reached
// the upstream at all (it may have closed the connection while idle).
var ErrNothingRead = errors.New("h1client: connection failed before any response byte")

func malformed(what string, v string) error {
	if len(v) > 64 {
		v = v[:64] + "..."
	}
	return fmt.Errorf("%w: %s %q", errMalformed, what, v)
}

// ReadResponse reads the head of the next answer on the connection; isHead
// says whether the request was HEAD (its answer has no body). 1xx answers
// are returned like any other (their StatusCode says so) and have no body;
// read again for the final answer.
func (cn *Conn) ReadResponse(isHead bool) (*Response, error) {
	if cn.chunked != nil || cn.remain != 0 {
		return nil, errors.New("h1client: previous body not read")
	}
	head, err := readHead(cn)
	if err != nil {
		cn.broken = true
		return nil, err
	}
	res := &cn.res
	if err := parseHead(res, head, isHead); err != nil {
		cn.broken = true
		return nil, err
	}
	switch {
	case res.bodyless:
	case res.Chunked:
		cn.chunked = httputil.NewChunkedReader(cn.br)
	case res.ContentLength >= 0:
		cn.remain = res.ContentLength
	default:
		cn.remain = -1 // until the upstream closes
		res.Close = true
	}
	return res, nil
}

// readHead returns the bytes of the next head, up to and including the
// empty line, as one string (header values are substrings of it).
func readHead(cn *Conn) (string, error) {
	br := cn.br
	scanned := 0
	for {
		b, _ := br.Peek(br.Buffered())
		if i := headEnd(b, scanned); i >= 0 {
			s := string(b[:i])
			_, _ = br.Discard(i)
			return s, nil
		}
		scanned = max(0, len(b)-3)
		if len(b) == br.Size() {
			return readLongHead(br)
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if cn.wait.req != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				// A read deadline that is a checkpoint, not the end:
				// the wait decides whether to go on.
				d, werr := cn.wait.checkpoint()
				if werr != nil {
					return "", werr
				}
				_ = cn.nc.SetReadDeadline(d)
				continue
			}
			if len(b) == 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
				return "", fmt.Errorf("%w: %w", ErrNothingRead, err)
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// headEnd returns the length of the head in b (through the blank line
// that ends it), or -1. A line may end in CRLF or, as net/http accepts,
// a bare LF.
func headEnd(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		k := i + j + 1 // just after this LF
		switch {
		case k < len(b) && b[k] == '\n':
			return k + 1
		case k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n':
			return k + 2
		}
		i = k
	}
}

// readLongHead reads a head that does not fit in the read buffer.
func readLongHead(br interface {
	ReadSlice(byte) ([]byte, error)
}) (string, error) {
	var acc []byte
	lineStart := true // the previous slice ended a line
	for {
		line, err := br.ReadSlice('\n')
		acc = append(acc, line...)
		if len(acc) > maxHeadBytes {
			return "", errHeadTooLarge
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			lineStart = false
			continue
		case err == io.EOF:
			return "", io.ErrUnexpectedEOF
		case err != nil:
			return "", err
		}
		if lineStart && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) && len(acc) > len(line) {
			return string(acc), nil
		}
		lineStart = true
	}
}

// parseHead fills res from a complete head.
func parseHead(res *Response, s string, isHead bool) error {
	if res.Header == nil {
		res.Header = make(http.Header, 16)
	} else {
		clear(res.Header)
	}
	res.Trailer = nil
	res.Close, res.Chunked, res.bodyless = false, false, false

	line, rest := cutLine(s)
	proto, status, ok := strings.Cut(line, " ")
	switch {
	case !ok:
		return malformed("status line", line)
	case proto == "HTTP/1.1", proto == "HTTP/1.0":
		res.Proto = proto
	default:
		return malformed("protocol", proto)
	}
	if len(status) < 3 || (len(status) > 3 && status[3] != ' ') ||
		status[0] < '1' || status[0] > '9' || !h1syntax.IsDigit(status[1]) || !h1syntax.IsDigit(status[2]) {
		return malformed("status code", status)
	}
	res.StatusCode = int(status[0]-'0')*100 + int(status[1]-'0')*10 + int(status[2]-'0')

	if err := parseFields(res.Header, rest, strings.Count(rest, "\n")); err != nil {
		return err
	}
	return res.frame(isHead)
}

// parseFields adds the header lines of s (up to the blank line) to h.
// Values are substrings of s; n bounds the number of lines.
func parseFields(h http.Header, s string, n int) error {
	vals := make([]string, 0, n)
	for {
		var line string
		line, s = cutLine(s)
		if line == "" {
			return nil
		}
		k, v, err := field(line)
		if err != nil {
			return err
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, v)
			continue
		}
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
}

// field splits one header line. It is stricter than net/http: no folded
// lines, no space before the colon, no control bytes in values.
func field(line string) (key, value string, err error) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", "", malformed("header line", line)
	}
	key = line[:i]
	canonical := true
	upper := true
	for j := 0; j < len(key); j++ {
		c := key[j]
		if !h1syntax.IsTokenTable[c] {
			return "", "", malformed("header name", key)
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if !canonical {
		key = textproto.CanonicalMIMEHeaderKey(key)
	}
	v := line[i+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for j := 0; j < len(v); j++ {
		if c := v[j]; c < ' ' && c != '\t' || c == 0x7f {
			return "", "", malformed("header value of "+key, v)
		}
	}
	return key, v, nil
}

// cutLine returns the first line of s without its CRLF (or LF).
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// frame works out how the body is delimited and edits the header as
// net/http's ReadResponse does (readTransfer, fixLength, fixTrailer,
// fixPragmaCacheControl), so that the answer relayed is the one the
// ReverseProxy path would relay. It refuses a few things net/http
// tolerates (a transfer coding on HTTP/1.0).
func (res *Response) frame(isHead bool) error {
	h := res.Header
	if p, ok := h["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	res.Close = h1syntax.HeaderValuesContainsToken(h["Connection"], "close")
	if res.Proto == "HTTP/1.0" {
		res.Close = true // keep-alive with HTTP/1.0 upstreams is not worth its edge cases
	}
	if te, ok := h["Transfer-Encoding"]; ok {
		if res.Proto != "HTTP/1.1" || len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return fmt.Errorf("%w: unsupported transfer encoding %q", errMalformed, te)
		}
		delete(h, "Transfer-Encoding")
		res.Chunked = true
	}

	// fixLength
	cl, hasCL := h["Content-Length"]
	var n int64 = -1
	if hasCL {
		first := strings.Trim(cl[0], " \t")
		for _, v := range cl[1:] {
			if strings.Trim(v, " \t") != first {
				return fmt.Errorf("%w: differing Content-Length values %q", errMalformed, cl)
			}
		}
		var err error
		if n, err = parseLength(first); err != nil {
			return err
		}
		if len(cl) > 1 || first != cl[0] {
			h["Content-Length"] = []string{first}
		}
	}
	code := res.StatusCode
	bodyAllowed := code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
	var real int64
	switch {
	case isHead, !bodyAllowed:
		real = 0
	case res.Chunked:
		delete(h, "Content-Length")
		real = -1
	case hasCL:
		real = n
	default:
		real = -1
	}
	if isHead {
		res.ContentLength = n // the declared length, or -1
	} else {
		res.ContentLength = real
	}

	// fixTrailer
	if tr, ok := h["Trailer"]; ok && res.Chunked {
		delete(h, "Trailer")
		res.Trailer = make(http.Header, 2)
		for _, v := range tr {
			for k := range strings.SplitSeq(v, ",") {
				k = textproto.CanonicalMIMEHeaderKey(strings.Trim(k, " \t"))
				switch k {
				case "Transfer-Encoding", "Trailer", "Content-Length":
					return fmt.Errorf("%w: bad trailer key %q", errMalformed, k)
				case "":
					continue
				}
				res.Trailer[k] = nil
			}
		}
	}

	if real == -1 && !res.Chunked && bodyAllowed {
		res.Close = true // the body runs until the connection closes
	}
	res.bodyless = isHead || !bodyAllowed || (real == 0 && !res.Chunked)
	return nil
}

func parseLength(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, malformed("Content-Length", s)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !h1syntax.IsDigit(s[i]) {
			return 0, malformed("Content-Length", s)
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, nil
}
