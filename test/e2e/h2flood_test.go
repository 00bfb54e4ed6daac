package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	floodHost       = "h2flood.example.test"
	floodMaxStreams = 250 // listener.http2Config's MaxConcurrentStreams
)

// floodRSSBound is how much the gateway's resident memory may grow in one
// flood. What a connection may hold is bounded by its 250 streams (with
// their handlers and upstream requests), 1,000 more queued for a handler,
// 1 MiB of header list and 10,000 queued control frames, a few MiB in
// all; a leak of even 3 KiB per stream of the 20,000-stream rapid reset
// passes 64 MiB, as would buffering the 64 MiB CONTINUATION flood.
func floodRSSBound() int64 {
	if raceEnabled {
		return 256 << 10 // KiB: the race detector's shadow memory multiplies every live byte
	}
	return 64 << 10
}

// TestHTTP2Floods: the known HTTP/2 attacks, sent frame by frame at the
// TLS port (and rapid reset also at h2c on the plain port), cost the
// gateway bounded memory and CPU, never run more than 250 requests of
// one connection at once, and leave it serving.
func TestHTTP2Floods(t *testing.T) {
	t.Parallel()
	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "flood", 50, false, floodHost)
	b := newFloodBackend(t)
	tlsPort := freePort(t)
	g := startGateway(t, staticRoutes([3]string{"/f", b.srv.URL, ""})+fmt.Sprintf(`server:
  h2c: true
  tls:
    port: %d
    certificates: [{cert_file: %s, key_file: %s}]
`, tlsPort, cert, key))
	f := &flood{g: g, b: b, tlsPort: tlsPort, tlsCfg: &tls.Config{RootCAs: ca.pool, ServerName: floodHost, NextProtos: []string{"h2"}}}
	f.serves(t)
	t.Run("concurrency", f.concurrency)
	// Right after concurrency, rgate has 250 idle upstream connections:
	// the held streams' requests reach the backend without a dial.
	t.Run("rapid reset TLS held", func(t *testing.T) { f.rapidReset(t, true, true) })
	t.Run("rapid reset TLS", func(t *testing.T) { f.rapidReset(t, true, false) })
	t.Run("rapid reset h2c", func(t *testing.T) { f.rapidReset(t, false, false) })
	t.Run("CONTINUATION", f.continuation)
	t.Run("PING", func(t *testing.T) {
		f.controlFlood(t, pingFloodFrames(t), true, func(h *h2Conn, i int) error {
			return h.fr.WritePing(false, [8]byte{byte(i >> 16), byte(i >> 8), byte(i)})
		})
	})
	t.Run("SETTINGS", func(t *testing.T) {
		f.controlFlood(t, 100_000, false, func(h *h2Conn, i int) error {
			return h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<20 + uint32(i%2)})
		})
	})
}

// flood is TestHTTP2Floods' gateway, backend and client TLS settings.
type flood struct {
	g       *gw
	b       *floodBackend
	tlsPort int
	tlsCfg  *tls.Config
}

// serves checks that an ordinary HTTP/2 request through the gateway gets 200.
func (f *flood) serves(t *testing.T) {
	t.Helper()
	res, body, _, err := tlsGET(t, f.tlsPort, floodHost, "/f/ordinary", f.tlsCfg, true)
	if err != nil || res.StatusCode != http.StatusOK || res.ProtoMajor != 2 || string(body) != "ok" {
		t.Fatalf("an ordinary HTTP/2 request: %v %v %q, want HTTP/2 200 ok", err, res, body)
	}
}

// dial opens a hand-driven HTTP/2 connection to the TLS port or, with
// tls false, h2c to the plain port.
func (f *flood) dial(t *testing.T, useTLS bool, rcvBuf int) *h2Conn {
	if useTLS {
		return dialH2(t, "127.0.0.1:"+strconv.Itoa(f.tlsPort), f.tlsCfg, rcvBuf)
	}
	return dialH2(t, "127.0.0.1:"+strconv.Itoa(f.g.port), nil, rcvBuf)
}

// concurrency: the server announces 250 streams; of 300 opened at once
// against a backend that holds them, 250 reach it and 50 are refused,
// and the connection serves again once they are answered.
func (f *flood) concurrency(t *testing.T) {
	f.b.reset(t)
	h := f.dial(t, true, 0)
	h.startReader()
	eventually(t, 5*time.Second, "the server's SETTINGS", func() bool { return h.seen().settings != nil })
	if n, ok := h.seen().settings[http2.SettingMaxConcurrentStreams]; !ok || n != floodMaxStreams {
		t.Errorf("the server's SETTINGS has MAX_CONCURRENT_STREAMS %d (sent: %v), want %d", n, ok, floodMaxStreams)
	}
	const opened = floodMaxStreams + 50
	ids := make([]uint32, opened)
	for i := range ids {
		ids[i] = h.request("/f/hold/" + strconv.Itoa(i))
	}
	if err := h.bw.Flush(); err != nil {
		t.Fatalf("sending %d HEADERS: %v", opened, err)
	}
	eventually(t, 15*time.Second, "the backend holding 250 requests, 50 streams refused", func() bool {
		return f.b.inflight.Load() > floodMaxStreams || (f.b.inflight.Load() == floodMaxStreams && len(h.seen().rst) >= opened-floodMaxStreams)
	})
	time.Sleep(300 * time.Millisecond) // a stream over the bound would reach the backend by now
	s := h.seen()
	reached, maxIn := f.b.total.Load(), f.b.maxInflight.Load()
	codes := map[http2.ErrCode]int{}
	for _, id := range ids[floodMaxStreams:] {
		codes[s.rst[id]]++
	}
	t.Logf("concurrency: server SETTINGS %v; %d streams opened at once; backend reached by %d, max in flight %d; RST_STREAM on %d streams %v; GOAWAY %v",
		s.settings, opened, reached, maxIn, len(s.rst), codes, s.goAway)
	if maxIn > floodMaxStreams || reached != floodMaxStreams {
		t.Errorf("the backend got %d requests, at most %d at once; want %d, all at once", reached, maxIn, floodMaxStreams)
	}
	if len(s.rst) != opened-floodMaxStreams || codes[http2.ErrCodeProtocol]+codes[http2.ErrCodeRefusedStream] != opened-floodMaxStreams {
		t.Errorf("RST_STREAM on %d streams, on the last %d %v; want PROTOCOL_ERROR or REFUSED_STREAM on those only",
			len(s.rst), opened-floodMaxStreams, codes)
	}
	f.b.release()
	eventually(t, 15*time.Second, "250 answers", func() bool { return h.seen().answered(ids[:floodMaxStreams]) == floodMaxStreams })
	id := h.request("/f/after")
	if err := h.bw.Flush(); err != nil {
		t.Fatalf("a request after the answers: %v", err)
	}
	eventually(t, 10*time.Second, "an answer on the same connection", func() bool { return h.seen().answered([]uint32{id}) == 1 })
	if s := h.seen(); s.goAway != nil || s.readErr != nil {
		t.Errorf("the connection ended: GOAWAY %v, %v", s.goAway, s.readErr)
	}
	f.serves(t)
}

// rapidReset (CVE-2023-44487): 20,000 HEADERS, each followed at once by
// RST_STREAM(CANCEL), as fast as the connection takes them. With held,
// the backend holds every request: rgate's upstream client sees that a
// request was cancelled at its next check (25 ms after sending it), so
// the reset streams keep their handlers (at most 250) for that long.
// The backend then learns that rgate gave a request up only when it
// reads its connection's close, which can come after rgate has already
// sent the next stream's request: the backend's count may overlap one
// generation of requests with the next, up to twice the stream bound.
func (f *flood) rapidReset(t *testing.T, useTLS, held bool) {
	const streams = 20_000
	path, limit := "/f/rr", int64(floodMaxStreams)
	if held {
		path, limit = "/f/hold/rr", 2*floodMaxStreams
	}
	f.b.reset(t)
	h := f.dial(t, useTLS, 0)
	h.startReader()
	sent := 0
	var werr error
	c := f.measure(t, func() {
		start := time.Now()
		for sent < streams && !h.ended() && time.Since(start) < resetCap {
			id := h.request(path)
			if werr = h.fr.WriteRSTStream(id, http2.ErrCodeCancel); werr != nil {
				break
			}
			sent++
		}
		if werr == nil {
			werr = h.bw.Flush()
		}
		h.ping(t, 15*time.Second)
		eventually(t, 15*time.Second, "the backend done", func() bool { return f.b.inflight.Load() == 0 })
	})
	s := h.seen()
	reached, maxIn := f.b.total.Load(), f.b.maxInflight.Load()
	t.Logf("rapid reset (TLS %v, %s): %d HEADERS+RST_STREAM sent (write error %v); backend reached by %d, max in flight %d; "+
		"from the server: %d HEADERS, %d RST_STREAM, GOAWAY %v, read error %v; %s",
		useTLS, path, sent, werr, reached, maxIn, s.frames[http2.FrameHeaders], len(s.rst), s.goAway, s.readErr, c)
	if maxIn > limit {
		t.Errorf("the backend had %d requests in flight at once, want at most %d", maxIn, limit)
	}
	s.checkEnd(t, "streams", sent, streams, resetCap, werr)
	c.check(t)
	f.serves(t)
}

// continuation (CVE-2023-45288): HEADERS without END_HEADERS, then 16 KiB
// CONTINUATION frames of well-formed junk fields, paced at 16 MiB/s, up to
// 64 MiB. The server closes the connection once the header list passes
// its limit (about 1 MiB: MaxHeaderBytes); 16 MiB leaves room for what
// is in flight in the socket buffers.
func (f *flood) continuation(t *testing.T) {
	const frame, most, closeBy, rate = 16 << 10, 64 << 20, 16 << 20, 16 << 20
	f.b.reset(t)
	h := f.dial(t, true, 0)
	h.startReader()
	id := h.nextID
	h.nextID += 2
	var werr error
	c := f.measure(t, func() {
		if werr = h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block("/f/cont", "https"), EndStream: true}); werr == nil {
			werr = h.bw.Flush()
		}
		var junk bytes.Buffer
		enc := hpack.NewEncoder(&junk)
		value := strings.Repeat("j", 1000)
		start := time.Now()
		for n := 0; werr == nil && h.seen().goAway == nil && !h.ended() && h.sent.Load() < most && time.Since(start) < 10*time.Second; n++ {
			for junk.Len() < frame {
				_ = enc.WriteField(hpack.HeaderField{Name: "x-junk-" + strconv.Itoa(n), Value: value, Sensitive: true})
			}
			if werr = h.fr.WriteContinuation(id, false, junk.Next(frame)); werr == nil {
				werr = h.bw.Flush()
			}
			if ahead := time.Duration(h.sent.Load())*time.Second/rate - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		eventually(t, 10*time.Second, "the connection closed", h.ended)
	})
	s, sent := h.seen(), h.sent.Load()
	t.Logf("CONTINUATION: %.2f MiB sent (write error %v); server: GOAWAY %v, read error %v; backend reached by %d; %s",
		float64(sent)/(1<<20), werr, s.goAway, s.readErr, f.b.total.Load(), c)
	if sent >= closeBy {
		t.Errorf("the server took %.1f MiB of CONTINUATION frames, want it to close the connection before %d MiB", float64(sent)/(1<<20), closeBy>>20)
	}
	if f.b.total.Load() != 0 {
		t.Errorf("the endless header block reached the backend %d times, want 0", f.b.total.Load())
	}
	c.check(t)
	f.serves(t)
}

// controlFlood sends frames control frames (write(h, i)) on a connection
// that reads nothing and has a 4 KiB receive buffer, so that the server's
// answers back up; then reads what came. The server closes the
// connection, or (unless mustClose) the flood completes and a PING is
// answered afterwards.
func (f *flood) controlFlood(t *testing.T, frames int, mustClose bool, write func(h *h2Conn, i int) error) {
	h := f.dial(t, true, 4096)
	sent := 0
	var werr error
	c := f.measure(t, func() {
		start := time.Now()
		for werr == nil && sent < frames && time.Since(start) < controlCap {
			if werr = write(h, sent); werr == nil {
				sent++
			}
		}
		if werr == nil {
			werr = h.bw.Flush()
		}
		f.waitIdle(t) // still reading nothing, until the server has taken the frames in the socket buffers
		h.startReader()
		h.ping(t, 15*time.Second)
	})
	s := h.seen()
	t.Logf("%s flood: %d of %d frames sent (write error %v); server answered %d PING ACKs, %d SETTINGS ACKs; GOAWAY %v, read error %v, PING after the flood answered %v; %s",
		t.Name(), sent, frames, werr, s.pingAcks, s.settingsAcks, s.goAway, s.readErr, s.pinged, c)
	if closed := s.checkEnd(t, "frames", sent, frames, controlCap, werr); mustClose && !closed {
		t.Errorf("the server took %d frames whose answers it could not send without closing the connection", sent)
	}
	c.check(t)
	f.serves(t)
}

// pingFloodFrames is how many PINGs a client that reads nothing must send
// to be closed by a server that bounds its queue of answers: each PING's
// ACK takes 17 bytes, the kernel holds at most tcp_wmem's maximum of them
// in the server's send buffer (the client's receive buffer being 4 KiB),
// and net/http queues at most 10,000 control frames more.
func pingFloodFrames(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	f := strings.Fields(string(b))
	if err != nil || len(f) != 3 {
		t.Fatalf("reading tcp_wmem: %q %v", b, err)
	}
	wmem, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("tcp_wmem %q: %v", b, err)
	}
	return max(100_000, wmem/17+20_000)
}

// floodCost is what one flood cost the gateway process.
type floodCost struct {
	rss0, peak, rss1 int64 // KiB: before, highest during (0: unknown), after
	cpu, took        time.Duration
	gr0, gr1         int // goroutines before, and after they settled
}

func (c floodCost) String() string {
	return fmt.Sprintf("gateway RSS %.1f MiB before, peak %.1f, after %.1f MiB (growth %.1f MiB); CPU %d ms over the %v of the flood and its answers; goroutines %d before, %d after",
		chaosMiB(c.rss0), chaosMiB(c.peak), chaosMiB(c.rss1), chaosMiB(c.growth()), c.cpu.Milliseconds(), c.took.Round(time.Millisecond), c.gr0, c.gr1)
}

func (c floodCost) growth() int64 { return max(c.peak, c.rss1) - c.rss0 }

// check fails the test when the flood's memory growth is unbounded or its
// goroutines stayed (each stream's or frame's would be thousands).
func (c floodCost) check(t *testing.T) {
	t.Helper()
	if c.growth() > floodRSSBound() {
		t.Errorf("the gateway's RSS grew %.1f MiB in the flood, want under %.0f MiB", chaosMiB(c.growth()), chaosMiB(floodRSSBound()))
	}
	if c.gr1 > c.gr0+2*floodMaxStreams {
		t.Errorf("the gateway has %d goroutines after the flood, %d before", c.gr1, c.gr0)
	}
}

// measure runs flood and reads the gateway's RSS (peak from VmHWM, which
// it resets first), CPU time (utime+stime) and goroutines around it.
func (f *flood) measure(t *testing.T, flood func()) floodCost {
	t.Helper()
	pid := f.g.cmd.Process.Pid
	c := floodCost{gr0: f.g.chaosGoroutines(t), rss0: chaosRSS(t, pid)}
	resetPeak := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
	cpu0, start := processCPU(t, pid), time.Now()
	flood()
	c.took, c.cpu = time.Since(start), processCPU(t, pid)-cpu0
	c.rss1 = chaosRSS(t, pid)
	if hwm, ok := peakRSS(pid); ok && resetPeak {
		c.peak = hwm
	}
	var n int
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if n = f.g.chaosGoroutines(t); n <= c.gr0+10 || time.Now().After(end) {
			break
		}
	}
	c.gr1 = n
	return c
}

// waitIdle waits (up to 10s) until the gateway uses less than 5% of a
// core over 200ms.
func (f *flood) waitIdle(t *testing.T) {
	t.Helper()
	pid := f.g.cmd.Process.Pid
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		cpu := processCPU(t, pid)
		time.Sleep(200 * time.Millisecond)
		if processCPU(t, pid)-cpu <= 10*time.Millisecond {
			return
		}
	}
}

// processCPU is the user and system CPU time process pid has used.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("reading /proc/%d/stat: %v", pid, err)
	}
	// Fields after the command's closing parenthesis start at field 3
	// (state); utime and stime are fields 14 and 15, in USER_HZ (100) ticks.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: utime %q, stime %q", pid, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// floodBackend is TestHTTP2Floods' upstream, on 127.0.0.1: it answers
// "ok" at once (under /f/hold/ only once released) and counts the
// requests that reach it and the most it had in flight at once.
type floodBackend struct {
	srv                          *httptest.Server
	total, inflight, maxInflight atomic.Int64

	mu   sync.Mutex
	hold chan struct{} // closed by release
}

func newFloodBackend(t *testing.T) *floodBackend {
	t.Helper()
	b := &floodBackend{hold: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() { b.release(); b.srv.Close() })
	return b
}

func (b *floodBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.total.Add(1)
	n := b.inflight.Add(1)
	defer b.inflight.Add(-1)
	for m := b.maxInflight.Load(); n > m && !b.maxInflight.CompareAndSwap(m, n); m = b.maxInflight.Load() {
	}
	if strings.HasPrefix(r.URL.Path, "/f/hold/") {
		b.mu.Lock()
		hold := b.hold
		b.mu.Unlock()
		select {
		case <-hold:
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
	_, _ = io.WriteString(w, "ok")
}

func (b *floodBackend) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.hold:
	default:
		close(b.hold)
	}
}

// reset waits until the backend holds no request, then zeroes its counts
// and makes /f/hold/ wait again.
func (b *floodBackend) reset(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "the backend idle", func() bool { return b.inflight.Load() == 0 })
	b.total.Store(0)
	b.maxInflight.Store(0)
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
}

// pingData marks h2Conn.ping's PING, apart from a flood's.
var pingData = [8]byte{'h', '2', 'f', 'l', 'o', 'o', 'd', '!'}

// h2Conn is a client HTTP/2 connection driven frame by frame. The test's
// goroutine writes through a 64 KiB buffer: a failed write shows at the
// next frame written or Flush. Once startReader is called, a goroutine
// of its own reads what the server sends until the connection ends. The
// connection's deadline (45s) bounds every read and write.
type h2Conn struct {
	c       net.Conn
	bw      *bufio.Writer
	fr      *http2.Framer
	sent    atomic.Int64 // bytes written to c
	scheme  string
	nextID  uint32
	enc     *hpack.Encoder
	encBuf  bytes.Buffer
	started bool
	done    chan struct{} // closed when the reader has ended

	mu sync.Mutex
	s  h2Seen
}

// h2Seen is what the server sent on an h2Conn.
type h2Seen struct {
	frames       map[http2.FrameType]int
	settings     map[http2.SettingID]uint32 // the first SETTINGS that is no ACK
	settingsAcks int
	pingAcks     int
	pinged       bool // the ACK of h2Conn.ping's PING came
	status       map[uint32]string
	ended        map[uint32]bool // END_STREAM seen
	rst          map[uint32]http2.ErrCode
	goAway       *h2GoAway
	readErr      error
}

type h2GoAway struct {
	code  http2.ErrCode
	last  uint32
	debug string
}

func (g *h2GoAway) String() string {
	if g == nil {
		return "none"
	}
	return fmt.Sprintf("%v (last stream %d, %q)", g.code, g.last, g.debug)
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// dialH2 connects to addr (over TLS with ALPN h2 when cfg is set, h2c
// with prior knowledge otherwise), with a receive buffer of rcvBuf bytes
// when rcvBuf > 0, and sends the preface, SETTINGS with 1 GiB windows
// and, without waiting for it, the ACK of the server's SETTINGS (always
// its first frame): a client that reads nothing is not closed for
// failing to acknowledge it.
func dialH2(t *testing.T, addr string, cfg *tls.Config, rcvBuf int) *h2Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(45 * time.Second))
	h := &h2Conn{c: c, scheme: "http", nextID: 1, done: make(chan struct{}), s: h2Seen{frames: map[http2.FrameType]int{},
		status: map[uint32]string{}, ended: map[uint32]bool{}, rst: map[uint32]http2.ErrCode{}}}
	t.Cleanup(h.close)
	if cfg != nil {
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake with %s: %v", addr, err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("ALPN chose %q, want h2", p)
		}
		h.c, h.scheme = tc, "https"
	}
	h.bw = bufio.NewWriterSize(countWriter{h.c, &h.sent}, 64<<10)
	h.fr = http2.NewFramer(h.bw, h.c)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.encBuf)
	_, err = io.WriteString(h.bw, http2.ClientPreface)
	err = errors.Join(err, h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}),
		h.fr.WriteSettingsAck(), h.fr.WriteWindowUpdate(0, 1<<30), h.bw.Flush())
	if err != nil {
		t.Fatalf("starting HTTP/2 with %s: %v", addr, err)
	}
	return h
}

func (h *h2Conn) close() {
	h.c.Close()
	if h.started {
		<-h.done
	}
}

// block is the header block of a GET of path, valid until the next call.
func (h *h2Conn) block(path, scheme string) []byte {
	h.encBuf.Reset()
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", scheme}, {":authority", floodHost}, {":path", path}} {
		_ = h.enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	return h.encBuf.Bytes()
}

// request writes a GET of path on a new stream (HEADERS with END_STREAM
// and END_HEADERS) and returns the stream's id.
func (h *h2Conn) request(path string) uint32 {
	id := h.nextID
	h.nextID += 2
	_ = h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(path, h.scheme), EndStream: true, EndHeaders: true})
	return id
}

// ping sends a PING and waits until it is answered or the connection ends.
func (h *h2Conn) ping(t *testing.T, timeout time.Duration) {
	t.Helper()
	if h.fr.WritePing(false, pingData) == nil {
		_ = h.bw.Flush()
	}
	eventually(t, timeout, "the PING answered or the connection ended", func() bool { return h.ended() || h.seen().pinged })
}

func (h *h2Conn) startReader() {
	h.started = true
	go func() {
		defer close(h.done)
		for {
			f, err := h.fr.ReadFrame()
			h.mu.Lock()
			if err != nil {
				h.s.readErr = err
				h.mu.Unlock()
				return
			}
			h.s.record(f)
			h.mu.Unlock()
		}
	}()
}

// ended reports whether the reader has ended (the connection is closed).
func (h *h2Conn) ended() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// seen is a copy of what the server has sent so far.
func (h *h2Conn) seen() h2Seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.s
	s.frames, s.settings, s.status, s.ended, s.rst = maps.Clone(s.frames), maps.Clone(s.settings), maps.Clone(s.status), maps.Clone(s.ended), maps.Clone(s.rst)
	return s
}

func (s *h2Seen) record(f http2.Frame) {
	s.frames[f.Header().Type]++
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			s.settingsAcks++
		} else if s.settings == nil {
			s.settings = map[http2.SettingID]uint32{}
			_ = f.ForeachSetting(func(st http2.Setting) error { s.settings[st.ID] = st.Val; return nil })
		}
	case *http2.PingFrame:
		if f.IsAck() {
			s.pingAcks++
			s.pinged = s.pinged || f.Data == pingData
		}
	case *http2.MetaHeadersFrame:
		s.status[f.StreamID] = f.PseudoValue("status")
		s.ended[f.StreamID] = s.ended[f.StreamID] || f.StreamEnded()
	case *http2.DataFrame:
		s.ended[f.StreamID] = s.ended[f.StreamID] || f.StreamEnded()
	case *http2.RSTStreamFrame:
		s.rst[f.StreamID] = f.ErrCode
	case *http2.GoAwayFrame:
		s.goAway = &h2GoAway{code: f.ErrCode, last: f.LastStreamID, debug: string(f.DebugData())}
	}
}

// answered is how many of the streams ids got a 200 and their end.
// resetCap and controlCap bound how long a rapid-reset flood and a
// control-frame flood may take to send.
const (
	resetCap   = 25 * time.Second
	controlCap = 15 * time.Second
)

// checkEnd judges how a flood of total frames (or streams), of which sent
// went in before the cap, ended: closed by the server, or still open and
// then answering a PING. An open connection that took under a tenth of
// the flood is a stalled server. It returns whether the connection closed.
func (s h2Seen) checkEnd(t *testing.T, what string, sent, total int, limit time.Duration, werr error) (closed bool) {
	t.Helper()
	closed = werr != nil || s.goAway != nil || s.readErr != nil
	switch {
	case !closed && sent < total/10:
		t.Errorf("only %d of %d %s went in within %v on a connection still open: the server all but stalled", sent, total, what, limit)
	case !closed && !s.pinged:
		t.Errorf("after the flood the connection neither closed nor answered a PING")
	case !closed && sent < total:
		t.Logf("the flood was cut short by its %v cap (a slow machine)", limit)
	}
	return closed
}

func (s h2Seen) answered(ids []uint32) int {
	n := 0
	for _, id := range ids {
		if s.status[id] == "200" && s.ended[id] {
			n++
		}
	}
	return n
}
