// Package hclient is the minimal HTTP/1.1 keep-alive client the bench tools
// share: one request at a time on one TCP connection, the request bytes
// built once, the answer parsed just enough to find its end (status line,
// Content-Length, chunked, Connection: close) and its body discarded. It costs far less CPU per request than net/http.Client, so the
// load generator disturbs the measured process less. Standard library only.
package hclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is a parsed http:// URL.
type Target struct {
	Addr string // host:port to dial
	Host string // Host header
	Path string // path and query, e.g. "/x?y=1"
}

// ParseURL accepts http://host[:port][/path][?query].
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, err
	}
	if u.Scheme != "http" {
		return Target{}, fmt.Errorf("%q: only http:// URLs are supported", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	p := u.RequestURI()
	return Target{Addr: addr, Host: u.Host, Path: p}, nil
}

// Request returns the bytes of a GET for path with extra header lines
// (each "Name: value").
func (t Target) Request(path string, extra ...string) []byte {
	var b strings.Builder
	b.WriteString("GET ")
	b.WriteString(path)
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(t.Host)
	b.WriteString("\r\nUser-Agent: rgate-bench\r\n")
	for _, h := range extra {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Conn is one keep-alive connection; it redials after an error or a
// "Connection: close" answer. Not safe for concurrent use.
type Conn struct {
	Addr    string
	Local   *net.TCPAddr // source address to bind, nil: any
	Timeout time.Duration
	c       net.Conn
	br      *bufio.Reader
	// Dials counts connections opened.
	Dials int
}

// Do sends req and reads the whole answer, returning its status code and
// body size. After an error the connection is closed; the next Do redials.
func (c *Conn) Do(req []byte) (status int, n int64, err error) {
	if c.c == nil {
		if err := c.dial(); err != nil {
			return 0, 0, err
		}
	}
	if c.Timeout > 0 {
		_ = c.c.SetDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := c.c.Write(req); err != nil {
		c.Close()
		return 0, 0, err
	}
	status, n, mustClose, err := readResponse(c.br)
	if err != nil || mustClose {
		c.Close()
	}
	return status, n, err
}

// readResponse reads one HTTP/1.x answer to a GET and discards its body,
// without net/http's allocations (header map, strings): the status code,
// Content-Length or chunked framing and Connection: close are all it
// needs. An answer framed by the end of the connection is read to EOF.
func readResponse(br *bufio.Reader) (status int, n int64, mustClose bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, 0, true, err
		}
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
			return 0, 0, true, fmt.Errorf("malformed status line %q", line)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, 0, true, fmt.Errorf("malformed status line %q", line)
		}
		mustClose = line[7] == '0' // HTTP/1.0: no keep-alive assumed
		length, chunked := int64(-1), false
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				return status, 0, true, err
			}
			h = trimSpace(h)
			if len(h) == 0 {
				break
			}
			name, value, ok := cutByte(h, ':')
			if !ok {
				return status, 0, true, fmt.Errorf("malformed header line %q", h)
			}
			value = trimSpace(value)
			switch {
			case equalFold(name, "content-length"):
				length, err = strconv.ParseInt(string(value), 10, 64)
				if err != nil || length < 0 {
					return status, 0, true, fmt.Errorf("bad Content-Length %q", value)
				}
			case equalFold(name, "transfer-encoding"):
				chunked = equalFold(value, "chunked")
			case equalFold(name, "connection"):
				if equalFold(value, "close") {
					mustClose = true
				} else if equalFold(value, "keep-alive") {
					mustClose = false
				}
			}
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // an interim answer; the real one follows
		}
		switch {
		case status == 204 || status == 304:
			return status, 0, mustClose, nil
		case chunked:
			n, err = discardChunked(br)
			return status, n, mustClose || err != nil, err
		case length >= 0:
			d, err := br.Discard(int(length))
			return status, int64(d), mustClose || err != nil, err
		default:
			n, err = io.Copy(io.Discard, br)
			return status, n, true, err
		}
	}
}

func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		line = trimSpace(line)
		if i := indexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for { // trailers up to the empty line
				t, err := br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(trimSpace(t)) == 0 {
					return total, nil
				}
			}
		}
		d, err := br.Discard(int(size))
		total += int64(d)
		if err != nil {
			return total, err
		}
		if crlf, err := br.ReadSlice('\n'); err != nil || len(trimSpace(crlf)) != 0 {
			return total, fmt.Errorf("missing CRLF after a chunk")
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func cutByte(b []byte, c byte) (before, after []byte, ok bool) {
	if i := indexByte(b, c); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// equalFold compares ASCII b with lower-case s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x := b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != s[i] {
			return false
		}
	}
	return true
}

// Open dials when not connected.
func (c *Conn) Open() error {
	if c.c != nil {
		return nil
	}
	return c.dial()
}

func (c *Conn) dial() error {
	d := net.Dialer{Timeout: 5 * time.Second}
	if c.Local != nil {
		d.LocalAddr = c.Local
	}
	nc, err := d.Dial("tcp", c.Addr)
	if err != nil {
		return err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c.c, c.br = nc, bufio.NewReaderSize(nc, 16<<10)
	c.Dials++
	return nil
}

// Connected reports whether the connection is open.
func (c *Conn) Connected() bool { return c.c != nil }

// Close closes the connection (Do redials).
func (c *Conn) Close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c, c.br = nil, nil
	}
}

// SourceAddrs returns n loopback source addresses 127.0.0.1, 127.0.0.2, ...
// (all of 127.0.0.0/8 is local on Linux without any setup). n <= 0 gives
// nil: let the kernel choose.
func SourceAddrs(n int) []*net.TCPAddr {
	var out []*net.TCPAddr
	for i := range n {
		ip := net.IPv4(127, byte((i+1)>>16), byte((i+1)>>8), byte(i+1))
		out = append(out, &net.TCPAddr{IP: ip})
	}
	return out
}

// RaiseNoFile raises the soft RLIMIT_NOFILE to at least want (and to the
// hard limit), raising the hard limit too when allowed (root). It returns
// the resulting soft limit.
func RaiseNoFile(want uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Max < want {
		nr := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nr); err == nil {
			return want, nil
		}
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < want {
		return r.Cur, fmt.Errorf("RLIMIT_NOFILE hard limit %d < %d wanted (run as root or raise `ulimit -Hn`)", r.Max, want)
	}
	return r.Cur, nil
}

// ProcStatus returns the named fields of /proc/PID/status in KiB (VmRSS,
// VmHWM, ...) or as plain numbers (Threads).
func ProcStatus(pid int, fields ...string) (map[string]int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, f := range fields {
			if k == f {
				num := strings.Fields(v)
				if len(num) > 0 {
					n, err := strconv.ParseInt(num[0], 10, 64)
					if err == nil {
						out[k] = n
					}
				}
			}
		}
	}
	for _, f := range fields {
		if _, ok := out[f]; !ok {
			return out, fmt.Errorf("/proc/%d/status: no %s", pid, f)
		}
	}
	return out, nil
}

// CountFDs returns the number of open file descriptors of pid.
func CountFDs(pid int) (int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// CPUTime returns the user+system CPU time pid has used.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	// Fields after the command (which may hold spaces) in parentheses.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad utime/stime in /proc/PID/stat")
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// Metrics fetches a Prometheus text page and returns the samples of the
// named metrics that have no labels.
func Metrics(url string, names ...string) (map[string]float64, error) {
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(val)[0], 64); err == nil {
			out[name] = v
		}
	}
	return out, nil
}
