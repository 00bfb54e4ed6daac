package h1server

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
)

// TestWriteHeaderMatchesNetHTTP: writeHeader writes what Header.WriteSubset
// writes, for headers of 0 to 30 fields (both sort branches), with invalid
// names, CR and LF in values, padded values, repeated values and excluded
// keys.
func TestWriteHeaderMatchesNetHTTP(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"Content-Type", "X-A", "X-B", "Ratelimit-Limit", "Date", "Bad Name", "", "Ä-Key",
		"Set-Cookie", "x-lower", "X-Response-Time", "Cache-Control", "A", "Z"}
	values := []string{"v", " padded\t", "multi\r\nline", "lf\nonly", "", "ÿ obs-text", "a,b"}
	for i := range 500 {
		h := http.Header{}
		n := r.IntN(31)
		for j := range n {
			k := names[r.IntN(len(names))]
			if r.IntN(2) == 0 {
				k = fmt.Sprintf("X-Field-%02d", j)
			}
			for range 1 + r.IntN(2) {
				h[k] = append(h[k], values[r.IntN(len(values))])
			}
		}
		var exclude map[string]bool
		if r.IntN(2) == 0 {
			exclude = map[string]bool{"Date": true, "X-Field-03": true}
		}
		var got, want bytes.Buffer
		bw := bufio.NewWriter(&got)
		writeHeader(bw, h, exclude)
		bw.Flush()
		h.WriteSubset(&want, exclude)
		if got.String() != want.String() {
			t.Fatalf("case %d, header %q, exclude %v:\nwriteHeader %q\nWriteSubset %q", i, h, exclude, got.String(), want.String())
		}
	}
}
