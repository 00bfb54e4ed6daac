package h1server

import (
	"bytes"

	"github.com/rgate/rgate/internal/h1syntax"
)

// An HTTP/1.0 request with a Transfer-Encoding field is refused wherever
// its head is read (see the package doc): by the fast path in the heads it
// reads (conn.declined), by handoffConn and fallbackGuard in those
// net/http reads. headWatch finds such heads in the bytes.

// Line shapes the watcher looks for.
const (
	http10LineEnd = " HTTP/1.0"          // how a request line net/http parses as HTTP/1.0 ends
	teFieldStart  = "transfer-encoding:" // how a Transfer-Encoding field line starts (any case)
)

// headWatch states.
const (
	wantRequestLine = iota // the next line is a request line
	inHead                 // in a head, after its request line
	seeking                // past a head: in bodies, or in heads of no interest
)

// headWatch follows a request stream line by line as net/http's textproto
// reader splits a head: a line ends at LF (a CR before it is dropped), a
// line starting with SP or HT continues the field before it, and the
// first empty line after the request line ends the head. It notes where
// the first head ends and where the last HTTP/1.0 head with a
// Transfer-Encoding field (a line starting "Transfer-Encoding:", in any
// case) ends.
//
// The stream starts at a request line. Past the first head come bodies,
// which the watcher cannot frame: from there every line ending in
// " HTTP/1.0" opens a head (request lines net/http reads as HTTP/1.0 end
// so). A body's line may so open a head that is none, which errs only
// toward suspicion; a real HTTP/1.0 head is never missed: if it starts
// while such a false head is open, that one runs on through the real
// head's lines, seeing its fields, and ends with it (at the first empty
// line after them).
type headWatch struct {
	off     int64 // bytes fed
	state   uint8
	http10  bool // the open head's request line is HTTP/1.0
	te      bool // the open head has had a Transfer-Encoding field
	lineLen int  // bytes of the current line so far
	start   [len(teFieldStart)]byte
	end     [len(http10LineEnd) + 1]byte // the line's last bytes, right-aligned (with room for a CR)

	firstHTTP10 bool  // the first request line (once complete) is HTTP/1.0
	firstEnd    int64 // offset just past the first head; 0 before it ends
	teEnd       int64 // offset just past the last HTTP/1.0 head with a Transfer-Encoding field; 0 if none
}

// feed follows p, the stream's next bytes, up to just past the end of an
// HTTP/1.0 head if one ends in p (so that a reader handed p up to there
// has read no further than that head when its request is served). It
// returns how many bytes it took.
func (w *headWatch) feed(p []byte) int {
	n := 0
	for n < len(p) {
		i := bytes.IndexByte(p[n:], '\n')
		if i < 0 {
			w.take(p[n:])
			w.off += int64(len(p) - n)
			return len(p)
		}
		w.take(p[n : n+i])
		n += i + 1
		w.off += int64(i + 1)
		if w.endLine() {
			break
		}
	}
	return n
}

// take adds seg (no LF) to the current line.
func (w *headWatch) take(seg []byte) {
	if w.lineLen < len(w.start) {
		copy(w.start[w.lineLen:], seg)
	}
	if len(seg) >= len(w.end) {
		copy(w.end[:], seg[len(seg)-len(w.end):])
	} else {
		copy(w.end[:], w.end[len(seg):])
		copy(w.end[len(w.end)-len(seg):], seg)
	}
	w.lineLen += len(seg)
}

// endLine classifies the line just ended (at offset w.off). It reports
// whether it ended an HTTP/1.0 head.
func (w *headWatch) endLine() bool {
	n := w.lineLen
	cr := n > 0 && w.end[len(w.end)-1] == '\r'
	if cr {
		n-- // the line as net/http reads it
	}
	w.lineLen = 0
	if w.state == inHead {
		switch {
		case n == 0:
			if w.firstEnd == 0 {
				w.firstEnd = w.off
			}
			if w.http10 && w.te {
				w.teEnd = w.off
			}
			w.state = seeking
			return w.http10
		case w.start[0] == ' ' || w.start[0] == '\t':
			// Continues the field before it (first, net/http rejects it).
		case n >= len(teFieldStart) && h1syntax.EqualFoldBytes(w.start[:], teFieldStart):
			w.te = true
		}
		return false
	}
	http10 := false
	if n >= len(http10LineEnd) {
		e := w.end[1:]
		if cr {
			e = w.end[:len(w.end)-1]
		}
		http10 = string(e) == http10LineEnd
	}
	if w.state == wantRequestLine {
		w.firstHTTP10 = http10
	} else if !http10 {
		return false
	}
	w.state, w.http10, w.te = inHead, http10, false
	return false
}

// firstHeadTE reports whether the first head has ended and is an HTTP/1.0
// head with a Transfer-Encoding field.
func (w *headWatch) firstHeadTE() bool {
	return w.firstEnd > 0 && w.teEnd == w.firstEnd
}
