//go:build linux

package syslog

import (
	"fmt"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// peek looks, without reading or blocking, at what the peer sent on c.
func peek(c net.Conn) peerState {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return peerOpen
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return peerClosed
	}
	state := peerOpen
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			state = peerSentData
		case err == syscall.EAGAIN || err == syscall.EINTR:
			state = peerOpen
		default: // n == 0 without error is end of stream; or ECONNRESET and the like
			state = peerClosed
		}
		return true
	})
	if err != nil {
		return peerClosed
	}
	return state
}

// waitAcked waits until the receiving host has acknowledged every byte
// written to c (the kernel's send queue, SIOCOUTQ, is empty), so that a
// successful Flush means the data left this machine and arrived, not merely
// that it was copied into a local buffer. It gives up at the deadline, or as
// soon as closed reports the connection closed with bytes unacknowledged.
func waitAcked(c net.Conn, deadline time.Time, closed func() bool) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	delay := 50 * time.Microsecond
	for {
		var queued int32
		var errno syscall.Errno
		if err := rc.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued)))
		}); err != nil {
			return err
		}
		if errno != 0 {
			return nil // the socket cannot tell; its writes succeeded
		}
		if queued == 0 {
			return nil
		}
		if closed() {
			return errReceiverClosed
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the receiver has not acknowledged %d bytes in time", queued)
		}
		time.Sleep(delay)
		delay = min(delay*2, 10*time.Millisecond)
	}
}
