package mimecast

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"mimecast-qradar/app/internal/model"
)

// DecodeStats counts what a decoder saw in one file or page.
type DecodeStats struct {
	Records   int // records handed to the callback
	Malformed int // records that could not be read, or were over the size limit, and were skipped
	Skipped   int // well-formed records dropped on purpose (API 1.0: older than the start time)
}

// recordKind selects how a decoder reads time, identity and log type.
type recordKind int

const (
	kindSIEMv2    recordKind = iota // API 2.0 SIEM lines
	kindSIEMv1                      // API 1.0 SIEM records (JSON or key_value)
	kindAPI                         // /api/... log records
	kindCI                          // API 2.0 Cloud Integrated SIEM lines
	kindAwareness                   // Awareness Training snapshot rows
)

// maxMalformedLogs bounds the warnings logged per file or page.
const maxMalformedLogs = 5

// decoder turns raw records into model.Record values and hands them to fn,
// one at a time. Its buffers are reused between records: the Record passed
// to fn is only valid during the call.
type decoder struct {
	kind      recordKind
	stream    model.Stream
	logType   string // fixed (API streams), from the file name (1.0) or requested (2.0 fallback)
	timeField int    // API streams: member holding the time
	idField   int    // API streams: member holding the identity, or -1
	maxRecord int
	notBefore time.Time // drop records older than this (API 1.0 look-back)
	idSuffix  string    // awareness: appended to the e-mail identity (phishing campaign id)
	extra     []byte    // awareness: JSON members added to each record (`"k":v,...`)
	fn        func(*model.Record) error
	log       *slog.Logger
	where     string // names the file or page in log lines

	stats  DecodeStats
	seen   int   // records looked at, for log positions
	cbErr  error // the callback's error, returned unchanged
	rec    model.Record
	fields recordFields
	idBuf  []byte
	buf    []byte // record bytes read from a JSON stream
	kvBuf  []byte // JSON built from a key_value line
	kvKeys [][2]int
	pairs  []kvPair
	rawBuf []byte // a record with members added
	stix   *stixState
}

// emit checks that raw is a JSON object, fills the record and calls fn.
func (d *decoder) emit(raw []byte) error {
	d.seen++
	if err := scanRecord(raw, &d.fields); err != nil {
		d.malformed(err.Error())
		return nil
	}
	f := &d.fields
	r := &d.rec
	*r = model.Record{Stream: d.stream, Raw: raw}
	switch d.kind {
	case kindSIEMv2:
		r.LogType = d.v2LogType(raw)
		if v := f.raw(raw, fTimestamp); v != nil {
			r.Time = epochMillisTime(v)
		}
		r.ID = d.partitionOffset(raw)
	case kindSIEMv1:
		r.LogType = d.logType
		if r.LogType == "" {
			r.LogType = inferV1LogType(f)
		}
		if r.LogType == "" {
			r.LogType = unknownLogType
		}
		if v := f.raw(raw, fDatetime); v != nil {
			r.Time = textTime(v)
		}
	case kindAPI:
		r.LogType = d.logType
		if v := f.raw(raw, d.timeField); v != nil {
			r.Time = textTime(v)
		}
		if d.idField >= 0 {
			if v := f.raw(raw, d.idField); v != nil && string(v) != "null" {
				if s, ok := stringValue(v); ok {
					r.ID = string(s)
				} else {
					r.ID = string(v) // a numeric id, as written
				}
			}
		}
	case kindCI:
		r.LogType = d.ciLogType(raw)
		if v := f.raw(raw, fTimestamp); v != nil {
			r.Time = epochMillisTime(v)
		}
		r.ID = d.ciIdentity(raw)
	case kindAwareness:
		r.LogType = d.logType
		r.ID = d.awarenessIdentity(raw)
		if len(d.extra) > 0 && !f.has(fCampaignID) {
			r.Raw = d.withMembers(raw, d.extra)
		}
	}
	if !d.notBefore.IsZero() && !r.Time.IsZero() && r.Time.Before(d.notBefore) {
		d.stats.Skipped++
		return nil
	}
	d.stats.Records++
	if err := d.fn(r); err != nil {
		d.cbErr = err
		return err
	}
	return nil
}

// v2LogType reads type (batch files) or eventType (stream endpoint).
func (d *decoder) v2LogType(raw []byte) string {
	v := d.fields.raw(raw, fType)
	if v == nil {
		v = d.fields.raw(raw, fEventType)
	}
	if s, ok := stringValue(v); ok {
		if lt, ok := siemLogType(s); ok {
			return lt
		}
		if d.logType == "" && len(s) > 0 {
			return string(bytes.ReplaceAll(bytes.ToLower(s), []byte(" "), []byte("_")))
		}
	}
	if d.logType != "" {
		return d.logType
	}
	return unknownLogType
}

// ciTypes maps the type member of Cloud Integrated records (and the type
// query value of the CI batch endpoint) to its log type.
var ciTypes = map[string]string{
	"entities": model.LogCIEntities,
	"mailflow": model.LogCIMailflow,
	"urlclick": model.LogCIURLClick,
}

// isCILogType reports whether logType is a Cloud Integrated log type
// (ci_entities, ci_mailflow, ci_urlclick).
func isCILogType(logType string) bool {
	for _, lt := range ciTypes {
		if lt == logType {
			return true
		}
	}
	return false
}

// ciLogType reads a Cloud Integrated record's type; the file's requested
// type is the fallback.
func (d *decoder) ciLogType(raw []byte) string {
	if s, ok := stringValue(d.fields.raw(raw, fType)); ok {
		if lt, ok := ciTypes[string(bytes.ToLower(s))]; ok {
			return lt
		}
	}
	if d.logType != "" {
		return d.logType
	}
	return unknownLogType
}

// ciIdentityFields are the members whose values identify a Cloud
// Integrated record (reference §5; elastic fingerprints the same): the
// records carry no id, and processingId alone repeats across a message's
// events.
var ciIdentityFields = [...]int{fMessageID, fProcessingID, fAggregateID, fAccountID, fTimestamp, fAction, fType, fSubtype}

// ciIdentity returns a hash of the identity members (hex, 128 bits). String
// values count by their decoded text, other values as written; an absent
// member and null differ.
func (d *decoder) ciIdentity(raw []byte) string {
	b := d.idBuf[:0]
	for _, i := range ciIdentityFields {
		switch v := d.fields.raw(raw, i); {
		case v == nil:
			b = append(b, 0)
		default:
			if s, ok := stringValue(v); ok {
				b = append(b, 's')
				b = append(b, s...)
			} else {
				b = append(b, 'r')
				b = append(b, v...)
			}
		}
		b = append(b, 0xff) // never inside UTF-8 text
	}
	d.idBuf = b
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// awarenessIdentity returns the user's e-mail address (email, or
// emailAddress in safe score rows), followed by "|<campaign id>" for
// phishing campaign user data; "" without an address.
func (d *decoder) awarenessIdentity(raw []byte) string {
	v, ok := stringValue(d.fields.raw(raw, fEmail))
	if !ok || len(v) == 0 {
		v, ok = stringValue(d.fields.raw(raw, fEmailAddress))
	}
	if !ok || len(v) == 0 {
		return ""
	}
	if d.idSuffix == "" {
		return string(v)
	}
	return string(v) + "|" + d.idSuffix
}

// withMembers returns the object raw with the members in extra (`"k":v`
// pairs, comma-separated) added before its closing brace, in a buffer
// reused between records.
func (d *decoder) withMembers(raw, extra []byte) []byte {
	body := bytes.TrimRight(raw, " \t\r\n")
	body = bytes.TrimRight(body[:len(body)-1], " \t\r\n") // drop '}'
	b := append(d.rawBuf[:0], body...)
	if body[len(body)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, extra...)
	b = append(b, '}')
	d.rawBuf = b
	return b
}

// partitionOffset returns "partition:offset", the position of an API 2.0
// record in Mimecast's event log, which identifies it uniquely. processingId
// and aggregateId do not: delivery retries share them.
func (d *decoder) partitionOffset(raw []byte) string {
	p, ok1 := intValue(d.fields.raw(raw, fPartition))
	o, ok2 := intValue(d.fields.raw(raw, fOffset))
	if !ok1 || !ok2 {
		return ""
	}
	d.idBuf = strconv.AppendInt(d.idBuf[:0], p, 10)
	d.idBuf = append(d.idBuf, ':')
	d.idBuf = strconv.AppendInt(d.idBuf, o, 10)
	return string(d.idBuf)
}

// malformed counts a skipped record and logs the first few, by position and
// reason only: record contents may hold personal data.
func (d *decoder) malformed(reason string) {
	d.stats.Malformed++
	if d.stats.Malformed <= maxMalformedLogs {
		d.log.Warn("skipping malformed Mimecast record", "where", d.where, "record", d.seen, "reason", reason)
	}
}

func (d *decoder) oversized() {
	d.seen++
	d.malformed("record larger than " + strconv.Itoa(d.maxRecord) + " bytes")
}

// classifyReadErr words an error met while reading a body or a decompressor:
// our own kinds and context errors pass through, anything else means the
// data is corrupt or truncated.
func classifyReadErr(err error) error {
	switch {
	case errors.Is(err, ErrNetwork), errors.Is(err, ErrBadResponse),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badResponse("data truncated", nil)
	}
	return badResponse("corrupt data", err)
}

// limitedReader fails with ErrBadResponse once more than limit bytes were
// read, instead of silently stopping like io.LimitReader: a decompression
// bomb must be an error, not a short file.
type limitedReader struct {
	r         io.Reader
	remaining int64
	limit     int64
}

func newLimitedReader(r io.Reader, limit int64) *limitedReader {
	return &limitedReader{r: r, remaining: limit, limit: limit}
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.remaining+1 {
		p = p[:l.remaining+1]
	}
	n, err := l.r.Read(p)
	l.remaining -= int64(n)
	if l.remaining < 0 {
		return 0, badResponse(fmt.Sprintf("data larger than the limit of %d bytes after decompression", l.limit), nil)
	}
	return n, err
}

// lines calls handle for each line of br (without the line end), reusing
// buffers. A line longer than maxRecord is skipped and counted as malformed.
func (d *decoder) lines(br *bufio.Reader, handle func(line []byte) error) error {
	var long []byte
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			tooLong := false
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				if !tooLong && len(long)+len(line) > d.maxRecord+2 {
					tooLong = true
				}
				if !tooLong {
					long = append(long, line...)
				}
			}
			if tooLong {
				d.oversized()
				line = nil
			} else {
				line = long
			}
		}
		if first && len(line) > 0 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
			first = false
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			if len(line) > d.maxRecord {
				d.oversized()
			} else if herr := handle(line); herr != nil {
				return herr
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return classifyReadErr(err)
		}
	}
}

// ndjson reads one JSON record per line.
func (d *decoder) ndjson(br *bufio.Reader) error {
	return d.lines(br, d.emit)
}
