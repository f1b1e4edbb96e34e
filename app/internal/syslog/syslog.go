// Package syslog sends syslog messages to QRadar (or a file) with the
// delivery report the collector's checkpoints depend on: Flush returns nil
// only if every message written since the last successful Flush reached the
// target without error (design §7).
//
// Targets are tcp://, tls://, udp:// and file:// URLs (see ParseTarget).
// Over TCP and TLS, messages are LF-terminated by default, or octet-counted
// (RFC 6587) with ?framing=octet. Messages longer than MaxMessageSize are cut
// (the start, with its header, is kept) and marked mcTruncated=true; the LEEF
// formatter should be given the same limit so that it can cut more
// gracefully first.
package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"
	"unicode/utf8"
)

// Options tune a Sender. The zero value is usable.
type Options struct {
	// MaxMessageSize is the longest message sent, in bytes; longer ones are
	// cut. 0 means the transport's default (DefaultUDPMaxSize for udp,
	// DefaultMaxSize otherwise). A target's ?maxlen= takes precedence.
	MaxMessageSize int
	// CABundle is a PEM file of CAs trusted for tls:// besides the system
	// roots; the app passes $REQUESTS_CA_BUNDLE.
	CABundle string
	// CertDir is a directory whose .pem, .crt and .cer files are trusted
	// for tls:// too; a missing directory is ignored.
	CertDir string
	// Timeout bounds each connection attempt (with the TLS handshake),
	// each write, and Flush's wait for the receiver to acknowledge the data.
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// ReconnectTimeout bounds the time Write and Flush spend retrying to
	// connect after the connection was lost (the last attempt may run
	// Timeout longer). 0 means DefaultReconnectTimeout.
	ReconnectTimeout time.Duration
	// Logger receives reconnection notices; nil discards them.
	Logger *slog.Logger
}

// Defaults. With them a refusing or unreachable target makes Write or Flush
// fail within 25 s at worst (15 s reconnecting, then one write and one
// acknowledgement wait), inside design §7's 30 s; a refusing one fails
// after about 10 s.
const (
	DefaultUDPMaxSize       = 1024
	DefaultMaxSize          = 64 << 10
	DefaultTimeout          = 5 * time.Second
	DefaultReconnectTimeout = 10 * time.Second

	// flushThreshold is how much is buffered before Write sends.
	flushThreshold = 64 << 10
	// truncationMarker is appended to a message the sender had to cut.
	truncationMarker = "\tmcTruncated=true"
	maxBackoff       = 5 * time.Second
	firstBackoff     = 100 * time.Millisecond
	// aliveReadWait is how long a liveness check waits for bytes the peer
	// sent (a TLS session ticket or close_notify) to be read.
	aliveReadWait = 20 * time.Millisecond
)

// ErrClosed is returned by a Sender used after Close.
var ErrClosed = errors.New("syslog sender is closed")

// Sender sends messages to one target. It is not safe for concurrent use:
// use one Sender per goroutine. Senders writing to the same file share one
// handle and never interleave partial messages.
type Sender struct {
	ctx    context.Context
	target Target
	opts   Options
	log    *slog.Logger
	max    int
	tls    *tls.Config

	conn net.Conn // nil while disconnected (network targets)
	raw  net.Conn // the TCP or UDP connection under conn
	file *sharedFile

	buf     []byte // framed messages not yet handed to the target
	trunc   []byte // scratch for cut messages
	pending int    // messages accepted since the last successful Flush
	// wrote is set once bytes accepted since the last successful Flush went
	// to the current connection: losing that connection then loses them.
	wrote  bool
	err    error // the failure since the last successful Flush, if any
	closed bool

	// A full buffer is handed to the target by a goroutine while the
	// caller fills the other buffer, so formatting and the write system
	// call (on loopback it also does the receiver's TCP work) use two
	// cores. At most one write is in flight; until its result is taken
	// from done, only that goroutine touches conn, raw, file and wrote.
	inflight []byte     // the buffer being written, nil when none
	spare    []byte     // the other buffer, empty, while none is in flight
	done     chan error // result of the write in flight
}

// Dial opens a sender for target. A network target is connected once, with
// no retry, so a refusing target is reported at once; ctx bounds that and
// every later reconnection.
func Dial(ctx context.Context, target string, opts Options) (*Sender, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ReconnectTimeout <= 0 {
		opts.ReconnectTimeout = DefaultReconnectTimeout
	}
	s := &Sender{ctx: ctx, target: t, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("syslog_target", t.String())
	switch {
	case t.MaxLen > 0:
		s.max = t.MaxLen
	case opts.MaxMessageSize > 0:
		s.max = opts.MaxMessageSize
	case t.Scheme == SchemeUDP:
		s.max = DefaultUDPMaxSize
	default:
		s.max = DefaultMaxSize
	}
	s.max = max(s.max, len(truncationMarker)+1)
	switch t.Scheme {
	case SchemeFile:
		if s.file, err = openShared(t.Path); err != nil {
			return nil, err
		}
		return s, nil
	case SchemeTLS:
		if s.tls, err = tlsConfig(t.Host, opts.CABundle, opts.CertDir, s.log); err != nil {
			return nil, err
		}
	}
	if err := s.dial(opts.Timeout); err != nil {
		return nil, fmt.Errorf("connecting to syslog target %s: %w", t, err)
	}
	return s, nil
}

// Target returns the sender's parsed target.
func (s *Sender) Target() Target { return s.target }

// MaxMessageSize returns the longest message the sender sends whole.
func (s *Sender) MaxMessageSize() int { return s.max }

// Write queues one message (without framing). It may send buffered
// messages, and reports a failure early: after an error, every message since
// the last successful Flush counts as not delivered, further writes fail
// until Flush reports the loss, and the next Write after that reconnects.
func (s *Sender) Write(msg []byte) error {
	if s.closed {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	if len(msg) > s.max {
		msg = s.truncate(msg)
	}
	if s.target.Scheme == SchemeUDP {
		if err := s.sendDatagram(msg); err != nil {
			s.fail(err)
			return s.err
		}
		s.pending++
		return nil
	}
	s.buf = s.frame(s.buf, msg)
	s.pending++
	if len(s.buf) >= flushThreshold {
		if err := s.wait(); err != nil {
			s.fail(err)
			return s.err
		}
		s.startWrite()
	}
	return nil
}

// startWrite hands the buffer to a goroutine that writes it, and goes on
// with the spare one. The caller has waited for the previous write.
func (s *Sender) startWrite() {
	if s.done == nil {
		s.done = make(chan error, 1)
	}
	out := s.buf
	s.buf, s.spare, s.inflight = s.spare[:0], nil, out
	go func() { s.done <- s.writeOut(out) }()
}

// wait takes the result of the write in flight, if any, and gets its
// buffer back as the spare.
func (s *Sender) wait() error {
	if s.inflight == nil {
		return nil
	}
	err := <-s.done
	s.spare, s.inflight = s.inflight[:0], nil
	return err
}

// Flush sends what is buffered and reports whether every message written
// since the last successful Flush reached the target without error. On TCP
// and TLS that means the receiving host acknowledged every byte and the
// connection is still open; on a file, that the data was written and synced.
// UDP reports only errors the socket saw. After an error the caller must
// treat those messages as not delivered and send them again.
func (s *Sender) Flush() error {
	if s.closed {
		return ErrClosed
	}
	if err := s.wait(); err != nil && s.err == nil {
		s.fail(err)
	}
	if s.err == nil {
		if err := s.flush(); err != nil {
			s.fail(err)
		}
	}
	n := s.pending
	s.pending, s.wrote = 0, false
	if s.err != nil {
		err := fmt.Errorf("%d messages since the last successful flush were not delivered: %w", n, s.err)
		s.err = nil
		return err
	}
	return nil
}

// Close flushes what is pending and closes the connection (or releases the
// file). It returns the flush's error, if any.
func (s *Sender) Close() error {
	if s.closed {
		return nil
	}
	var err error
	if s.pending > 0 || s.err != nil || s.inflight != nil {
		err = s.Flush()
	}
	s.closed = true
	s.dropConn()
	if s.file != nil {
		if cerr := s.file.release(); err == nil {
			err = cerr
		}
		s.file = nil
	}
	return err
}

func (s *Sender) flush() error {
	switch {
	case s.target.Scheme == SchemeUDP:
		return nil
	case s.file != nil:
		if len(s.buf) > 0 {
			err := s.writeOut(s.buf)
			s.buf = s.buf[:0]
			if err != nil {
				return err
			}
		}
		if s.pending == 0 {
			return nil
		}
		if err := s.file.sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", s.target.Path, err)
		}
		return nil
	}
	if len(s.buf) > 0 {
		err := s.writeOut(s.buf)
		s.buf = s.buf[:0]
		if err != nil {
			return err
		}
	}
	if !s.wrote {
		return nil
	}
	// A receiver that closed the connection may have dropped what it had
	// not read yet: report the loss rather than guess.
	closed := func() bool { return !s.alive() }
	if err := waitAcked(s.raw, time.Now().Add(s.opts.Timeout), closed); err != nil {
		return err
	}
	if closed() {
		return errReceiverClosed
	}
	return nil
}

var errReceiverClosed = errors.New("the receiver closed the connection")

// fail records the failure of the messages since the last successful Flush
// and drops the connection, so the next Write after Flush reconnects.
func (s *Sender) fail(err error) {
	s.err = fmt.Errorf("sending to syslog target %s: %w", s.target, err)
	s.buf = s.buf[:0]
	s.dropConn()
}

func (s *Sender) dropConn() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.raw = nil, nil
	}
}

// writeOut hands buf to the file or connection.
func (s *Sender) writeOut(buf []byte) error {
	if s.file != nil {
		if err := s.file.write(buf); err != nil {
			return fmt.Errorf("writing %s: %w", s.target.Path, err)
		}
		return nil
	}
	if s.conn != nil && !s.wrote && !s.alive() {
		// Nothing accepted since the last successful Flush went to this
		// dead connection yet, so a new one loses nothing.
		s.log.Info("syslog receiver closed the connection; reconnecting")
		s.dropConn()
	}
	if s.conn == nil {
		if err := s.reconnect(); err != nil {
			return err
		}
	}
	s.wrote = true
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.opts.Timeout)); err != nil {
		return err
	}
	_, err := s.conn.Write(buf)
	return err
}

func (s *Sender) sendDatagram(msg []byte) error {
	if s.conn == nil {
		if err := s.reconnect(); err != nil {
			return err
		}
	}
	_, err := s.conn.Write(msg)
	return err
}

// frame appends msg with the target's framing.
func (s *Sender) frame(dst, msg []byte) []byte {
	if s.target.Framing == FramingOctet {
		dst = strconv.AppendInt(dst, int64(len(msg)), 10)
		dst = append(dst, ' ')
		return append(dst, msg...)
	}
	start := len(dst)
	dst = append(dst, msg...)
	// An LF inside a message would split it in two for the receiver.
	for i := bytes.IndexByte(dst[start:], '\n'); i >= 0; i = bytes.IndexByte(dst[start:], '\n') {
		dst[start+i] = ' '
	}
	return append(dst, '\n')
}

// truncate cuts msg to the maximum size, keeping its start (the syslog and
// LEEF headers) and ending it with mcTruncated=true unless it says so
// already.
func (s *Sender) truncate(msg []byte) []byte {
	marker := truncationMarker
	if bytes.Contains(msg, []byte(truncationMarker[1:])) {
		marker = ""
	}
	n := s.max - len(marker)
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	s.trunc = append(append(s.trunc[:0], msg[:n]...), marker...)
	return s.trunc
}

// dial makes one connection attempt.
func (s *Sender) dial(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	network := "tcp"
	if s.target.Scheme == SchemeUDP {
		network = "udp"
	}
	d := net.Dialer{KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, network, s.target.Address())
	if err != nil {
		return err
	}
	conn := c
	if s.tls != nil {
		tc := tls.Client(c, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	s.conn, s.raw = conn, c
	return nil
}

// reconnect dials with capped, jittered exponential backoff, starting no
// attempt after ReconnectTimeout (each attempt may take Timeout), and
// honouring the context given to Dial.
func (s *Sender) reconnect() error {
	deadline := time.Now().Add(s.opts.ReconnectTimeout)
	delay := firstBackoff
	for attempt := 1; ; attempt++ {
		err := s.dial(s.opts.Timeout)
		if err == nil {
			if attempt > 1 {
				s.log.Info("reconnected to syslog target", "attempts", attempt)
			}
			return nil
		}
		if cerr := s.ctx.Err(); cerr != nil {
			return fmt.Errorf("reconnecting: %w", cerr)
		}
		wait := delay/2 + rand.N(delay/2+1)
		if time.Until(deadline) < wait {
			return fmt.Errorf("reconnecting: gave up after %d attempts: %w", attempt, err)
		}
		s.log.Warn("syslog target unreachable; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return fmt.Errorf("reconnecting: %w", s.ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, maxBackoff)
	}
}

// alive reports whether the connection is still open. Syslog receivers
// never send anything, so bytes from the peer can only be TLS records
// (session tickets, close_notify), which are read through the TLS layer.
func (s *Sender) alive() bool {
	switch peek(s.raw) {
	case peerOpen:
		return true
	case peerClosed:
		return false
	}
	var scratch [512]byte
	if err := s.conn.SetReadDeadline(time.Now().Add(aliveReadWait)); err != nil {
		return false
	}
	_, err := s.conn.Read(scratch[:])
	if s.conn.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	var ne net.Error
	return err == nil || errors.As(err, &ne) && ne.Timeout()
}
