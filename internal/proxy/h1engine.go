package proxy

import (
	"bufio"
	"errors"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/rgate/rgate/internal/h1client"
	"github.com/rgate/rgate/internal/h1syntax"
	"github.com/rgate/rgate/internal/httperr"
)

// h1Engine carries attempts on rgate's own HTTP/1.1 client. It does what
// httputil.ReverseProxy does with the answer, step for step (the comments
// name the step), without cloning the request or its header map: the
// outbound head is written straight from the inbound request by the plan,
// and the answer's head is parsed once and copied into the client's
// header map.
type h1Engine struct {
	c *h1client.Client
}

func (e *h1Engine) send(x *exchange) error {
	r, w := x.r, x.w
	x.h1req = h1client.Request{Addr: x.up.Host, Caller: x, Body: x.body, HeadMethod: r.Method == http.MethodHead,
		Deadline: x.deadline}
	res, err := e.c.Do(r.Context(), &x.h1req)
	if err != nil {
		return err
	}
	if !x.accept(res.StatusCode) {
		res.Discard()
		return retryStatusError{status: res.StatusCode}
	}
	x.plan.response(res.Header, res.StatusCode)
	x.plan.trailers(res.Trailer)
	h := w.Header()
	copyHeader(h, res.Header)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	x.wrote = true

	var flush func() error
	if res.ContentLength == -1 || isEventStream(res.Header) {
		// A streamed answer: send the head now and every write as it
		// comes (ReverseProxy's flush interval -1, whose first flush runs
		// at once, so the head goes out before any body: no sniffed
		// Content-Type).
		flush = http.NewResponseController(w).Flush
		if err := flush(); err != nil {
			res.Discard()
			httperr.Abort(r) // as ReverseProxy: the client must not take a cut answer for whole
			return nil
		}
	}
	if _, rerr, werr := res.CopyBody(w, flush); rerr != nil || werr != nil {
		if rerr != nil {
			x.log.Debug("upstream body cut short", "upstream", x.up.Host, "error", rerr)
		}
		res.Discard()
		httperr.Abort(r) // as ReverseProxy: the client must not take a cut answer for whole
		return nil
	}
	x.plan.trailers(res.Trailer)
	if len(res.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush() // force chunking, as ReverseProxy
		if len(res.Trailer) == announced {
			copyHeader(h, res.Trailer)
		} else {
			for k, vv := range res.Trailer {
				for _, v := range vv {
					h.Add(http.TrailerPrefix+k, v)
				}
			}
		}
	}
	res.Finish()
	return nil
}

// WriteHead implements h1client.Caller: the outbound head as the plan
// describes it, with the framing net/http's request writer would use.
func (x *exchange) WriteHead(bw *bufio.Writer) error {
	r := x.r
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	u := x.plan.target(r.URL)
	if err := writeRequestURI(bw, &u); err != nil {
		return err
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	x.h1sink.bw = bw
	if err := x.plan.fields(r, x.trusted, x.info, &x.h1sink); err != nil {
		return err
	}
	switch n := len(x.body); {
	case n > 0:
		bw.WriteString("Content-Length: ")
		var buf [20]byte
		bw.Write(appendInt(buf[:0], n))
		bw.WriteString("\r\n")
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// Informational implements h1client.Caller: ReverseProxy's Got1xxResponse
// (relay, then clear the map).
func (x *exchange) Informational(res *h1client.Response) {
	h := x.w.Header()
	copyHeader(h, res.Header)
	x.w.WriteHeader(res.StatusCode)
	clear(h)
}

var errBadHeaderValue = errors.New("net/http: invalid header field value")

// wireSink writes the plan's fields as "k: v\r\n". Like net/http's
// Transport it refuses a value with control bytes other than tab.
type wireSink struct{ bw *bufio.Writer }

func (s *wireSink) field(k, v string) error {
	if !h1syntax.ValidFieldValue(v) {
		return errors.Join(errBadHeaderValue, errors.New(k))
	}
	s.bw.WriteString(k)
	s.bw.WriteString(": ")
	s.bw.WriteString(textproto.TrimString(v))
	_, err := s.bw.WriteString("\r\n")
	return err
}

// writeRequestURI writes u's request target, without building the string.
func writeRequestURI(bw *bufio.Writer, u *url.URL) error {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if h1syntax.HasCTL(p) || h1syntax.HasCTL(u.RawQuery) {
		return errors.New("net/http: can't write control character in Request.URL")
	}
	bw.WriteString(p)
	if u.RawQuery != "" || u.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	return nil
}

// copyHeader adds src's values to dst, as ReverseProxy's copyHeader; a key
// dst lacks takes src's slice itself.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 || len(ct[0]) < 17 || !strings.EqualFold(ct[0][:17], "text/event-stream") {
		return false
	}
	base, _, _ := mime.ParseMediaType(ct[0])
	return base == "text/event-stream"
}

func appendInt(b []byte, n int) []byte {
	if n == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}
