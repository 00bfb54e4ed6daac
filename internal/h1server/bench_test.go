package h1server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchRequest is a keep-alive GET with six header fields besides Host.
var benchRequest = []byte("GET /api/v1/items?id=42 HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"User-Agent: bench/1.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"X-Request-Id: 0123456789abcdef\r\n" +
	"Cookie: session=abc\r\n" +
	"Connection: keep-alive\r\n\r\n")

var benchPayload = bytes.Repeat([]byte("x"), 1024)

func benchHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"1024"}
		w.Write(benchPayload)
	})
}

// readRawResponse reads one response with a Content-Length body from br
// without allocating.
func readRawResponse(br *bufio.Reader) error {
	cl := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
		const prefix = "Content-Length: "
		if len(line) > len(prefix) && string(line[:len(prefix)]) == prefix {
			cl = 0
			for _, c := range line[len(prefix) : len(line)-2] {
				cl = cl*10 + int(c-'0')
			}
		}
	}
	if cl < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := br.Discard(cl)
	return err
}

func benchGET(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchConn(b, c)
}

func benchConn(b *testing.B, c net.Conn) {
	br := bufio.NewReaderSize(c, 16<<10)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(benchRequest); err != nil {
			b.Fatal(err)
		}
		if err := readRawResponse(br); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user+system CPU time: unlike wall time per
// request it is not inflated by other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pipeListener serves one in-memory connection.
type pipeListener struct {
	c      chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() (*pipeListener, net.Conn) {
	client, server := net.Pipe()
	l := &pipeListener{c: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.c <- server
	return l, client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func benchGETParallel(b *testing.B, addr string) {
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 16<<10)
		for pb.Next() {
			if _, err := c.Write(benchRequest); err != nil {
				b.Error(err)
				return
			}
			if err := readRawResponse(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkServeGET compares the fast path with a plain net/http.Server:
// a raw keep-alive GET over loopback TCP, the handler writing 1 KiB with a
// Content-Length. allocs/op counts the whole process (the client loop does
// not allocate).
func BenchmarkServeGET(b *testing.B) {
	b.Run("h1server", func(b *testing.B) {
		benchGET(b, startServer(b, &Server{Handler: benchHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}))
	})
	b.Run("net-http", func(b *testing.B) {
		benchGET(b, startStd(b, benchHandler(), 10*time.Second, time.Minute, 0))
	})
	b.Run("h1server-pipe", func(b *testing.B) {
		s := &Server{Handler: benchHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		l, c := newPipeListener()
		done := make(chan error, 1)
		go func() { done <- s.Serve(l) }()
		benchConn(b, c)
		c.Close()
		s.Shutdown(context.Background())
		<-done
	})
	b.Run("net-http-pipe", func(b *testing.B) {
		s := &http.Server{Handler: benchHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		l, c := newPipeListener()
		done := make(chan error, 1)
		go func() { done <- s.Serve(l) }()
		benchConn(b, c)
		c.Close()
		s.Shutdown(context.Background())
		<-done
	})
	b.Run("h1server-parallel", func(b *testing.B) {
		benchGETParallel(b, startServer(b, &Server{Handler: benchHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}))
	})
	b.Run("net-http-parallel", func(b *testing.B) {
		benchGETParallel(b, startStd(b, benchHandler(), 10*time.Second, time.Minute, 0))
	})
}

// TestAllocsPerRequest keeps the fast path's allocation count in check.
func TestAllocsPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count in -short mode")
	}
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocation counts mean nothing")
	}
	addr := startServer(t, &Server{Handler: benchHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute})
	c := dial(t, addr)
	br := bufio.NewReaderSize(c, 16<<10)
	do := func(n int) {
		for range n {
			if _, err := c.Write(benchRequest); err != nil {
				t.Fatal(err)
			}
			if err := readRawResponse(br); err != nil {
				t.Fatal(err)
			}
		}
	}
	do(100) // warm pools and the Date cache
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	do(n)
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%.2f allocs per request", allocs)
	// The request (1), its URL (1), header map (2) and values (1), the
	// head's strings (1), the context (2) and the ResponseWriter (1); the
	// handler's Content-Length value and response header map add 3 more.
	// Leave slack for runtime background allocations.
	if allocs > 13 {
		t.Errorf("%.2f allocs per request, want <= 13", allocs)
	}
}

// BenchmarkWriteHeader: a proxied response's header with rate-limit
// fields (11 fields), written by writeHeader and by net/http's
// Header.WriteSubset.
func BenchmarkWriteHeader(b *testing.B) {
	h := http.Header{}
	for _, k := range []string{"Content-Length", "Content-Type", "Date", "X-Request-Id", "X-Response-Time",
		"X-Service", "Ratelimit-Limit", "Ratelimit-Policy", "Ratelimit-Remaining", "Ratelimit-Reset", "Cache-Control"} {
		h[k] = []string{"value-of-" + k}
	}
	bw := bufio.NewWriterSize(io.Discard, 4096)
	b.Run("writeHeader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeHeader(bw, h, nil)
		}
	})
	b.Run("WriteSubset", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.WriteSubset(bw, nil)
		}
	})
}
