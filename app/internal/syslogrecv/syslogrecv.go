// Package syslogrecv is a small syslog receiver for tests, the demo and
// benchmarks. It listens on TCP (optionally TLS), accepts both framings a
// QRadar target accepts — one message per LF-terminated line and RFC 6587
// octet counting ("LEN SP MSG"), chosen per frame — and keeps every message
// parsed into its RFC 5424 header, LEEF header and attributes. It can be
// stopped and started again on the same port, to play an unreachable QRadar.
package syslogrecv

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxMessageSize bounds one frame when Options.MaxMessageSize is 0.
const DefaultMaxMessageSize = 1 << 20

// Options configure a Receiver. The zero value is plain TCP, keeping and
// parsing every message.
type Options struct {
	// TLS, when set, makes the receiver a TLS server.
	TLS *tls.Config
	// Discard counts messages and bytes without keeping or parsing them
	// (for benchmarks, where a million parsed messages would be measured
	// instead of the sender).
	Discard bool
	// MaxMessageSize bounds one frame; a longer frame is a framing error
	// and closes the connection.
	MaxMessageSize int
}

// Receiver is a running syslog listener. It is safe for concurrent use.
type Receiver struct {
	opts Options
	addr string // fixed after the first listen, so a restart reuses the port

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	messages []Message
	errs     []error
	changed  chan struct{} // closed and replaced whenever messages or errs grow
	wg       sync.WaitGroup

	count atomic.Int64
	bytes atomic.Int64
}

// Listen starts a receiver on addr (for example "127.0.0.1:0").
func Listen(addr string, opts Options) (*Receiver, error) {
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	r := &Receiver{opts: opts, addr: addr, conns: map[net.Conn]struct{}{}, changed: make(chan struct{})}
	if err := r.Start(); err != nil {
		return nil, err
	}
	return r, nil
}

// Start listens again on the receiver's address after Stop. It is a no-op
// when the receiver is listening.
func (r *Receiver) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", r.addr, err)
	}
	// Keep the port the system chose, so Stop and Start play a target that
	// goes away and comes back at the same address.
	r.addr = ln.Addr().String()
	if r.opts.TLS != nil {
		ln = tls.NewListener(ln, r.opts.TLS)
	}
	r.ln = ln
	r.wg.Add(1)
	go r.accept(ln)
	return nil
}

// stopGrace is how long Stop keeps reading open connections: what a
// sender's TCP stack already handed over (and saw acknowledged) is read,
// as a target that goes down in an orderly way would.
const stopGrace = 100 * time.Millisecond

// Stop closes the listener and, after reading what the open connections
// already delivered, closes them, so senders see a refused or broken
// connection. Received messages are kept.
func (r *Receiver) Stop() error {
	r.mu.Lock()
	ln := r.ln
	r.ln = nil
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for c := range r.conns {
		c.SetReadDeadline(time.Now().Add(stopGrace))
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

// Close stops the receiver. It is safe to call more than once.
func (r *Receiver) Close() error { return r.Stop() }

// Addr returns the host:port the receiver listens on.
func (r *Receiver) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Target returns the receiver as a syslog target URL: "tcp://host:port", or
// "tls://host:port" with TLS.
func (r *Receiver) Target() string {
	if r.opts.TLS != nil {
		return "tls://" + r.Addr()
	}
	return "tcp://" + r.Addr()
}

// Messages returns a copy of the messages received so far, in arrival order
// per connection.
func (r *Receiver) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.messages...)
}

// Count returns how many messages were received (also with Discard).
func (r *Receiver) Count() int64 { return r.count.Load() }

// Bytes returns how many message bytes were received, framing excluded.
func (r *Receiver) Bytes() int64 { return r.bytes.Load() }

// Errors returns the framing and parse errors seen so far. A message that
// does not parse is still kept in Messages with the fields parsed up to the
// problem.
func (r *Receiver) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// Reset forgets the messages, counters and errors received so far.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages, r.errs = nil, nil
	r.count.Store(0)
	r.bytes.Store(0)
}

// WaitFor blocks until at least n messages were received or ctx ends, and
// returns the messages received.
func (r *Receiver) WaitFor(ctx context.Context, n int) ([]Message, error) {
	for {
		r.mu.Lock()
		if int(r.count.Load()) >= n {
			out := append([]Message(nil), r.messages...)
			r.mu.Unlock()
			return out, nil
		}
		changed := r.changed
		r.mu.Unlock()
		var poll <-chan time.Time
		if r.opts.Discard {
			// Discarded messages do not signal (too costly per message).
			poll = time.After(10 * time.Millisecond)
		}
		select {
		case <-changed:
		case <-poll:
		case <-ctx.Done():
			return r.Messages(), fmt.Errorf("waiting for %d messages, got %d: %w", n, r.Count(), ctx.Err())
		}
	}
}

// WaitIdle blocks until no connection is open or ctx ends. A sender that
// closed its connection after its last flush has then been read to the end.
func (r *Receiver) WaitIdle(ctx context.Context) error {
	for {
		r.mu.Lock()
		open := len(r.conns)
		changed := r.changed
		r.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d connections to close: %w", open, ctx.Err())
		}
	}
}

func (r *Receiver) accept(ln net.Listener) {
	defer r.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Stop
		}
		r.mu.Lock()
		if r.ln != ln {
			r.mu.Unlock()
			c.Close()
			return
		}
		r.conns[c] = struct{}{}
		r.wg.Add(1)
		r.mu.Unlock()
		go r.serve(c)
	}
}

func (r *Receiver) serve(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.signalLocked()
		r.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	for {
		frame, err := readFrame(br, r.opts.MaxMessageSize, &buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				r.addError(err)
			}
			return
		}
		r.add(frame)
	}
}

// readFrame reads one frame. RFC 6587 lets a receiver tell the framings
// apart by the first byte: a digit starts an octet count, anything else (a
// syslog message starts with '<') is a line ended by LF.
func readFrame(br *bufio.Reader, max int, buf *[]byte) ([]byte, error) {
	first, err := br.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] >= '0' && first[0] <= '9' {
		digits, err := br.ReadSlice(' ')
		if err != nil {
			if errors.Is(err, io.EOF) && len(digits) > 0 {
				return nil, errors.New("connection closed inside an octet count")
			}
			return nil, err
		}
		n, err := strconv.Atoi(string(digits[:len(digits)-1]))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("malformed octet count %q", digits)
		}
		if n > max {
			return nil, fmt.Errorf("frame of %d bytes exceeds the %d byte limit", n, max)
		}
		if cap(*buf) < n {
			*buf = make([]byte, n)
		}
		*buf = (*buf)[:n]
		if _, err := io.ReadFull(br, *buf); err != nil {
			return nil, fmt.Errorf("connection closed inside a %d byte frame: %w", n, err)
		}
		return *buf, nil
	}
	*buf = (*buf)[:0]
	for {
		line, err := br.ReadSlice('\n')
		*buf = append(*buf, line...)
		if len(*buf) > max+1 {
			return nil, fmt.Errorf("line exceeds the %d byte limit", max)
		}
		switch {
		case err == nil:
			frame := (*buf)[:len(*buf)-1]
			if n := len(frame); n > 0 && frame[n-1] == '\r' {
				frame = frame[:n-1]
			}
			return frame, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(*buf) > 0:
			// A sender that died mid-message leaves a partial line: it
			// is not a message.
			return nil, fmt.Errorf("connection closed inside a line (%d bytes without LF)", len(*buf))
		default:
			return nil, err
		}
	}
}

func (r *Receiver) add(frame []byte) {
	if r.opts.Discard {
		r.bytes.Add(int64(len(frame)))
		r.count.Add(1)
		return
	}
	m, err := Parse(string(frame))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, m)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("message %d: %w", len(r.messages), err))
	}
	r.bytes.Add(int64(len(frame)))
	r.count.Add(1)
	r.signalLocked()
}

func (r *Receiver) addError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
	r.signalLocked()
}

// signalLocked wakes the waiters; the caller holds r.mu.
func (r *Receiver) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}
