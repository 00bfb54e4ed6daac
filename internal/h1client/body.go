package h1client

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/rgate/rgate/internal/h1syntax"
)

// WriteBodyTo copies the current answer's body to w. When flush is set it
// is called after every write (for streamed answers). A Content-Length
// body goes from the connection's read buffer straight into w, and what
// is not yet buffered is read into buf (make it larger than the read
// buffer: the reads then bypass it); buf is also the scratch space for the
// other framings. It reports the bytes written and
// which side failed, if any: readErr for the upstream (including a body
// cut short), writeErr for w. A chunked body's trailers are in the
// Response's Trailer afterwards.
func (cn *Conn) WriteBodyTo(w io.Writer, flush func() error, buf []byte) (n int64, readErr, writeErr error) {
	br := cn.br
	switch {
	case cn.remain > 0:
		for cn.remain > 0 {
			var p []byte
			peeked := br.Buffered() > 0
			if peeked {
				// What the last read brought: straight from the buffer.
				p, _ = br.Peek(int(min(int64(br.Buffered()), cn.remain)))
			} else {
				// The buffer is empty: read into buf, which is larger than
				// the buffer, so that bufio reads from the connection
				// directly and a large body takes fewer system calls.
				m, err := br.Read(buf[:min(int64(len(buf)), cn.remain)])
				if m == 0 && err != nil {
					cn.broken = true
					return n, unexpected(err), nil
				}
				p = buf[:m]
			}
			m, err := w.Write(p)
			if peeked {
				_, _ = br.Discard(m)
			}
			n += int64(m)
			cn.remain -= int64(m)
			if err == nil && m < len(p) {
				err = io.ErrShortWrite
			}
			if err != nil {
				cn.broken = true
				return n, nil, err
			}
			if flush != nil {
				if err := flush(); err != nil {
					cn.broken = true
					return n, nil, err
				}
			}
		}
		return n, nil, nil
	case cn.chunked != nil, cn.remain < 0:
		var src io.Reader = br
		if cn.chunked != nil {
			src = cn.chunked
		}
		for {
			m, err := src.Read(buf)
			if m > 0 {
				wm, werr := w.Write(buf[:m])
				n += int64(wm)
				if werr == nil && flush != nil {
					werr = flush()
				}
				if werr != nil {
					cn.broken = true
					return n, nil, werr
				}
			}
			if err == io.EOF {
				if cn.chunked == nil { // the upstream closed: that was the end
					cn.remain = 0
					return n, nil, nil
				}
				cn.chunked = nil
				if err := cn.readTrailers(); err != nil {
					cn.broken = true
					return n, err, nil
				}
				return n, nil, nil
			}
			if err != nil {
				cn.broken = true
				return n, unexpected(err), nil
			}
		}
	}
	return 0, nil, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readTrailers reads the trailer section after a chunked body's last chunk
// into the Response's Trailer.
func (cn *Conn) readTrailers() error {
	b, err := cn.br.Peek(1)
	if err != nil {
		return unexpected(err)
	}
	if b[0] == '\r' {
		if b, err = cn.br.Peek(2); err != nil {
			return unexpected(err)
		}
		if b[1] == '\n' {
			_, _ = cn.br.Discard(2)
			return nil
		}
	}
	// A trailer section ends, like a head, at its blank line.
	s, err := readHead(cn)
	if err != nil {
		if errors.Is(err, ErrNothingRead) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	// Stricter than net/http: a trailer section is fields with CRLF line
	// ends, nothing else.
	if !h1syntax.IsTokenTable[s[0]] || strings.Count(s, "\n") != strings.Count(s, "\r\n") {
		return malformed("trailer section", s)
	}
	tr := make(http.Header, 2)
	if err := parseFields(tr, s, strings.Count(s, "\n")); err != nil {
		return err
	}
	if cn.res.Trailer == nil {
		cn.res.Trailer = tr
		return nil
	}
	for k, v := range tr {
		cn.res.Trailer[k] = v
	}
	return nil
}
