package collector

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Switching an account between API 1.0 keys and API 2.0 client credentials
// keeps its SIEM position (issue #10, "migration with continuity"). The two
// generations share no cursor and no record identity: a 1.0 token means
// nothing to the 2.0 batch endpoint, and 1.0 records carry no
// _partition/_offset. The position is mapped by time instead: per log type,
// the new generation starts migrationOverlap before the newest record the
// old one delivered, and the records of that overlap are matched with the
// ones already delivered by their crossKey, so the switch neither loses
// records that arrived late nor sends any twice.
const (
	// migrationOverlap is how far before the newest delivered record of a
	// type the new generation starts. Mimecast fills a type's 1.0 files in
	// arrival order, so a record older than the newest one delivered can
	// still come in a later file; ten minutes covers its usual delay.
	migrationOverlap = 10 * time.Minute
	// maxTailKeys bounds a type's overlap keys (a busy tenant's ten
	// minutes of one log type).
	maxTailKeys = 50000
)

// crossKey identifies a SIEM record across API generations: its log type,
// the message's aggregate code (1.0 aCode, 2.0 aggregateId, whose
// "_<epoch seconds>" suffix the 1.0 code lacks) and the record's time to
// the second (1.0 times have no milliseconds). Several records can share
// it (a message delivered to several recipients in one second); the
// overlap is matched by count. ok is false without an aggregate code.
func crossKey(r *model.Record) (uint64, bool) {
	code := jsonString(r.Raw, `"aCode":"`)
	if code == nil {
		code = jsonString(r.Raw, `"aggregateId":"`)
	}
	if len(code) == 0 || r.Time.IsZero() {
		return 0, false
	}
	if i := bytes.LastIndexByte(code, '_'); i > 0 && allDigits(code[i+1:]) {
		code = code[:i]
	}
	h := hashKey(r.LogType)
	for _, b := range code {
		h ^= uint64(b)
		h *= 1099511628211
	}
	var sec [8]byte
	binary.LittleEndian.PutUint64(sec[:], uint64(r.Time.Unix()))
	for _, b := range sec {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h, true
}

// jsonString returns the plain string value after key in a JSON object,
// or nil. Aggregate codes are base64url text: no escapes to undo.
func jsonString(raw []byte, key string) []byte {
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return nil
	}
	v := raw[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil
	}
	return v[:j]
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// crossTail holds, per log type, the crossKeys of the delivered records
// of the last migrationOverlap before the newest one: the API 1.0 stream
// keeps it in its checkpoint, ready for a switch to 2.0.
type crossTail struct {
	newest map[string]time.Time
	keys   map[string][]tailKey
}

type tailKey struct {
	sec int64
	key uint64
}

func newCrossTail(newest map[string]time.Time, enc map[string]string) *crossTail {
	t := &crossTail{newest: newest, keys: map[string][]tailKey{}}
	if t.newest == nil {
		t.newest = map[string]time.Time{}
	}
	for lt, s := range enc {
		if keys, err := decodeTail(s); err == nil {
			t.keys[lt] = keys
		}
	}
	return t
}

// add notes a delivered record.
func (t *crossTail) add(r *model.Record) {
	if r.Time.IsZero() {
		return
	}
	newest := t.newest[r.LogType]
	if r.Time.After(newest) {
		t.newest[r.LogType], newest = r.Time, r.Time
	}
	if r.Time.Before(newest.Add(-migrationOverlap)) {
		return
	}
	if k, ok := crossKey(r); ok {
		t.keys[r.LogType] = append(t.keys[r.LogType], tailKey{r.Time.Unix(), k})
	}
}

// encode drops the keys older than each type's overlap and encodes the
// rest (each key as the uvarint seconds after the overlap's start, then 8
// bytes), base64 for the JSON checkpoint.
func (t *crossTail) encode() map[string]string {
	out := map[string]string{}
	for lt, keys := range t.keys {
		from := t.newest[lt].Add(-migrationOverlap).Unix()
		kept := keys[:0]
		for _, k := range keys {
			if k.sec >= from {
				kept = append(kept, k)
			}
		}
		if len(kept) > maxTailKeys {
			kept = kept[len(kept)-maxTailKeys:]
		}
		t.keys[lt] = kept
		if len(kept) == 0 {
			continue
		}
		b := binary.AppendUvarint(nil, uint64(from))
		for _, k := range kept {
			b = binary.AppendUvarint(b, uint64(k.sec-from))
			b = binary.LittleEndian.AppendUint64(b, k.key)
		}
		out[lt] = base64.RawStdEncoding.EncodeToString(b)
	}
	return out
}

var errBadTail = errors.New("reading checkpoint: malformed migration keys")

func decodeTail(s string) ([]tailKey, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadTail
	}
	from, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errBadTail
	}
	b = b[n:]
	var keys []tailKey
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 || len(b) < n+8 {
			return nil, errBadTail
		}
		keys = append(keys, tailKey{int64(from + d), binary.LittleEndian.Uint64(b[n:])})
		b = b[n+8:]
	}
	return keys, nil
}

// migration is the API 2.0 side of a switch from 1.0 (siemBatchCheckpoint
// .Migration): per log type, records before After were delivered by 1.0
// and are dropped; those up to Newest are matched by count against the
// crossKeys 1.0 delivered (Tail, encoded like crossTail's). It ends when
// every type has caught up once.
type migration struct {
	After  map[string]time.Time `json:"after"`
	Newest map[string]time.Time `json:"newest"`
	Tail   map[string]string    `json:"tail,omitempty"`

	counts map[string]map[uint64]int
}

// migrationFromV1 reads a 1.0 SIEM checkpoint found where a 2.0 one was
// expected; ok is false when data is not one (or is empty). newest is the
// stream's newest delivered record overall, for checkpoints of builds that
// did not keep it per type.
func migrationFromV1(data []byte, newest time.Time) (*migration, bool) {
	var v1 siemV1Checkpoint
	if len(data) == 0 || json.Unmarshal(data, &v1) != nil || (v1.Token == "" && len(v1.Files) == 0 && len(v1.Newest) == 0) {
		return nil, false
	}
	m := &migration{After: map[string]time.Time{}, Newest: map[string]time.Time{}, Tail: v1.Tail}
	overall := newest
	for _, t := range v1.Newest {
		if t.After(overall) {
			overall = t
		}
	}
	for _, lt := range model.SIEMLogTypes {
		n, ok := v1.Newest[lt]
		if !ok {
			// No record of this type came through 1.0: 1.0's files were
			// read up to overall, so this type starts there.
			n = overall
		}
		if n.IsZero() {
			n = v1.Start
		}
		m.After[lt], m.Newest[lt] = n.Add(-migrationOverlap), n
	}
	return m, true
}

// skip reports whether the 2.0 record r was delivered through 1.0.
func (m *migration) skip(r *model.Record) bool {
	after, ok := m.After[r.LogType]
	switch {
	case !ok:
		return false
	case r.Time.Before(after):
		return true
	case r.Time.Truncate(time.Second).After(m.Newest[r.LogType]):
		// 1.0 times are to the second: the newest 1.0 record at 10:00:00
		// is the 2.0 record at 10:00:00.140.
		return false
	}
	if m.counts == nil {
		m.counts = map[string]map[uint64]int{}
		for lt, s := range m.Tail {
			keys, err := decodeTail(s)
			if err != nil {
				continue
			}
			c := map[uint64]int{}
			for _, k := range keys {
				c[k.key]++
			}
			m.counts[lt] = c
		}
	}
	k, ok := crossKey(r)
	if !ok || m.counts[r.LogType][k] == 0 {
		return false
	}
	m.counts[r.LogType][k]--
	return true
}

// save writes the counts still unmatched back into Tail, so a restart in
// the middle of the overlap does not match a key twice.
func (m *migration) save() {
	if m.counts == nil {
		return
	}
	m.Tail = map[string]string{}
	for lt, c := range m.counts {
		b := binary.AppendUvarint(nil, 0)
		for k, n := range c {
			for range n {
				b = binary.AppendUvarint(b, 0)
				b = binary.LittleEndian.AppendUint64(b, k)
			}
		}
		m.Tail[lt] = base64.RawStdEncoding.EncodeToString(b)
	}
}
