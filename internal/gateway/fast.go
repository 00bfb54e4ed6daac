package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/h1client"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/mw/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
)

// The fast path carries a request to the upstream on rgate's own HTTP/1.1
// client (internal/h1client) instead of httputil.ReverseProxy over
// net/http.Transport. It does what ReverseProxy does, step for step (the
// comments name the step), without cloning the request or its header map:
// the outbound head is written straight from the inbound request, and the
// answer's head is parsed once and copied into the client's header map.
//
// It takes plain-HTTP upstreams and requests without upgrades, Expect,
// trailers or a body over maxBufferedBody; everything else goes the
// ReverseProxy way (forward.go), which the e2e suite covers as well.

// maxBufferedBody is the largest request body the fast path reads in full
// before sending it: head and body then leave in one write, and a request
// that met an upstream closing its idle connection can be sent again.
// Larger bodies stream through ReverseProxy.
const maxBufferedBody = 64 << 10

var (
	bodyPool = sync.Pool{New: func() any { b := make([]byte, maxBufferedBody); return &b }}
	// copyPool's buffers receive the part of an answer's body that did
	// not come with its head, read past the connection's 16 KiB buffer:
	// the rest of a 64 KiB answer then takes one read.
	copyPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
)

// fastOK reports whether r can take the fast path.
func (f *forwarder) fastOK(r *http.Request) bool {
	return f.g.h1 != nil && f.rt.Backend.PlainHTTP &&
		r.ContentLength >= 0 && r.ContentLength <= maxBufferedBody && len(r.TransferEncoding) == 0 &&
		r.Trailer == nil && r.ProtoMajor == 1 &&
		r.Header["Upgrade"] == nil && r.Header["Expect"] == nil
}

// abort reasons, set before the attempt's connection deadline is moved
// into the past to stop it.
const (
	abortNone   int32 = iota
	abortGone         // the upstream left the pool before answering
	abortClient       // the client went away
)

// fastTry is one request's state across its attempts.
type fastTry struct {
	f        *forwarder
	r        *http.Request
	w        http.ResponseWriter
	body     []byte
	deadline time.Time
	trusted  bool
	tries
	// per attempt
	mu    sync.Mutex     // orders abort against the connection's release
	cn    *h1client.Conn // nil once released: abort must not touch it
	why   atomic.Int32
	poll  time.Duration // the current checkpoint interval
	wrote bool
	err   error
}

// abort stops the attempt in flight. It may run on another goroutine
// (context.AfterFunc) even after the attempt ended, so it acts only while
// the connection is still the attempt's: a pooled connection must never
// get a deadline in the past.
func (t *fastTry) abort(why int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cn != nil && t.why.CompareAndSwap(abortNone, why) {
		_ = t.cn.NetConn().SetDeadline(aLongTimeAgo)
	}
}

// detach ends the attempt's hold on its connection (before the
// connection is released or discarded).
func (t *fastTry) detach() {
	t.mu.Lock()
	t.cn = nil
	t.mu.Unlock()
}

// Checkpoints of the wait for an answer's head (see exchange).
const (
	pollFirst = 25 * time.Millisecond
	pollMax   = 200 * time.Millisecond
)

// Wait implements h1client.Waiter: at each checkpoint of the wait for the
// head, give up if the route timeout passed, the client left, or the
// upstream left the pool; else wait until the next checkpoint.
func (t *fastTry) Wait() (time.Time, error) {
	now := time.Now()
	switch {
	case !now.Before(t.deadline):
		return time.Time{}, os.ErrDeadlineExceeded
	case t.r.Context().Err() != nil:
		t.why.CompareAndSwap(abortNone, abortClient)
		return time.Time{}, context.Canceled
	case t.up.Retired().Err() != nil:
		t.why.CompareAndSwap(abortNone, abortGone)
		return time.Time{}, errUpstreamGone
	}
	t.poll = min(2*t.poll, pollMax)
	return earliest(t.deadline, now.Add(t.poll)), nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (t *fastTry) clientGone() { t.abort(abortClient) }

var aLongTimeAgo = time.Unix(1, 0)

func (f *forwarder) serveFast(w http.ResponseWriter, r *http.Request, id string) {
	rt, b := f.rt, f.rt.Backend
	t := &fastTry{f: f, r: r, w: w, tries: tries{maxAttempts: 1}, deadline: time.Now().Add(rt.Timeout)}
	if canRetry(r) {
		t.maxAttempts += rt.Retries
	}
	if r.ContentLength > 0 {
		bp := bodyPool.Get().(*[]byte)
		defer bodyPool.Put(bp)
		t.body = (*bp)[:r.ContentLength]
		if _, err := io.ReadFull(r.Body, t.body); err != nil {
			httperr.Write(w, err, id)
			return
		}
	}
	info := reqinfo.From(w)
	if info != nil {
		t.trusted = info.ViaTrustedProxy
	}
	for ; t.attempt < t.maxAttempts; t.attempt++ {
		if !t.next(b, info) {
			break
		}
		t.err = nil
		t.send()
		if t.err == nil || t.wrote || !t.failed() {
			break
		}
	}
	if t.wrote || (t.err == nil && t.up != nil) {
		return
	}
	httperr.Write(w, t.finalError(), id)
}

// failed records a failed attempt and reports whether another may follow
// (forwarder.failed's rules).
func (t *fastTry) failed() bool {
	if t.why.Load() == abortClient || !time.Now().Before(t.deadline) {
		return false
	}
	if t.why.Load() == abortGone {
		t.f.g.log.Debug("upstream left the pool during a request", "backend", t.f.rt.Backend.Name, "upstream", t.up.Host)
		return t.maxAttempts > 1
	}
	b := t.f.rt.Backend
	if httperr.IsConnectError(t.err) {
		if t.up.ReportConnectFailure(b.Passive) {
			t.f.g.log.Warn("upstream ejected after connect failures", "backend", b.Name,
				"container", t.up.Container, "upstream", t.up.Host, "for", b.Passive.EjectFor, "error", t.err)
		}
		return true
	}
	var rs retryStatusError
	if errors.As(t.err, &rs) {
		return true
	}
	return t.maxAttempts > 1
}

// finalError is what the client is told when no attempt produced an
// answer (forwarder.finalError's rules).
func (t *fastTry) finalError() error {
	err := t.err
	var rs retryStatusError
	switch {
	case err == nil:
		return httperr.ErrNoUpstream
	case t.why.Load() == abortClient:
		return context.Canceled
	case !time.Now().Before(t.deadline) && isTimeout(err):
		return httperr.ErrUpstreamTimeout
	case httperr.IsConnectError(err):
		return errors.Join(httperr.ErrUpstreamDown, err)
	case errors.As(err, &rs) && rs.status == http.StatusServiceUnavailable:
		return httperr.ErrUpstreamDown
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// send makes one attempt on t.up. It sets t.err when no answer reached the
// client, and t.wrote once the answer's head was written to it.
func (t *fastTry) send() {
	t.up.Acquire()
	defer t.up.Release()
	t.why.Store(abortNone)
	cn, err := t.f.g.h1.Get(t.r.Context(), t.up.Host, t.deadline)
	if err != nil {
		t.err = err
		return
	}
	// A reused connection the upstream closed while it sat idle fails
	// before any byte of an answer; such a request never reached the
	// upstream and goes again on a fresh connection when net/http would
	// send it again (isReplayable).
	for {
		t.mu.Lock()
		t.cn = cn
		t.mu.Unlock()
		err = t.exchange(cn)
		if err == nil || !cn.Reused() || !errors.Is(err, h1client.ErrNothingRead) || t.why.Load() != abortNone ||
			!replayable(t.r) {
			break
		}
		if cn, err = t.f.g.h1.Dial(t.r.Context(), t.up.Host, t.deadline); err != nil {
			break
		}
	}
	t.err = err
}

// replayable is net/http's Request.isReplayable for a buffered body.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

// exchange sends the request on t.cn and relays the answer. The connection
// is released or discarded before it returns.
func (t *fastTry) exchange(cn *h1client.Conn) (err error) {
	r, w := t.r, t.w
	released := false
	defer func() {
		if !released {
			t.detach()
			cn.Discard()
		}
	}()
	// The route timeout bounds sending and the wait for the answer's head.
	// The wait is cut into checkpoints (pollFirst, doubling up to
	// pollMax): at each, Wait checks on this goroutine whether the client
	// is still there and the upstream still in the pool. That costs
	// nothing for the common answer that comes before the first one, where
	// a context.AfterFunc per request cost an allocation and a lock each
	// way, and a callback on another goroutine racing the attempt.
	nc := cn.NetConn()
	if len(t.body) > 0 {
		_ = nc.SetWriteDeadline(t.deadline)
	}
	t.poll = pollFirst
	_ = nc.SetReadDeadline(earliest(t.deadline, time.Now().Add(t.poll)))
	cn.SetWaiter(t)
	if err := t.writeHead(cn.Writer()); err != nil {
		return err
	}
	if len(t.body) > 0 {
		_, _ = cn.Writer().Write(t.body)
	}
	if err := cn.Writer().Flush(); err != nil {
		return t.reason(err)
	}

	isHead := r.Method == http.MethodHead
	res, err := cn.ReadResponse(isHead)
	for n := 0; err == nil && res.StatusCode < 200 && res.StatusCode != http.StatusSwitchingProtocols; n++ {
		if n == 5 {
			return errors.New("net/http: too many 1xx informational responses")
		}
		// ReverseProxy's Got1xxResponse: relay, then clear the map.
		h := w.Header()
		copyHeader(h, res.Header)
		w.WriteHeader(res.StatusCode)
		clear(h)
		res, err = cn.ReadResponse(isHead)
	}
	if err != nil {
		return t.reason(err)
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		return errors.New("upstream switched protocols on a request without Upgrade")
	}
	cn.SetWaiter(nil)
	// The route timeout bounds the wait for the head, not the body.
	if len(t.body) > 0 {
		_ = nc.SetDeadline(time.Time{})
	} else {
		_ = nc.SetReadDeadline(time.Time{})
	}
	if !cn.BodyBuffered() {
		// The body's reads may block: a client that leaves stops them.
		if done := r.Context().Done(); done != nil {
			stop := context.AfterFunc(r.Context(), t.clientGone)
			defer stop()
		}
	}

	if (res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable) && t.canTryAnother(t.f.rt.Backend) {
		return retryStatusError{status: res.StatusCode}
	}
	t.up.ReportSuccess()

	removeHopByHop(res.Header)
	t.f.rt.ResponseHeaders.Apply(res.Header)
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
	t.wrote = true

	var flush func() error
	if res.ContentLength == -1 || isEventStream(res.Header) {
		// A streamed answer: send the head now and every write as it
		// comes (ReverseProxy's flush interval -1, whose first flush runs
		// at once, so the head goes out before any body: no sniffed
		// Content-Type).
		flush = http.NewResponseController(w).Flush
		if err := flush(); err != nil {
			t.detach()
			cn.Discard()
			released = true
			if r.Context().Value(http.ServerContextKey) != nil {
				panic(http.ErrAbortHandler)
			}
			return nil
		}
	}
	bp := copyPool.Get().(*[]byte)
	_, rerr, werr := cn.WriteBodyTo(w, flush, *bp)
	copyPool.Put(bp)
	if rerr != nil || werr != nil {
		if rerr != nil {
			t.f.g.log.Debug("upstream body cut short", "upstream", t.up.Host, "error", rerr)
		}
		t.detach()
		cn.Discard()
		released = true
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler) // as ReverseProxy: abort the client's answer
		}
		return nil
	}
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
	t.detach()
	if t.why.Load() != abortNone {
		cn.Discard() // an abort may have moved its deadline
	} else {
		cn.Release()
	}
	released = true
	return nil
}

// reason turns an error of the connection into what stopped it: the route
// timeout, the upstream leaving, or the client going away.
func (t *fastTry) reason(err error) error {
	switch t.why.Load() {
	case abortGone:
		return errors.Join(errUpstreamGone, err)
	case abortClient:
		return errors.Join(context.Canceled, err)
	}
	return err
}

// writeHead writes the outbound request head: what ReverseProxy with the
// gateway's Rewrite hook and net/http's request writer would send.
func (t *fastTry) writeHead(bw *bufio.Writer) error {
	r, rt := t.r, t.f.rt
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	u := r.URL
	if rt.StripPrefix {
		cp := *r.URL
		stripPrefix(&cp, rt.Prefix)
		u = &cp
	}
	if err := writeRequestURI(bw, u); err != nil {
		return err
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")

	named := connNames(r.Header["Connection"])
	rules := &rt.RequestHeaders
	for k, vv := range r.Header {
		if skipOutbound(k) || (named != nil && slices.Contains(named, k)) || rules.Affects(k) {
			continue
		}
		for _, v := range vv {
			if err := writeField(bw, k, v); err != nil {
				return err
			}
		}
	}
	if ua := r.Header["User-Agent"]; len(ua) > 0 && !slices.Contains(named, "User-Agent") && !rules.Affects("User-Agent") {
		if v := textproto.TrimString(ua[0]); v != "" {
			if err := writeField(bw, "User-Agent", v); err != nil {
				return err
			}
		}
	}
	if h1client.HasToken(r.Header["Te"], "trailers") && !rules.Affects("Te") {
		bw.WriteString("Te: trailers\r\n")
	}
	t.writeForwarded(bw, rules)
	if id := r.Header[reqid.Header]; len(id) > 0 && !rules.Affects(reqid.Header) {
		if err := writeField(bw, reqid.Header, id[0]); err != nil {
			return err
		}
	}
	for i := range rules.NumSet() {
		k, vv := rules.Set(i)
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // net/http's request writer never takes these from the header map
		case "User-Agent":
			vv = vv[:min(len(vv), 1)] // it writes the first value only
		}
		for _, v := range vv {
			if err := writeField(bw, k, v); err != nil {
				return err
			}
		}
	}
	switch n := len(t.body); {
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

// writeForwarded writes X-Forwarded-For/-Host/-Proto (and Forwarded from
// a trusted proxy), as setForwarded does on the ReverseProxy path.
func (t *fastTry) writeForwarded(bw *bufio.Writer, rules interface{ Affects(string) bool }) {
	r := t.r
	if !rules.Affects(headerXFF) {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			bw.WriteString("X-Forwarded-For: ")
			if prior := r.Header[headerXFF]; t.trusted && len(prior) > 0 {
				for _, p := range prior {
					bw.WriteString(sanitize(p))
					bw.WriteString(", ")
				}
			}
			bw.WriteString(host)
			bw.WriteString("\r\n")
		}
	}
	if !rules.Affects(headerXFH) {
		v := r.Host
		if in := r.Header[headerXFH]; t.trusted && len(in) > 0 {
			for _, x := range in {
				_ = writeField(bw, headerXFH, x)
			}
		} else {
			_ = writeField(bw, headerXFH, v)
		}
	}
	if !rules.Affects(headerXFP) {
		if in := r.Header[headerXFP]; t.trusted && len(in) > 0 {
			for _, x := range in {
				_ = writeField(bw, headerXFP, x)
			}
		} else if r.TLS == nil {
			bw.WriteString("X-Forwarded-Proto: http\r\n")
		} else {
			bw.WriteString("X-Forwarded-Proto: https\r\n")
		}
	}
	if in := r.Header[headerFwdBy]; t.trusted && len(in) > 0 && !rules.Affects(headerFwdBy) {
		for _, x := range in {
			_ = writeField(bw, headerFwdBy, x)
		}
	}
}

// skipOutbound names the inbound headers the outbound head never copies:
// hop-by-hop headers (ReverseProxy's list), the forwarding headers the
// gateway rewrites, and those net/http's request writer writes itself.
func skipOutbound(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Host", "User-Agent", "Content-Length", reqid.Header:
		return true
	}
	return false
}

// connNames returns the canonical header names the Connection values name
// (nil when there are none): those are hop-by-hop too.
func connNames(conn []string) []string {
	var names []string
	for _, f := range conn {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				names = append(names, textproto.CanonicalMIMEHeaderKey(sf))
			}
		}
	}
	return names
}

// removeHopByHop is ReverseProxy's removeHopByHopHeaders.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		delete(h, k)
	}
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

var errBadHeaderValue = errors.New("net/http: invalid header field value")

// writeField writes "k: v\r\n". Like net/http's Transport it refuses a
// value with control bytes other than tab.
func writeField(bw *bufio.Writer, k, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return errors.Join(errBadHeaderValue, errors.New(k))
		}
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(textproto.TrimString(v))
	_, err := bw.WriteString("\r\n")
	return err
}

// sanitize replaces control bytes in a value written without writeField.
func sanitize(v string) string {
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return ' '
			}
			return r
		}, v)
	}
	return v
}

// writeRequestURI writes u.RequestURI() after ReverseProxy's query
// cleaning, without building the string when it can.
func writeRequestURI(bw *bufio.Writer, u *url.URL) error {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if hasCTL(p) || hasCTL(u.RawQuery) {
		return errors.New("net/http: can't write control character in Request.URL")
	}
	bw.WriteString(p)
	if q := cleanQuery(u.RawQuery); q != "" || u.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(q)
	}
	return nil
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// cleanQuery is ReverseProxy's cleanQueryParams: a query with ';' or a
// bad escape is re-encoded (dropping what does not parse).
func cleanQuery(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	if strings.Count(s, "&")+1 > 10000 {
		return reencode(s)
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
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
