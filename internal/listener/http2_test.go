package listener

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/rgate/rgate/internal/config"
)

// TestHTTP2Settings: the server announces 250 concurrent streams and
// 16 KiB frames, and a HEADERS frame over 16 KiB is a connection error
// FRAME_SIZE_ERROR (RFC 9113 4.2), not a request. Checked over h2c on the
// plain port, which shares the TLS port's HTTP/2 settings.
func TestHTTP2Settings(t *testing.T) {
	t.Parallel()
	servers, err := Listen(Options{
		Bind:    "127.0.0.1",
		Traffic: ok,
		Server:  config.Server{H2C: true},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := servers[0]
	go s.Serve()
	t.Cleanup(func() { s.Close() })

	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(nc, nc)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, isSettings := f.(*http2.SettingsFrame)
	if !isSettings {
		t.Fatalf("first frame %v, want SETTINGS", f.Header())
	}
	want := map[http2.SettingID]uint32{http2.SettingMaxConcurrentStreams: 250, http2.SettingMaxFrameSize: maxFrameSize}
	for id, v := range want {
		if got, _ := sf.Value(id); got != v {
			t.Errorf("%v = %d, want %d", id, got, v)
		}
	}

	// One header block of 20 KiB in one frame: over the announced size
	// ('~' has a 13-bit Huffman code, so the value is sent as it is).
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, hf := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "x"}, {Name: ":path", Value: "/"}, {Name: "x-pad", Value: string(bytes.Repeat([]byte("~"), 20<<10))}} {
		_ = enc.WriteField(hf)
	}
	fr.SetMaxReadFrameSize(1 << 20)
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended (%v) without GOAWAY FRAME_SIZE_ERROR", err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeFrameSize {
				t.Fatalf("GOAWAY %v, want FRAME_SIZE_ERROR", f.ErrCode)
			}
			return
		case *http2.HeadersFrame, *http2.DataFrame:
			t.Fatalf("the oversized HEADERS frame was answered (%v)", f.Header())
		}
	}
}
