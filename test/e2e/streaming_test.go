package e2e

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const bigBody = 20 << 20 // 20 MiB

// patternByte is byte i of the testapp's /bytes answers.
func patternByte(i int64) byte { return byte(i % 251) }

// patternReader yields the first n pattern bytes.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(b)), p.n-p.off))
	for i := range k {
		b[i] = patternByte(p.off + int64(i))
	}
	p.off += int64(k)
	return k, nil
}

func patternSHA256(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &patternReader{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

// TestLargeBodies: 20 MiB go up and come down through the gateway intact.
func TestLargeBodies(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "big", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)
	want := patternSHA256(bigBody)
	client := newClient(t, 60*time.Second)
	peakBefore, havePeak := peakRSS(g.cmd.Process.Pid)

	for _, tc := range []struct {
		name    string
		length  int64 // -1: chunked
		wantLen int64
	}{
		{"upload with Content-Length", bigBody, bigBody},
		{"upload chunked", -1, bigBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := g.request(t, http.MethodPost, base+"/upload", &patternReader{n: bigBody})
			req.ContentLength = tc.length
			r, err := doWith(client, req)
			if err != nil {
				t.Fatalf("POST upload: %v", err)
			}
			var got struct {
				BodyLen    int64  `json:"body_len"`
				BodySHA256 string `json:"body_sha256"`
			}
			if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
				t.Fatalf("POST upload = %d %q, want 200 and JSON", r.status, r.body)
			}
			if got.BodyLen != tc.wantLen || got.BodySHA256 != want {
				t.Errorf("backend got %d bytes sha256 %s, want %d bytes sha256 %s", got.BodyLen, got.BodySHA256, tc.wantLen, want)
			}
		})
	}
	t.Run("download", func(t *testing.T) {
		resp, err := client.Do(g.request(t, http.MethodGet, base+"/bytes?n="+strconv.Itoa(bigBody), nil))
		if err != nil {
			t.Fatalf("GET bytes: %v", err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil {
			t.Fatalf("reading GET bytes after %d bytes: %v", n, err)
		}
		if resp.StatusCode != http.StatusOK || n != bigBody {
			t.Fatalf("GET bytes = %d with %d bytes, want 200 with %d", resp.StatusCode, n, bigBody)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("downloaded sha256 %s, want %s", got, want)
		}
		if resp.ContentLength != bigBody {
			t.Errorf("Content-Length %d, want %d (passed through)", resp.ContentLength, bigBody)
		}
	})

	// Streaming, not buffering: 20 MiB each way leave the gateway's peak
	// resident memory almost where it was.
	if peakAfter, ok := peakRSS(g.cmd.Process.Pid); havePeak && ok {
		t.Logf("gateway peak RSS %d KiB before, %d KiB after", peakBefore, peakAfter)
		if grew := peakAfter - peakBefore; grew > 10<<10 {
			t.Errorf("gateway peak RSS grew by %d KiB moving 20 MiB bodies, want under 10 MiB (bodies buffered whole?)", grew)
		}
	}
}

// peakRSS returns a process's peak resident set size (VmHWM) in KiB.
func peakRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// TestWebSocketUpgrade: an Upgrade: websocket request switches protocols
// through the gateway, and raw bytes then flow both ways.
func TestWebSocketUpgrade(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "ws", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	g.waitBackend(t, "/api/"+label+"/x", c.name, 5*time.Second)

	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "x3JJHMbDL1EzLkh9GBhXDw=="
	_, err = io.WriteString(conn, "GET /api/"+label+"/ws HTTP/1.1\r\n"+
		"Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	wantAccept := base64.StdEncoding.EncodeToString(sum[:])
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		t.Fatalf("upgrade answered %d %q, want 101", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wantAccept {
		t.Errorf("Sec-WebSocket-Accept %q, want %q", got, wantAccept)
	}
	if got := resp.Header.Get("Upgrade"); got != "websocket" {
		t.Errorf("Upgrade %q, want websocket", got)
	}

	for _, msg := range []string{"hello rgate", "second message", string(make([]byte, 64<<10))} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatalf("writing %d bytes: %v", len(msg), err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("reading the %d-byte echo: %v", len(msg), err)
		}
		if string(got) != msg {
			t.Errorf("echo of %d bytes differs", len(msg))
		}
	}
	// Half-closing our side ends the backend's echo loop, which closes.
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after half-close: %d more bytes, err %v; want a clean EOF", len(rest), err)
	}
}
