package mimecast

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadAhead_ReturnsTheSameBytesAndTheSourceError(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef\n"), 50_000) // several chunks
	boom := errors.New("boom")
	src := io.MultiReader(iotest.HalfReader(bytes.NewReader(data)), iotest.ErrReader(boom))
	ra := newReadAhead(src)
	defer ra.close()
	got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, 1<<30)))
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the source's", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want %d identical bytes", len(got), len(data))
	}
}

// blockingReader blocks in Read until closed, like a network body.
type blockingReader struct{ closed chan struct{} }

func (b *blockingReader) Read([]byte) (int, error) { <-b.closed; return 0, io.ErrUnexpectedEOF }
func (b *blockingReader) Close() error             { close(b.closed); return nil }

func TestReadAhead_CloseAfterAbandonReturnsOnceTheSourceIsUnblocked(t *testing.T) {
	body := &blockingReader{closed: make(chan struct{})}
	ra := newReadAhead(io.MultiReader(bytes.NewReader(make([]byte, 3*readAheadChunk)), body))
	if _, err := io.ReadFull(ra, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	body.Close()
	ra.close() // must not hang
}
