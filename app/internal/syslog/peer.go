package syslog

// peerState is what a liveness check saw on a connection.
type peerState int

const (
	peerOpen     peerState = iota // nothing to read: open and quiet
	peerClosed                    // end of stream or a socket error
	peerSentData                  // bytes are waiting to be read
)
