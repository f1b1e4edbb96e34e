// Package leef turns Mimecast records into LEEF 2.0 events inside RFC 5424
// syslog messages, the form QRadar ingests (design §6):
//
//	<PRI>1 <time> <log_source_identifier> mimecast-qradar - - - LEEF:2.0|Mimecast|<Product>|<version>|<EventID>|x09|<attributes>
//
// The attributes are the added keys (devTime, devTimeFormat, cat, sev, src,
// dst, usrName, mcStream, mcLogType, mcAccount, and mcTruncated when cut)
// followed by every field of the record under its own name. The table of
// which Mimecast field feeds which added key is FieldMapping (see Mapping and
// docs/leef-fields.md).
package leef

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"mimecast-qradar/app/internal/model"
)

// Account identifies the Mimecast account an event belongs to.
type Account struct {
	Name                string // carried as mcAccount
	LogSourceIdentifier string // the syslog header's host name: one QRadar log source per account
}

// Formatter formats records and health events. Its methods are safe for
// concurrent use; the zero value is usable.
type Formatter struct {
	// AppVersion is the LEEF header's Version ("dev" when empty).
	AppVersion string
	// MaxLen is the longest message to produce, in bytes; 0 means no
	// limit. Set it to the sender's MaxMessageSize.
	MaxLen int
	// Now returns the collection time, used for records without a time;
	// nil means time.Now.
	Now func() time.Time
}

// Health is one collection run's outcome for one stream, sent as a
// collector_health event.
type Health struct {
	Stream     model.Stream
	Outcome    string // ok or error
	Events     int64  // events delivered in the run
	LagSeconds int64  // age of the newest delivered record at the end of the run
	Error      string // what went wrong, in plain words; empty when ok
	RunStarted time.Time
	RunEnded   time.Time
}

const (
	appName = "mimecast-qradar"
	// DevTimeFormat is the Java pattern of devTime. devTime is always UTC
	// to the millisecond, e.g. 2024-05-01T09:59:58.123+0000.
	DevTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
	// Facility is the syslog facility of every message (1, user-level);
	// the syslog severity follows sev (see SyslogSeverity).
	Facility = 1

	truncatedAttr = "\t" + keyTruncated + "=true"
	collidePrefix = "mc_"
)

// walkers holds reusable walkers so formatting does not allocate.
var walkers = sync.Pool{New: func() any {
	return &walker{key: make([]byte, 0, 128), buf: make([]byte, 0, 4096), fields: make([]field, 0, 64)}
}}

// maxPooledBuf keeps one giant record from pinning its buffer in the pool.
const maxPooledBuf = 1 << 20

// AppendRecord appends one complete syslog message for rec (no framing, no
// trailing LF) to dst. It fails only when rec.Raw is not one JSON object
// (the error wraps ErrMalformed); dst is then returned unchanged.
func (f *Formatter) AppendRecord(dst []byte, acct Account, rec *model.Record) ([]byte, error) {
	c := compiledFor(rec.LogType)
	w := walkers.Get().(*walker)
	defer func() {
		if cap(w.buf) <= maxPooledBuf {
			w.data = nil
			walkers.Put(w)
		}
	}()
	w.reset(rec.Raw, c)
	if err := w.walk(); err != nil {
		return dst, fmt.Errorf("formatting %s record: %w", rec.LogType, err)
	}

	t := rec.Time
	if t.IsZero() {
		t = w.recordTime()
	}
	collected := t.IsZero() // devTime is the collection time: say so
	if collected {
		t = f.now()
	}
	cat := w.firstValue(c.cat)
	sev := c.sevFor(cat)
	for _, r := range c.rules {
		if v := w.value(r.name); len(v) > 0 && (r.value == AnyValue || equalFold(v, r.value)) {
			sev = max(sev, r.sev)
		}
	}
	sev = min(max(sev, 1), 10)
	stream := rec.Stream
	if stream == "" {
		stream = c.Stream
	}
	logType := rec.LogType
	if logType == "" {
		logType = "unknown"
	}

	start := len(dst)
	var ts [timestampLen]byte
	appendTimestamp(ts[:0], t.UTC())
	dst = f.appendHeader(dst, sev, ts[:], acct.LogSourceIdentifier, Product(stream), logType)
	dst = appendTimeAttrs(dst, ts[:])
	dst = append(dst, "\t"+keyCat+"="...)
	if len(cat) > 0 {
		dst = append(dst, cat...)
	} else {
		dst = appendSanitized(dst, logType)
	}
	dst = append(dst, "\t"+keySev+"="...)
	dst = strconv.AppendInt(dst, int64(sev), 10)
	if v := w.firstIP(c.src); v != nil {
		dst = append(append(dst, "\t"+keySrc+"="...), v...)
	}
	if v := w.firstIP(c.dst); v != nil {
		dst = append(append(dst, "\t"+keyDst+"="...), v...)
	}
	if v := w.firstValue(c.usr); v != nil {
		dst = append(append(dst, "\t"+keyUsrName+"="...), v...)
	}
	dst = appendSanitized(append(dst, "\t"+keyStream+"="...), string(stream))
	dst = appendSanitized(append(dst, "\t"+keyLogType+"="...), logType)
	dst = appendSanitized(append(dst, "\t"+keyAccount+"="...), acct.Name)
	if collected {
		dst = append(dst, "\t"+keyTimeSource+"=collected"...)
	}

	if f.MaxLen <= 0 || len(dst)-start+w.fieldsLen() <= f.MaxLen {
		if w.collide == 0 {
			return append(dst, w.buf...), nil // the fields, as they go out
		}
		for i := range w.fields {
			dst = w.appendField(dst, &w.fields[i], -1)
		}
		return dst, nil
	}
	dst = append(dst, truncatedAttr...)
	return w.appendTruncated(dst, f.MaxLen-(len(dst)-start)), nil
}

// AppendHealth appends a collector_health event: the same header as record
// events, the added keys, and the run's outcome as mcEvents, mcLagSeconds,
// mcRunStarted, mcRunEnded and mcError. No record fields.
func (f *Formatter) AppendHealth(dst []byte, acct Account, h Health) []byte {
	t := h.RunEnded
	if t.IsZero() {
		t = f.now()
	}
	outcome := h.Outcome
	if outcome == "" {
		outcome = "ok"
		if h.Error != "" {
			outcome = "error"
		}
	}
	sev := 1
	if outcome != "ok" {
		sev = 7
	}
	start := len(dst)
	var ts [timestampLen]byte
	appendTimestamp(ts[:0], t.UTC())
	dst = f.appendHeader(dst, sev, ts[:], acct.LogSourceIdentifier, Product(h.Stream), model.LogCollectorHealth)
	dst = appendTimeAttrs(dst, ts[:])
	dst = appendSanitized(append(dst, "\t"+keyCat+"="...), outcome)
	dst = strconv.AppendInt(append(dst, "\t"+keySev+"="...), int64(sev), 10)
	dst = appendSanitized(append(dst, "\t"+keyStream+"="...), string(h.Stream))
	dst = append(dst, "\t"+keyLogType+"="+model.LogCollectorHealth...)
	dst = appendSanitized(append(dst, "\t"+keyAccount+"="...), acct.Name)
	dst = strconv.AppendInt(append(dst, "\tmcEvents="...), h.Events, 10)
	dst = strconv.AppendInt(append(dst, "\tmcLagSeconds="...), h.LagSeconds, 10)
	dst = append(dst, "\tmcRunStarted="...)
	if !h.RunStarted.IsZero() {
		dst = appendDevTime(dst, h.RunStarted)
	}
	dst = append(dst, "\tmcRunEnded="...)
	if !h.RunEnded.IsZero() {
		dst = appendDevTime(dst, h.RunEnded)
	}
	dst = append(dst, "\tmcError="...)
	mark := len(dst)
	dst = appendSanitized(dst, h.Error)
	if f.MaxLen > 0 && len(dst)-start > f.MaxLen {
		keep := f.MaxLen - (mark - start) - len(truncatedAttr)
		dst = append(dst[:mark], cutUTF8(dst[mark:], max(keep, 0))...)
		dst = append(dst, truncatedAttr...)
	}
	return dst
}

func (f *Formatter) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// appendHeader appends the syslog header and the LEEF header up to and
// including the delimiter field. ts is the event's time as appendTimestamp
// writes it.
func (f *Formatter) appendHeader(dst []byte, sev int, ts []byte, host, product, eventID string) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(Facility*8+SyslogSeverity(sev)), 10)
	dst = append(dst, ">1 "...)
	dst = append(dst, ts...)
	dst = append(dst, 'Z', ' ')
	dst = appendHostname(dst, host)
	dst = append(dst, " "+appName+" - - - LEEF:2.0|Mimecast|"...)
	dst = appendHeaderField(dst, product)
	dst = append(dst, '|')
	version := f.AppVersion
	if version == "" {
		version = "dev"
	}
	dst = appendHeaderField(dst, version)
	dst = append(dst, '|')
	dst = appendHeaderField(dst, eventID)
	return append(dst, "|x09|"...)
}

// SyslogSeverity maps a LEEF sev (1-10) to the syslog severity of PRI:
// 1-2 informational, 3-4 notice, 5-6 warning, 7-8 error, 9-10 critical.
func SyslogSeverity(sev int) int {
	switch {
	case sev >= 9:
		return 2
	case sev >= 7:
		return 3
	case sev >= 5:
		return 4
	case sev >= 3:
		return 5
	}
	return 6
}

// appendTimeAttrs appends devTime and devTimeFormat; ts is the time as
// appendTimestamp writes it (UTC).
func appendTimeAttrs(dst, ts []byte) []byte {
	dst = append(dst, keyDevTime+"="...)
	dst = append(append(dst, ts...), "+0000"...)
	return append(dst, "\t"+keyDevTimeFormat+"="+DevTimeFormat...)
}

// appendDevTime appends t in DevTimeFormat, in UTC.
func appendDevTime(dst []byte, t time.Time) []byte {
	return append(appendTimestamp(dst, t.UTC()), "+0000"...)
}

// timestampLen is the length of what appendTimestamp writes.
const timestampLen = len("2006-01-02T15:04:05.000")

// appendTimestamp appends yyyy-MM-ddTHH:mm:ss.SSS of t (no zone).
func appendTimestamp(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	if year < 0 || year > 9999 {
		year = min(max(year, 0), 9999)
	}
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	return appendDigits(dst, ms, 3)
}

func appendDigits(dst []byte, v, width int) []byte {
	var b [4]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:width]...)
}

// appendHostname appends the RFC 5424 HOSTNAME: printable US-ASCII without
// spaces, at most 255 bytes; other bytes become '_'. An empty name is the
// NILVALUE "-", and QRadar then identifies the source by its address.
func appendHostname(dst []byte, host string) []byte {
	if host == "" {
		return append(dst, '-')
	}
	if len(host) > 255 {
		host = host[:255]
	}
	for len(host) > 0 {
		i := 0
		for i < len(host) && host[i] >= 33 && host[i] <= 126 {
			i++
		}
		dst = append(dst, host[:i]...)
		if i == len(host) {
			break
		}
		dst = append(dst, '_')
		host = host[i+1:]
	}
	return dst
}

// appendHeaderField appends a LEEF header field: '|' (the header
// separator) becomes '_', control characters a space, invalid UTF-8 U+FFFD.
func appendHeaderField(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '|' {
			i++
		}
		dst = append(dst, s[start:i]...)
		if i == len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '|':
			dst = append(dst, '_')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, ' ')
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return dst
}

// appendSanitized appends an attribute value: tab, CR and LF become a
// space, each invalid UTF-8 byte U+FFFD.
func appendSanitized(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && s[i] < utf8.RuneSelf && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' {
			i++
		}
		dst = append(dst, s[start:i]...)
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, ' ')
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// value returns the value of the first field named c.names[n], or nil.
func (w *walker) value(n uint8) []byte {
	h := w.hits[n]
	if h == 0 {
		return nil
	}
	f := &w.fields[h-1]
	return w.buf[f.v0:f.v1:f.v1]
}

// firstValue returns the first non-empty value among the candidate names.
func (w *walker) firstValue(names []uint8) []byte {
	for _, n := range names {
		if v := w.value(n); len(v) > 0 {
			return v
		}
	}
	return nil
}

// firstIP returns the first candidate value that is a specified IP address.
func (w *walker) firstIP(names []uint8) []byte {
	for _, n := range names {
		if v := w.value(n); isIP(v) {
			return v
		}
	}
	return nil
}

// isIP reports whether b is an IPv4 or IPv6 address other than 0.0.0.0 or
// ::, which Mimecast writes when it has none.
func isIP(b []byte) bool {
	if len(b) < 2 || len(b) > 39 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	// The string aliases the walker's buffer only for this call: ParseAddr
	// keeps nothing of a zone-less input, and the error is dropped.
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	return err == nil && !a.IsUnspecified()
}

// recordTime parses the record's time field, for records whose
// model.Record.Time was not set. It returns the zero time if none parses.
func (w *walker) recordTime() time.Time {
	for _, n := range w.c.time {
		if v := w.value(n); len(v) > 0 {
			if t, ok := parseTime(string(v)); ok {
				return t
			}
		}
	}
	return time.Time{}
}

// parseTime reads the time formats Mimecast uses: epoch milliseconds (API
// 2.0 SIEM) and ISO 8601 with a numeric zone (API 1.0, audit, TTP, DLP).
func parseTime(s string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// fieldLen is the length of a field's attribute ("\tname=value").
func fieldLen(f *field) int {
	n := 2 + int(f.k1-f.k0) + int(f.v1-f.v0)
	if f.flags&flagCollide != 0 {
		n += len(collidePrefix)
	}
	return n
}

func (w *walker) fieldsLen() int {
	return len(w.buf) + w.collide*len(collidePrefix)
}

// appendField appends "\tname=value", the value cut to limit bytes when
// limit >= 0.
func (w *walker) appendField(dst []byte, f *field, limit int) []byte {
	dst = append(dst, '\t')
	if f.flags&flagCollide != 0 {
		dst = append(dst, collidePrefix...)
	}
	dst = append(dst, w.buf[f.k0:f.k1]...)
	dst = append(dst, '=')
	v := w.buf[f.v0:f.v1]
	if limit >= 0 {
		v = cutUTF8(v, limit)
	}
	return append(dst, v...)
}

// appendTruncated appends the fields within budget bytes. It cuts the
// longest values first: every value that may be cut is capped at the largest
// length that fits, so short values stay whole. Names and the values of kept
// fields (identity and time) are never cut; if even they do not fit with
// every other value empty, the other fields that do not fit are left out.
func (w *walker) appendTruncated(dst []byte, budget int) []byte {
	fixed, longest := 0, 0
	for i := range w.fields {
		f := &w.fields[i]
		if f.flags&flagKeep != 0 {
			fixed += fieldLen(f)
			continue
		}
		fixed += fieldLen(f) - int(f.v1-f.v0)
		longest = max(longest, int(f.v1-f.v0))
	}
	spare := budget - fixed
	if spare >= 0 {
		// The largest cap whose capped values fit in spare.
		lo, hi := 0, longest
		for lo < hi {
			mid := (lo + hi + 1) / 2
			total := 0
			for i := range w.fields {
				if f := &w.fields[i]; f.flags&flagKeep == 0 {
					total += min(int(f.v1-f.v0), mid)
				}
			}
			if total <= spare {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		for i := range w.fields {
			f := &w.fields[i]
			limit := lo
			if f.flags&flagKeep != 0 {
				limit = -1
			}
			dst = w.appendField(dst, f, limit)
		}
		return dst
	}
	// Not even the names fit: keep kept fields, then empty others while
	// they fit.
	room := budget
	for i := range w.fields {
		if f := &w.fields[i]; f.flags&flagKeep != 0 {
			room -= fieldLen(f)
		}
	}
	for i := range w.fields {
		f := &w.fields[i]
		if f.flags&flagKeep != 0 {
			dst = w.appendField(dst, f, -1)
			continue
		}
		if n := fieldLen(f) - int(f.v1-f.v0); n <= room {
			room -= n
			dst = w.appendField(dst, f, 0)
		}
	}
	return dst
}

// cutUTF8 returns b cut to at most n bytes without splitting a character.
func cutUTF8(b []byte, n int) []byte {
	if n >= len(b) {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}
