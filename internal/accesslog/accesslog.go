// Package accesslog writes one JSON object per line for every request the
// gateway answers.
//
// The model: the gateway calls Log once, after the response is finished,
// with the request's reqinfo.Info; Log encodes a fixed set of fields, in a
// fixed order, into a pooled byte buffer and hands the whole line to the
// writer in a single Write call under a mutex, so concurrent requests never
// interleave their lines, whatever the writer. Encoding happens outside the
// mutex; the lock covers only the Write.
//
// The encoder is hand-written (no encoding/json, no fmt, no reflection) so a
// Log call allocates nothing in the steady state. Strings are escaped to
// valid JSON whatever they hold: quotes, backslashes and control characters
// are escaped, and invalid UTF-8 becomes \ufffd, so a hostile path or
// User-Agent can neither break the line nor forge fields.
//
// A line looks like this (one line, wrapped here):
//
//	{"time":"2025-01-02T03:04:05.123456789Z","request_id":"5f0c...","method":"GET",
//	 "path":"/api/payment/7","query":"a=1","route":"/api/payment","backend":"payment",
//	 "container":"payment-1","upstream":"172.17.0.3:8080","status":200,"bytes":512,
//	 "duration_ms":1.234,"cache":"MISS","retries":0,"client_ip":"192.0.2.1",
//	 "user_agent":"curl/8.5.0"}
//
// "query" is present only when the request has one, "trace_id" (after
// "request_id": the W3C trace id, 32 hex digits, the client's or the one
// rgate started) only when tracing is on and a route took the request, and
// "consumer" (the authenticated caller's name, never a credential) only on
// an authenticated request; every other field is always present (empty
// string or 0 when unknown). Write errors are
// dropped: a log sink that fails must never fail a request. The gateway
// calls Log only when access_log.enabled is true, so a disabled log costs
// nothing.
package accesslog

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/reqinfo"
)

const (
	// initialBufSize fits a typical line without growing.
	initialBufSize = 512
	// maxPooledBufSize: buffers grown past this by a huge line are dropped
	// rather than kept in the pool.
	maxPooledBufSize = 64 << 10
)

// Logger writes access log lines. It is safe for concurrent use.
type Logger struct {
	mu   sync.Mutex // serialises Writes to w (and, buffered, the buffer)
	w    io.Writer
	bufs sync.Pool // of *[]byte

	// Buffered mode (NewBuffered): lines collect in out and go to w in
	// one Write when out passes flushBytes or flushEvery after the first
	// line since the last write, whichever comes first.
	buffered   bool
	out        []byte
	flushEvery time.Duration
	timer      *time.Timer
	armed      bool
}

// flushBytes is the buffered mode's write size: big enough that writes
// are rare under load, small enough to stay in cache.
const flushBytes = 32 << 10

// New returns a Logger writing to w (os.Stdout in production).
func New(w io.Writer) *Logger {
	l := &Logger{w: w}
	l.bufs.New = func() any {
		b := make([]byte, 0, initialBufSize)
		return &b
	}
	return l
}

// NewBuffered returns a Logger that collects lines and writes them to w in
// batches: when 32 KiB have gathered, or `every` after the first line
// since the last write. A line is never split across writes. Under load
// this turns one write system call per request into one per ~100 requests
// (nginx's access_log buffer= and flush=); a line reaches w at most
// `every` late. Flush writes what is pending (call it before exiting).
func NewBuffered(w io.Writer, every time.Duration) *Logger {
	l := New(w)
	l.buffered = true
	l.flushEvery = every
	l.out = make([]byte, 0, flushBytes+initialBufSize)
	l.timer = time.AfterFunc(time.Hour, l.Flush)
	l.timer.Stop()
	return l
}

// Flush writes the lines a buffered Logger holds.
func (l *Logger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	if len(l.out) > 0 {
		_, _ = l.w.Write(l.out)
		l.out = l.out[:0]
	}
}

// Log writes the line for one finished request. info is the request's
// record, r the request as the client sent it, end the moment the last
// response byte was written.
func (l *Logger) Log(info *reqinfo.Info, r *http.Request, end time.Time) {
	bp := l.bufs.Get().(*[]byte)
	b := appendLine((*bp)[:0], info, r, end)

	l.mu.Lock()
	if !l.buffered {
		_, _ = l.w.Write(b)
	} else {
		l.out = append(l.out, b...)
		switch {
		case len(l.out) >= flushBytes:
			_, _ = l.w.Write(l.out)
			l.out = l.out[:0]
		case !l.armed:
			l.armed = true
			l.timer.Reset(l.flushEvery)
		}
	}
	l.mu.Unlock()

	if cap(b) <= maxPooledBufSize {
		*bp = b
		l.bufs.Put(bp)
	}
}

// appendLine appends the JSON line, newline included, to b.
func appendLine(b []byte, info *reqinfo.Info, r *http.Request, end time.Time) []byte {
	b = append(b, `{"time":"`...)
	b = info.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = appendStringField(b, `","request_id":`, info.ID)
	if info.Trace.ID != ([16]byte{}) {
		b = appendHexField(b, `,"trace_id":"`, info.Trace.ID[:])
	}
	b = appendStringField(b, `,"method":`, r.Method)
	b = appendStringField(b, `,"path":`, r.URL.Path)
	if q := r.URL.RawQuery; q != "" {
		if info.CredentialQuery != "" {
			q = redactParam(q, info.CredentialQuery)
		}
		b = appendStringField(b, `,"query":`, q)
	}
	b = appendStringField(b, `,"route":`, info.Route)
	b = appendStringField(b, `,"backend":`, info.Backend)
	b = appendStringField(b, `,"container":`, info.Container)
	b = appendStringField(b, `,"upstream":`, info.Upstream)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(info.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, info.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, end.Sub(info.Start))
	b = appendStringField(b, `,"cache":`, info.Cache)
	b = append(b, `,"retries":`...)
	b = strconv.AppendInt(b, int64(info.Retries), 10)
	ip := info.ClientIP
	if ip == "" {
		ip = reqinfo.HostOf(r.RemoteAddr)
	}
	b = appendStringField(b, `,"client_ip":`, ip)
	b = appendStringField(b, `,"user_agent":`, r.UserAgent())
	if info.Consumer != "" {
		b = appendStringField(b, `,"consumer":`, info.Consumer)
	}
	return append(b, '}', '\n')
}

// appendHexField appends key (ending in a quote), v in lower-case hex and
// the closing quote.
func appendHexField(b []byte, key string, v []byte) []byte {
	const digits = "0123456789abcdef"
	b = append(b, key...)
	for _, c := range v {
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return append(b, '"')
}

func appendStringField(b []byte, key, v string) []byte {
	return appendJSONString(append(b, key...), v)
}

// appendMillis appends d in milliseconds with exactly three decimals
// (microsecond resolution, rounded half up); a negative d, which only a
// clock step can produce, is written as 0.000.
func appendMillis(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	us := int64(d / time.Microsecond) // rounding without adding: d near its maximum must not overflow
	if d%time.Microsecond >= time.Microsecond/2 {
		us++
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// redactParam replaces the value of every name=... parameter of a raw
// query with "REDACTED" (an API key carried in the query never reaches
// the log).
func redactParam(raw, name string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}
