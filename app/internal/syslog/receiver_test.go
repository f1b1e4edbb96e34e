package syslog

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a test syslog server on a real loopback listener: it accepts
// connections and splits what arrives into messages (LF or octet framing).
type receiver struct {
	t       *testing.T
	ln      net.Listener
	framing Framing

	mu      sync.Mutex
	msgs    []string
	conns   []net.Conn
	stopped bool
	changed chan struct{} // closed and replaced whenever msgs or conns change
	wg      sync.WaitGroup
}

// startReceiver listens on addr ("127.0.0.1:0" for a new port, or the
// address of a stopped receiver to restart it there).
func startReceiver(t *testing.T, addr string, framing Framing, conf *tls.Config) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	r := &receiver{t: t, ln: ln, framing: framing, changed: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) addr() string { return r.ln.Addr().String() }

func (r *receiver) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *receiver) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.stopped {
			// Accepted while stop ran: stop may already have closed the others.
			r.mu.Unlock()
			c.Close()
			return
		}
		r.conns = append(r.conns, c)
		r.signal()
		r.wg.Add(1)
		r.mu.Unlock()
		go r.read(c)
	}
}

func (r *receiver) read(c net.Conn) {
	defer r.wg.Done()
	br := bufio.NewReader(c)
	for {
		var msg string
		var err error
		if r.framing == FramingOctet {
			var n string
			if n, err = br.ReadString(' '); err == nil {
				var size int
				if size, err = strconv.Atoi(strings.TrimSuffix(n, " ")); err == nil {
					b := make([]byte, size)
					_, err = io.ReadFull(br, b)
					msg = string(b)
				}
			}
		} else {
			msg, err = br.ReadString('\n')
			msg = strings.TrimSuffix(msg, "\n")
		}
		if err != nil {
			// Clients that go away, and TLS handshakes the client refused
			// on purpose, are part of the tests.
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "tls: ") {
				r.t.Errorf("receiver: %v", err)
			}
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, msg)
		r.signal()
		r.mu.Unlock()
	}
}

// wait blocks until cond holds for the received messages and connections.
// The long limit only guards against a hung test.
func (r *receiver) wait(what string, cond func(msgs []string, conns int) bool) []string {
	r.t.Helper()
	limit := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		msgs, conns, changed := append([]string(nil), r.msgs...), len(r.conns), r.changed
		r.mu.Unlock()
		if cond(msgs, conns) {
			return msgs
		}
		select {
		case <-changed:
		case <-limit:
			r.t.Fatalf("receiver: gave up waiting for %s (have %d messages)", what, len(msgs))
		}
	}
}

// waitFor waits until n messages have arrived and returns them.
func (r *receiver) waitFor(n int) []string {
	r.t.Helper()
	return r.wait(strconv.Itoa(n)+" messages", func(msgs []string, _ int) bool { return len(msgs) >= n })
}

// closeConns closes the accepted connections, as a restarting receiver would.
func (r *receiver) closeConns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

// stop closes the listener and every connection and waits for the readers.
func (r *receiver) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.ln.Close()
	r.closeConns()
	r.wg.Wait()
}

func (r *receiver) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}
