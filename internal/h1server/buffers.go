package h1server

import (
	"bufio"
	"io"
	"sync"
)

const readBufSize = 4 << 10

var (
	readerPool sync.Pool // of *bufio.Reader, readBufSize
	writerPool sync.Pool // of *bufio.Writer, 4 KiB
)

func getReader(r io.Reader) *bufio.Reader {
	if v := readerPool.Get(); v != nil {
		br := v.(*bufio.Reader)
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, readBufSize)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(w io.Writer) *bufio.Writer {
	if v := writerPool.Get(); v != nil {
		bw := v.(*bufio.Writer)
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 4<<10)
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}

// takeBuffers gets the connection's read and write buffers from their
// pools; dropBuffers gives them back while it idles.
func (c *conn) takeBuffers() {
	c.br = getReader(&c.cr)
	c.bw = getWriter(checkConnErrorWriter{c})
}

func (c *conn) dropBuffers() {
	putReader(c.br)
	putWriter(c.bw)
	c.br, c.bw = nil, nil
}
