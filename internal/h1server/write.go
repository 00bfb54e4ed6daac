package h1server

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// bufferBeforeChunkingSize is net/http's: a handler that finishes before
// writing this many bytes (and set no Content-Length) gets one computed.
const bufferBeforeChunkingSize = 2048

// sniffLen is how many bytes http.DetectContentType considers.
const sniffLen = 512

var chunkBufPool sync.Pool

// Write implements http.ResponseWriter.
func (w *response) Write(data []byte) (int, error) {
	return w.write(len(data), data, "")
}

// WriteString implements io.StringWriter.
func (w *response) WriteString(data string) (int, error) {
	return w.write(len(data), nil, data)
}

func (w *response) write(lenData int, dataB []byte, dataS string) (n int, err error) {
	if w.c == nil {
		return 0, errWriterDone
	}
	if !w.wroteHeader {
		w.writeHeader(http.StatusOK, dataB)
	}
	if lenData == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(lenData) // ignoring errors, as net/http does
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	bw := w.chunkBuf()
	if dataB != nil {
		return bw.Write(dataB)
	}
	return bw.WriteString(dataS)
}

func (w *response) chunkBuf() *bufio.Writer {
	if w.cbuf == nil {
		if v := chunkBufPool.Get(); v != nil {
			w.cbuf = v.(*bufio.Writer)
			w.cbuf.Reset(&w.cw)
		} else {
			w.cbuf = bufio.NewWriterSize(&w.cw, bufferBeforeChunkingSize)
		}
	}
	return w.cbuf
}

// Flush implements http.Flusher.
func (w *response) Flush() { w.FlushError() }

// FlushError flushes buffered data to the client (http.ResponseController).
func (w *response) FlushError() error {
	if w.c == nil {
		return errWriterDone
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.passedOn = true
	var err error
	if w.cbuf != nil {
		err = w.cbuf.Flush()
	}
	if !w.hdrWritten {
		w.commitHeader(nil)
	}
	if e2 := w.c.bw.Flush(); err == nil {
		err = e2
	}
	return err
}

var copyBufPool = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// writerOnly hides an io.Writer's ReadFrom method from io.Copy.
type writerOnly struct{ io.Writer }

// ReadFrom is net/http's response.ReadFrom: io.Copy to the ResponseWriter
// sniffs the first 512 bytes, then commits and flushes the header and, for
// an unchunked body on a connection that supports it, lets the connection
// copy the rest (sendfile, splice).
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	if w.c == nil {
		return 0, errWriterDone
	}
	bufp := copyBufPool.Get().(*[32 << 10]byte)
	defer copyBufPool.Put(bufp)
	buf := bufp[:]

	rf, ok := w.c.rwc.(io.ReaderFrom)
	if !ok {
		return io.CopyBuffer(writerOnly{w}, src, buf)
	}

	// Copy the first sniffLen bytes before switching to ReadFrom, so the
	// response does not start before the source is available and the
	// Content-Type can be sniffed.
	if !w.hdrWritten {
		n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), buf)
		n += n0
		if err != nil || n0 < sniffLen {
			return n, err
		}
	}

	w.passedOn = true
	if w.cbuf != nil {
		w.cbuf.Flush() // get rid of any previous writes
	}
	if !w.hdrWritten {
		w.commitHeader(nil)
	}
	w.c.bw.Flush()

	if !w.chunking && bodyAllowedForStatus(w.status) && w.req.Method != "HEAD" {
		n0, err := rf.ReadFrom(src)
		n += n0
		w.written += n0
		return n, err
	}

	n0, err := io.CopyBuffer(writerOnly{w}, src, buf)
	n += n0
	return n, err
}

// chunkWriter is net/http's: it finalizes the header on the first write
// and adds chunk framing when chunking.
type chunkWriter struct{ w *response }

func (cw *chunkWriter) Write(p []byte) (n int, err error) {
	w := cw.w
	w.passedOn = true
	if !w.hdrWritten {
		w.commitHeader(p)
	}
	if w.req.Method == "HEAD" {
		return len(p), nil // eat writes
	}
	bw := w.c.bw
	if w.chunking {
		h := strconv.AppendUint(w.scratch[:0], uint64(len(p)), 16)
		h = append(h, '\r', '\n')
		if _, err = bw.Write(h); err != nil {
			w.c.rwc.Close()
			return 0, err
		}
	}
	n, err = bw.Write(p)
	if w.chunking && err == nil {
		_, err = bw.Write(crlf)
	}
	if err != nil {
		w.c.rwc.Close()
	}
	return n, err
}
