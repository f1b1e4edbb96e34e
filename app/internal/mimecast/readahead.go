package mimecast

import (
	"io"
	"sync"
)

// Read-ahead: a file is decompressed by a goroutine while the caller's
// goroutine decodes, formats and sends the records before it, so the two
// use two cores. At most readAheadChunks chunks are ahead, which bounds the
// memory (and what a decompression bomb can make us hold) to 256 KiB.
const (
	readAheadChunk  = 64 << 10
	readAheadChunks = 4
)

var readAheadBufs = sync.Pool{New: func() any { b := make([]byte, readAheadChunk); return &b }}

type raChunk struct {
	b   []byte
	err error
}

// readAhead reads r in its own goroutine. Read is for one goroutine; close
// must be called once, after the source was unblocked (the response body
// closed) if the reader is abandoned before EOF.
type readAhead struct {
	full chan raChunk
	free chan []byte
	quit chan struct{}
	done chan struct{}
	cur  []byte // unread part of the chunk being read
	last []byte // that chunk, given back on the next Read
	err  error
}

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{full: make(chan raChunk, readAheadChunks), free: make(chan []byte, readAheadChunks),
		quit: make(chan struct{}), done: make(chan struct{})}
	for range readAheadChunks {
		ra.free <- *readAheadBufs.Get().(*[]byte)
	}
	go ra.run(r)
	return ra
}

func (ra *readAhead) run(r io.Reader) {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.quit:
			return
		}
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[n:])
			n += k
		}
		select {
		case ra.full <- raChunk{buf[:n], err}:
		case <-ra.quit:
			readAheadBufs.Put(&buf)
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.last != nil {
			ra.free <- ra.last[:cap(ra.last)]
			ra.last = nil
		}
		c := <-ra.full
		ra.cur, ra.err, ra.last = c.b, c.err, c.b
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// close stops the goroutine, waits for it and recycles the buffers.
func (ra *readAhead) close() {
	close(ra.quit)
	<-ra.done
	put := func(b []byte) { b = b[:cap(b)]; readAheadBufs.Put(&b) }
	if ra.last != nil {
		put(ra.last)
	}
	for {
		select {
		case b := <-ra.free:
			put(b)
		case c := <-ra.full:
			put(c.b)
		default:
			return
		}
	}
}
