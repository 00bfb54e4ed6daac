package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// websocketGUID is the constant of RFC 6455 section 1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// app serves every endpoint of the test backend.
type app struct {
	name     string
	sleeping atomic.Int64
	// hits counts every request but those to .../hits and .../ping.
	hits atomic.Int64
	// failStatus, when not 0 (env FAIL_STATUS), is the status of every
	// answer but those of .../ping, .../health and .../hits.
	failStatus int
	// wsOpen counts upgraded .../ws connections not yet closed.
	wsOpen atomic.Int64
}

func newApp(name string) *app {
	a := &app{name: name}
	if code, err := strconv.Atoi(os.Getenv("FAIL_STATUS")); err == nil && code >= 200 && code <= 599 {
		a.failStatus = code
	}
	return a
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Backend-Name", a.name)
	base := path.Base(r.URL.Path)
	if base != "hits" && base != "ping" && base != "wsopen" {
		a.hits.Add(1)
	}
	if a.failStatus != 0 && base != "ping" && base != "health" && base != "hits" && base != "wsopen" {
		w.WriteHeader(a.failStatus)
		_, _ = io.WriteString(w, "FAIL_STATUS "+http.StatusText(a.failStatus))
		return
	}
	switch base {
	case "hits":
		writeJSON(w, http.StatusOK, map[string]int64{"hits": a.hits.Load()})
	case "respond":
		a.respond(w, r)
	case "bytes":
		a.bytes(w, r)
	case "upload":
		a.upload(w, r)
	case "status":
		a.status(w, r)
	case "sleep":
		a.sleep(w, r)
	case "sleeping":
		writeJSON(w, http.StatusOK, map[string]int64{"sleeping": a.sleeping.Load()})
	case "ws":
		a.websocket(w, r)
	case "wsopen":
		writeJSON(w, http.StatusOK, map[string]int64{"ws_open": a.wsOpen.Load()})
	case "malformed":
		a.malformed(w)
	case "health":
		a.health(w)
	case "verify":
		a.verify(w, r)
	default:
		a.echo(w, r)
	}
}

// echoReply is the JSON the echo endpoint answers with.
type echoReply struct {
	Name       string              `json:"name"`
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawQuery   string              `json:"raw_query"`
	Headers    map[string][]string `json:"headers"`
	BodyLen    int64               `json:"body_len"`
	BodySHA256 string              `json:"body_sha256"`
	Host       string              `json:"host"`
}

// respond sets the response headers given as h=Name:Value (repeatable) and
// answers status (default 200) with the echo of the request.
func (a *app) respond(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, h := range q["h"] {
		name, value, ok := strings.Cut(h, ":")
		if !ok || name == "" {
			http.Error(w, "h must be Name:Value", http.StatusBadRequest)
			return
		}
		w.Header().Add(name, value)
	}
	status := http.StatusOK
	if s := q.Get("status"); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "status must be an HTTP status of 200..599", http.StatusBadRequest)
			return
		}
		status = code
	}
	a.writeEcho(w, r, status)
}

func (a *app) echo(w http.ResponseWriter, r *http.Request) { a.writeEcho(w, r, http.StatusOK) }

func (a *app) writeEcho(w http.ResponseWriter, r *http.Request, status int) {
	n, sum, err := hashBody(r.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, status, echoReply{
		Name:       a.name,
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Headers:    r.Header,
		BodyLen:    n,
		BodySHA256: sum,
		Host:       r.Host,
	})
}

// patternByte is byte i of every /bytes answer. The tests compute the same.
func patternByte(i int64) byte { return byte(i % 251) }

func (a *app) bytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 32*1024)
	for off := int64(0); off < n; {
		chunk := min(int64(len(buf)), n-off)
		for i := range chunk {
			buf[i] = patternByte(off + i)
		}
		if _, err := w.Write(buf[:chunk]); err != nil {
			return
		}
		off += chunk
	}
}

func (a *app) upload(w http.ResponseWriter, r *http.Request) {
	n, sum, err := hashBody(r.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"body_len": n, "body_sha256": sum})
}

func (a *app) status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil || code < 200 || code > 599 {
		http.Error(w, "code must be an HTTP status of 200..599", http.StatusBadRequest)
		return
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code))
}

func (a *app) sleep(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil {
		http.Error(w, "d must be a Go duration", http.StatusBadRequest)
		return
	}
	a.sleeping.Add(1)
	defer a.sleeping.Add(-1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		_, _ = io.WriteString(w, "slept "+d.String())
	case <-r.Context().Done():
	}
}

// websocket answers an Upgrade: websocket request with 101 and then echoes
// raw bytes (no WebSocket framing) until the client closes, or, with
// ?close_after=N, until it has echoed N bytes, and then closes itself.
func (a *app) websocket(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Connection", "upgrade") ||
		!headerHasToken(r.Header, "Upgrade", "websocket") {
		http.Error(w, "expected Connection: Upgrade and Upgrade: websocket", http.StatusBadRequest)
		return
	}
	closeAfter := int64(-1)
	if s := r.URL.Query().Get("close_after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "close_after must be a non-negative integer", http.StatusBadRequest)
			return
		}
		closeAfter = n
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "hijacking: "+err.Error(), http.StatusInternalServerError)
		return
	}
	a.wsOpen.Add(1)
	defer a.wsOpen.Add(-1)
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + websocketAccept(key) + "\r\n" +
		"X-Backend-Name: " + a.name + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	// Bytes the client sent right behind the request sit in brw.Reader.
	if closeAfter >= 0 {
		_, _ = io.CopyN(conn, brw.Reader, closeAfter)
		return
	}
	_, _ = io.Copy(conn, brw.Reader)
}

// websocketAccept computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func (a *app) malformed(w http.ResponseWriter) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "hijacking: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("THIS IS NOT HTTP \x00\x01\x02 at all\r\n\r\n")
	_ = brw.Flush()
}

func (a *app) health(w http.ResponseWriter) {
	if os.Getenv("UNHEALTHY") == "1" {
		http.Error(w, "unhealthy (UNHEALTHY=1)", http.StatusInternalServerError)
		return
	}
	if _, err := os.Stat(unhealthyFile); err == nil {
		http.Error(w, "unhealthy ("+unhealthyFile+" exists)", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func hashBody(body io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, body)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// verify is a forward-auth service: "Authorization: Bearer allow" gets 200
// with X-User-Id: u-42 and X-Consumer: acme; "Bearer hang" gets no answer
// until the request is cancelled; anything else gets 401 with a Bearer
// challenge and the body "denied by NAME".
func (a *app) verify(w http.ResponseWriter, r *http.Request) {
	switch r.Header.Get("Authorization") {
	case "Bearer allow":
		w.Header().Set("X-User-Id", "u-42")
		w.Header().Set("X-Consumer", "acme")
		w.WriteHeader(http.StatusOK)
	case "Bearer hang":
		<-r.Context().Done()
	default:
		w.Header().Set("Www-Authenticate", `Bearer realm="testapp"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "denied by "+a.name)
	}
}
