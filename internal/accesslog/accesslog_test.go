package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/reqinfo"
)

// fieldOrder is the contract: every line has these keys in this order
// ("query" only when the request has one).
var fieldOrder = []string{
	"time", "request_id", "method", "path", "query", "route", "backend", "container", "upstream",
	"status", "bytes", "duration_ms", "cache", "retries", "client_ip", "user_agent",
}

var start = time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))

func sample() (*reqinfo.Info, *http.Request) {
	r := httptest.NewRequest(http.MethodPost, "/api/payment/7?a=1&b=2", nil)
	r.RemoteAddr = "192.0.2.1:54321"
	r.Header.Set("User-Agent", "curl/8.5.0")
	info := &reqinfo.Info{
		ID: "abc-123", Start: start, Status: 201, Bytes: 512,
		Route: "/api/payment", Backend: "payment", Upstream: "172.17.0.3:8080", Container: "payment-1",
		Cache: reqinfo.CacheMiss, Retries: 1,
	}
	return info, r
}

// keys returns the object's top-level keys in order, failing on anything
// that is not exactly one JSON object.
func keys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %q does not start an object: %v", line, err)
	}
	var ks []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("reading key: %v", err)
		}
		ks = append(ks, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("reading value of %v: %v", tok, err)
		}
	}
	return ks
}

func logOne(t *testing.T, info *reqinfo.Info, r *http.Request, end time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	New(&buf).Log(info, r, end)
	out := buf.Bytes()
	if !bytes.HasSuffix(out, []byte("\n")) || bytes.Count(out, []byte("\n")) != 1 {
		t.Fatalf("output is not exactly one line: %q", out)
	}
	return out
}

func TestLineFields(t *testing.T) {
	t.Parallel()
	info, r := sample()
	line := logOne(t, info, r, start.Add(1234567*time.Nanosecond))

	if got := strings.Join(keys(t, line), ","); got != strings.Join(fieldOrder, ",") {
		t.Errorf("keys = %s\nwant   %s", got, strings.Join(fieldOrder, ","))
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("unmarshalling %q: %v", line, err)
	}
	want := map[string]any{
		"time": "2025-01-02T02:04:05.123456789Z", "request_id": "abc-123", "method": "POST",
		"path": "/api/payment/7", "query": "a=1&b=2", "route": "/api/payment", "backend": "payment",
		"container": "payment-1", "upstream": "172.17.0.3:8080", "status": 201.0, "bytes": 512.0,
		"duration_ms": 1.235, "cache": "MISS", "retries": 1.0, "client_ip": "192.0.2.1",
		"user_agent": "curl/8.5.0",
	}
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s = %#v, want %#v", k, m[k], w)
		}
	}
	if !bytes.Contains(line, []byte(`"duration_ms":1.235,`)) {
		t.Errorf("duration_ms not written with 3 decimals: %s", line)
	}
}

func TestEmptyFieldsPresentQueryOmitted(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/nowhere", nil)
	r.RemoteAddr = ""
	line := logOne(t, &reqinfo.Info{Start: start}, r, start)
	want := append(append([]string{}, fieldOrder[:4]...), fieldOrder[5:]...)
	if got := strings.Join(keys(t, line), ","); got != strings.Join(want, ",") {
		t.Errorf("keys = %s\nwant   %s", got, strings.Join(want, ","))
	}
	if !bytes.Contains(line, []byte(`"duration_ms":0.000,`)) {
		t.Errorf("zero duration not 0.000: %s", line)
	}
}

func TestHostileValuesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, s string }{
		{"quotes", `a"b"c`},
		{"backslash", `C:\path\to`},
		{"forged field", `x","status":999,"y":"`},
		{"newline", "line1\nline2\r\n{\"fake\":1}"},
		{"control chars", "\x00\x01\x07\x1b[31m\x1f\x7f"},
		{"invalid utf8", "ok\xff\xfe\xc3(bad\xe2\x82"},
		{"valid multibyte", "héllo ☃ 😀"},
		{"line separators", "a\u2028b\u2029c"},
		{"tab", "a\tb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info, r := sample()
			info.ID, info.Container, info.Cache = tc.s, tc.s, tc.s
			r.URL.Path, r.URL.RawQuery, r.Method = tc.s, tc.s, tc.s
			r.Header.Set("User-Agent", tc.s)
			line := logOne(t, info, r, start)

			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("unmarshalling %q: %v", line, err)
			}
			want := string([]rune(tc.s)) // each invalid byte -> U+FFFD
			for _, k := range []string{"request_id", "container", "cache", "path", "query", "method", "user_agent"} {
				if m[k] != want {
					t.Errorf("%s = %q, want %q", k, m[k], want)
				}
			}
			if m["status"] != 201.0 {
				t.Errorf("status = %v: a value forged a field", m["status"])
			}
		})
	}
}

func TestAppendMillis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000"},
		{-time.Second, "0.000"},
		{499 * time.Nanosecond, "0.000"},
		{500 * time.Nanosecond, "0.001"},
		{time.Microsecond, "0.001"},
		{12*time.Millisecond + 340*time.Microsecond, "12.340"},
		{2*time.Second + 5*time.Microsecond, "2000.005"},
		{time.Hour, "3600000.000"},
	} {
		if got := string(appendMillis(nil, tc.d)); got != tc.want {
			t.Errorf("appendMillis(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

// chunkWriter records every Write call separately. It has no lock of its
// own: the race detector proves the Logger serialises Writes.
type chunkWriter struct{ chunks [][]byte }

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, bytes.Clone(p))
	return len(p), nil
}

func TestConcurrentWholeLines(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 8, 200
	w := &chunkWriter{}
	l := New(w)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range perWorker {
				info, r := sample()
				info.ID = strconv.Itoa(g*perWorker + i)
				r.Header.Set("User-Agent", strings.Repeat("x", i*7)) // varying sizes
				l.Log(info, r, start)
			}
		})
	}
	wg.Wait()

	if len(w.chunks) != workers*perWorker {
		t.Fatalf("%d writes, want %d (one per line)", len(w.chunks), workers*perWorker)
	}
	seen := make(map[string]bool)
	for _, c := range w.chunks {
		if bytes.IndexByte(c, '\n') != len(c)-1 {
			t.Fatalf("write is not one whole line: %q", c)
		}
		var m struct {
			ID string `json:"request_id"`
		}
		if err := json.Unmarshal(c, &m); err != nil {
			t.Fatalf("unmarshalling %q: %v", c, err)
		}
		if seen[m.ID] {
			t.Fatalf("request_id %s logged twice", m.ID)
		}
		seen[m.ID] = true
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorIgnored(t *testing.T) {
	t.Parallel()
	info, r := sample()
	New(failingWriter{}).Log(info, r, start) // must not panic
}

func BenchmarkLog(b *testing.B) {
	l := New(io.Discard)
	info, r := sample()
	end := start.Add(3 * time.Millisecond)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(info, r, end)
		}
	})
}

func BenchmarkAppendLine(b *testing.B) {
	info, r := sample()
	end := start.Add(3 * time.Millisecond)
	buf := make([]byte, 0, initialBufSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendLine(buf[:0], info, r, end)
	}
	b.SetBytes(int64(len(buf)))
}

// TestBuffered: lines wait for the timer or a full buffer, come out whole
// and in order, and Flush empties the buffer.
func TestBuffered(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	l := NewBuffered(w, 50*time.Millisecond)
	r := httptest.NewRequest("GET", "/a", nil)
	l.Log(&reqinfo.Info{ID: "one", Status: 200}, r, time.Now())
	mu.Lock()
	early := out.Len()
	mu.Unlock()
	if early != 0 {
		t.Fatalf("a buffered line was written at once (%d bytes)", early)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, `"request_id":"one"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timer never wrote the line")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Enough lines to pass the write size: written without waiting.
	size := func() int { mu.Lock(); defer mu.Unlock(); return out.Len() }
	n := 0
	for size() < flushBytes {
		l.Log(&reqinfo.Info{ID: "many", Status: 200}, r, time.Now())
		n++
		if n > 10000 {
			t.Fatal("no write after 10000 lines")
		}
	}
	l.Log(&reqinfo.Info{ID: "last", Status: 200}, r, time.Now())
	l.Flush()
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != n+2 || !strings.Contains(lines[len(lines)-1], `"last"`) {
		t.Fatalf("%d lines, want %d, last %q", len(lines), n+2, lines[len(lines)-1])
	}
	for _, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("broken line %q: %v", line, err)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
