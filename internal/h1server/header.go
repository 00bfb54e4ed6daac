package h1server

import (
	"bufio"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/rgate/rgate/internal/h1syntax"
)

var crlf = []byte("\r\n")

// writeStatusLine is net/http's, for HTTP/1.1.
func writeStatusLine(bw *bufio.Writer, code int, scratch []byte) {
	bw.WriteString("HTTP/1.1 ")
	if text := http.StatusText(code); text != "" {
		bw.Write(strconv.AppendInt(scratch, int64(code), 10))
		bw.WriteByte(' ')
		bw.WriteString(text)
		bw.WriteString("\r\n")
	} else {
		fmt.Fprintf(bw, "%03d status code %d\r\n", code, code)
	}
}

// extraHeader holds the header fields the server adds (net/http's
// extraHeader, written in the same order).
type extraHeader struct {
	contentType      string
	connection       string
	transferEncoding string
	date             []byte
	contentLength    []byte
}

// write writes the fields that are set, in net/http's order.
func (h *extraHeader) write(bw *bufio.Writer) {
	writeFieldBytes(bw, "Date: ", h.date)
	writeFieldBytes(bw, "Content-Length: ", h.contentLength)
	writeField(bw, "Content-Type: ", h.contentType)
	writeField(bw, "Connection: ", h.connection)
	writeField(bw, "Transfer-Encoding: ", h.transferEncoding)
}

// writeField writes the line name (with its ": ") v, unless v is empty.
func writeField(bw *bufio.Writer, name, v string) {
	if v != "" {
		bw.WriteString(name)
		bw.WriteString(v)
		bw.Write(crlf)
	}
}

// writeFieldBytes is writeField for a value in bytes, unless v is nil.
func writeFieldBytes(bw *bufio.Writer, name string, v []byte) {
	if v != nil {
		bw.WriteString(name)
		bw.Write(v)
		bw.Write(crlf)
	}
}

// headerKV is one header field for writeHeader.
type headerKV struct {
	key    string
	values []string
}

// newlineToSpace is net/http's headerNewlineToSpace.
var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// writeHeader writes h as net/http's Header.WriteSubset does: keys sorted,
// the excluded ones and invalid names left out, CR and LF in values turned
// into spaces, values trimmed. It does without WriteSubset's pooled sorter
// and generic sort, a fifth of a proxied request's user CPU once rate
// limit headers take a response past ten fields: the fields are sorted on
// the stack, by insertion up to 16.
func writeHeader(bw *bufio.Writer, h http.Header, exclude map[string]bool) {
	var arr [24]headerKV
	kvs := arr[:0]
	for k, vv := range h {
		if !exclude[k] {
			kvs = append(kvs, headerKV{k, vv})
		}
	}
	if len(kvs) <= 16 {
		for i := 1; i < len(kvs); i++ {
			for j := i; j > 0 && kvs[j].key < kvs[j-1].key; j-- {
				kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
			}
		}
	} else {
		slices.SortFunc(kvs, func(a, b headerKV) int { return strings.Compare(a.key, b.key) })
	}
	for _, kv := range kvs {
		if !h1syntax.ValidTokenString(kv.key) {
			continue // net/http drops invalid names too
		}
		for _, v := range kv.values {
			v = textproto.TrimString(newlineToSpace.Replace(v))
			bw.WriteString(kv.key)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}
