package h1server

import (
	"io"
	"net/http"
	"sync"
)

// body is a request body of known length read from the connection's
// buffered reader. It mirrors net/http's *body for a Content-Length request
// on a server connection (doEarlyClose set).
type body struct {
	c *conn

	mu         sync.Mutex // guards the fields below and calls to Read and Close
	remain     int64      // bytes not yet read
	closing    bool       // the connection closes after this request
	sawEOF     bool
	closed     bool
	earlyClose bool // Close gave up draining: the connection can't be reused
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readLocked(p)
}

func (b *body) readLocked(p []byte) (n int, err error) {
	if b.sawEOF {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err = b.c.br.Read(p)
	b.remain -= int64(n)
	if err == io.EOF {
		b.sawEOF = true
		if b.remain > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil && n > 0 && b.remain == 0 {
		err = io.EOF
		b.sawEOF = true
	}
	if b.sawEOF {
		// The body is done: the disconnect watcher may read the conn.
		b.c.armWatch()
	}
	return n, err
}

// Close drains up to maxPostHandlerReadBytes of unread body so that the
// connection can be reused, like net/http's body.Close on the server.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	var err error
	switch {
	case b.sawEOF:
	case b.closing:
		// Closing the connection next: no point in reading to EOF.
	case b.remain > maxPostHandlerReadBytes:
		b.earlyClose = true
	default:
		var n int64
		n, err = io.CopyN(io.Discard, bodyLocked{b}, maxPostHandlerReadBytes)
		if err == io.EOF {
			err = nil
		}
		if n == maxPostHandlerReadBytes {
			b.earlyClose = true
		}
	}
	b.closed = true
	return err
}

func (b *body) didEarlyClose() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.earlyClose
}

// bodyLocked reads from a body whose mutex is held.
type bodyLocked struct{ b *body }

func (bl bodyLocked) Read(p []byte) (int, error) {
	if bl.b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return bl.b.readLocked(p)
}
