package h1server

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var parseSeeds = []string{
	"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	"GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: x\r\naccept: */*\r\n\r\n",
	"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
	"HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\n\r\n",
	"GET /x HTTP/1.1\nHost: h\n\n",
	"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x HTTP/1.0\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
	"GET /x%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: h\r\nX-V: \t v \t\r\nX-E:\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x? HTTP/1.1\r\nHost: [::1]:80\r\nX-Latin: caf\xe9\r\n\r\n",
}

func TestParseHeadAccepts(t *testing.T) {
	head := "GET /p/a%20th?q=1 HTTP/1.1\r\nHost: example.com\r\nuser-agent: ua\r\nX-Dup: 1\r\nX-DUP: 2\r\nConnection: close\r\nPragma: no-cache\r\nContent-Length: 007\r\n\r\n"
	r, n, ok := parseHead([]byte(head+"bodybodyX"), 4096)
	if !ok {
		t.Fatal("declined")
	}
	if n != len(head) {
		t.Errorf("head length %d, want %d", n, len(head))
	}
	want := http.Header{
		"User-Agent":     {"ua"},
		"X-Dup":          {"1", "2"},
		"Connection":     {"close"},
		"Pragma":         {"no-cache"},
		"Cache-Control":  {"no-cache"},
		"Content-Length": {"007"},
	}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("header %v, want %v", r.Header, want)
	}
	if r.Method != "GET" || r.RequestURI != "/p/a%20th?q=1" || r.URL.Path != "/p/a th" || r.URL.RawQuery != "q=1" ||
		r.Host != "example.com" || r.ContentLength != 7 || !r.Close || r.Proto != "HTTP/1.1" {
		t.Errorf("unexpected request %+v", r)
	}
}

func TestParseHeadDeclines(t *testing.T) {
	for _, head := range []string{
		"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
		"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("x", 5000) + "\r\n\r\n",
	} {
		if _, _, ok := parseHead([]byte(head), 4096); ok {
			t.Errorf("accepted %q", head)
		}
	}
	// A head over maxHead is declined even if complete.
	if _, _, ok := parseHead([]byte(parseSeeds[0]), 20); ok {
		t.Error("accepted a head larger than maxHead")
	}
}

var (
	tokenRE     = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	hostRE      = regexp.MustCompile(`^[0-9A-Za-z!$%&()*+,\-.:;=\[\]'_~]*$`)
	badValueRE  = regexp.MustCompile("[\x00-\x08\x0a-\x1f\x7f]")
	canonicalRE = regexp.MustCompile(`^([^a-z-][^A-Z-]*)?(-[^a-z-][^A-Z-]*|-)*$`)
)

// FuzzParseHead checks that whenever the fast parser accepts a head,
// net/http's http.ReadRequest parses the same bytes into the same request,
// and the request passes the checks net/http's server adds.
func FuzzParseHead(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, n, ok := parseHead(data, 4096)
		if !ok {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), len(data)+16)
		want, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("fast path accepted %q; http.ReadRequest: %v", data, err)
		}
		if consumed := len(data) - br.Buffered(); consumed != n {
			t.Fatalf("head length %d, net/http consumed %d, input %q", n, consumed, data)
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.URL.String() != want.URL.String() ||
			!reflect.DeepEqual(got.URL, want.URL) || got.Host != want.Host || got.ContentLength != want.ContentLength ||
			got.Close != want.Close || got.Proto != want.Proto || got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor {
			t.Fatalf("input %q\nfast:     %s %q url=%#v host=%q cl=%d close=%v %s\nnet/http: %s %q url=%#v host=%q cl=%d close=%v %s",
				data, got.Method, got.RequestURI, got.URL, got.Host, got.ContentLength, got.Close, got.Proto,
				want.Method, want.RequestURI, want.URL, want.Host, want.ContentLength, want.Close, want.Proto)
		}
		if !reflect.DeepEqual(got.Header, want.Header) {
			t.Fatalf("input %q\nfast header:     %q\nnet/http header: %q", data, got.Header, want.Header)
		}
		if len(want.TransferEncoding) != 0 {
			t.Fatalf("accepted a Transfer-Encoding request %q", data)
		}
		// The checks net/http's server applies after ReadRequest.
		if !hostRE.MatchString(want.Host) {
			t.Fatalf("accepted invalid Host %q", want.Host)
		}
		for k, vv := range want.Header {
			if !tokenRE.MatchString(k) || !canonicalRE.MatchString(k) {
				t.Fatalf("accepted header name %q", k)
			}
			for _, v := range vv {
				if badValueRE.MatchString(v) {
					t.Fatalf("accepted header value %q", v)
				}
			}
			switch k {
			case "Expect", "Upgrade", "Transfer-Encoding", "Host":
				t.Fatalf("accepted header %q", k)
			}
		}
	})
}

// FuzzParseParts is FuzzParseHead with the request's frame fixed, so that
// mutations land in the target and header fields rather than break the
// request line.
func FuzzParseParts(f *testing.F) {
	f.Add("/a/b?c=d", "X-A", "v")
	f.Add("/%41%2f?q=%zz", "content-length", "12")
	f.Add("/x?", "Connection", "keep-alive, close")
	f.Add("/!$&'()*+,;=:@~", "Pragma", "no-cache")
	f.Fuzz(func(t *testing.T, target, name, value string) {
		head := "GET " + target + " HTTP/1.1\r\nHost: h\r\n" + name + ": " + value + "\r\n\r\n"
		data := []byte(head)
		got, n, ok := parseHead(data, 4096)
		if !ok {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), len(data)+16)
		want, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("fast path accepted %q; http.ReadRequest: %v", data, err)
		}
		if consumed := len(data) - br.Buffered(); consumed != n {
			t.Fatalf("head length %d, net/http consumed %d, input %q", n, consumed, data)
		}
		if !reflect.DeepEqual(got.URL, want.URL) || got.RequestURI != want.RequestURI || got.Host != want.Host ||
			got.ContentLength != want.ContentLength || got.Close != want.Close || !reflect.DeepEqual(got.Header, want.Header) {
			t.Fatalf("input %q\nfast:     %#v %q %d %v %q\nnet/http: %#v %q %d %v %q", data,
				got.URL, got.Host, got.ContentLength, got.Close, got.Header,
				want.URL, want.Host, want.ContentLength, want.Close, want.Header)
		}
	})
}
