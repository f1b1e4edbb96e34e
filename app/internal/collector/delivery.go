package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/model"
)

// forwarder is what the collector needs from a syslog sender (the syslog
// package's *Sender satisfies it). It is used by one goroutine at a time.
type forwarder interface {
	// Write hands one message to the sender; it may be buffered.
	Write(msg []byte) error
	// Flush returns nil only if every message written since the last
	// successful flush reached the target.
	Flush() error
	Close() error
}

// deliveryError marks an error of the syslog target, so a stream can tell
// "QRadar is unreachable" from a Mimecast failure: the former skips the
// health event, which would not get through either.
type deliveryError struct {
	target  string
	err     error
	dialing bool // the connection could not be opened (err names the target)
}

func (e *deliveryError) Error() string {
	if e.dialing {
		return e.err.Error()
	}
	return fmt.Sprintf("sending events to %s: %v", e.target, e.err)
}

func (e *deliveryError) Unwrap() error { return e.err }

func isDeliveryError(err error) bool {
	var d *deliveryError
	return errors.As(err, &d)
}

// maxMalformedLogs bounds the log lines about malformed records per stream
// run; the rest are only counted.
const maxMalformedLogs = 5

// delivery formats records as LEEF and hands them to one stream run's
// forwarder. Records count as delivered once a flush succeeded.
type delivery struct {
	fwd    forwarder
	target string
	format *leef.Formatter
	acct   leef.Account
	log    *slog.Logger
	buf    []byte

	pending       int64     // written since the last successful flush
	pendingNewest time.Time // newest record time among them
	delivered     int64
	newest        time.Time
	malformed     int64 // records skipped as unreadable, by the decoder or the formatter
}

// send formats r and writes it. A record the formatter refuses is
// malformed: counted, logged (without its content) and skipped.
func (d *delivery) send(r *model.Record) error {
	b, err := d.format.AppendRecord(d.buf[:0], d.acct, r)
	if err != nil {
		d.malformed++
		if d.malformed <= maxMalformedLogs {
			d.log.Warn("Skipping a malformed record", slog.String("log_type", r.LogType), slog.Any("error", err))
		}
		return nil
	}
	d.buf = b
	if err := d.fwd.Write(b); err != nil {
		return &deliveryError{target: d.target, err: err}
	}
	d.pending++
	if r.Time.After(d.pendingNewest) {
		d.pendingNewest = r.Time
	}
	return nil
}

// flush pushes everything written so far to the target; only then are the
// records counted as delivered.
func (d *delivery) flush() error {
	if err := d.fwd.Flush(); err != nil {
		return &deliveryError{target: d.target, err: err}
	}
	d.delivered += d.pending
	if d.pendingNewest.After(d.newest) {
		d.newest = d.pendingNewest
	}
	d.pending, d.pendingNewest = 0, time.Time{}
	return nil
}
