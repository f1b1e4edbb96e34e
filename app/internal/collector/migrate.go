package collector

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
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
	var sec [8]byte
	binary.LittleEndian.PutUint64(sec[:], uint64(r.Time.Unix()))
	return fnvAdd(fnvAdd(hashKey(r.LogType), code), sec[:]), true
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

// crossTail is what the API 1.0 stream keeps for a switch to 2.0: per log
// type the newest record delivered (in the checkpoint) and the crossKeys
// of the records of the migrationOverlap before it. The keys are saved
// beside the checkpoint as chunks (store.Progress.Sets named
// "v1tail/<n>"), one per commit holding that commit's records, and a chunk
// is deleted once all its keys are older than their type's overlap: a
// commit writes only its own records' keys.
type crossTail struct {
	newest  map[string]time.Time
	chunks  []tailChunk
	pending map[string][]tailKey // added since the last commit
	next    int                  // number of the next chunk
}

type tailKey struct {
	sec int64
	key uint64
}

type tailChunk struct {
	name   string
	newest map[string]int64 // per type, the newest second among its keys
}

const (
	tailPrefix = "v1tail/"
	// maxTailChunks bounds the chunks kept (a commit each); beyond it the
	// oldest are dropped and their records may come twice after a switch.
	maxTailChunks = 2000
)

// loadCrossTail reads the chunks among the stream's saved sets.
func loadCrossTail(newest map[string]time.Time, sets map[string][]byte) *crossTail {
	t := &crossTail{newest: newest, pending: map[string][]tailKey{}}
	if t.newest == nil {
		t.newest = map[string]time.Time{}
	}
	for name, data := range sets {
		n, ok := strings.CutPrefix(name, tailPrefix)
		if !ok {
			continue
		}
		seq, _ := strconv.Atoi(n)
		t.next = max(t.next, seq+1)
		c := tailChunk{name: name, newest: map[string]int64{}}
		keys, err := decodeChunk(data)
		if err != nil {
			continue // dropped at the next commit
		}
		for lt, ks := range keys {
			for _, k := range ks {
				c.newest[lt] = max(c.newest[lt], k.sec)
			}
		}
		t.chunks = append(t.chunks, c)
	}
	slices.SortFunc(t.chunks, func(a, b tailChunk) int { return chunkSeq(a.name) - chunkSeq(b.name) })
	return t
}

func chunkSeq(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, tailPrefix))
	return n
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
		t.pending[r.LogType] = append(t.pending[r.LogType], tailKey{r.Time.Unix(), k})
	}
}

// progress returns the chunk of the keys added since the last call and
// the names of the chunks no longer needed.
func (t *crossTail) progress() (sets map[string][]byte, deleted []string) {
	sets = map[string][]byte{}
	c := tailChunk{name: tailPrefix + strconv.Itoa(t.next), newest: map[string]int64{}}
	for lt, ks := range t.pending {
		if len(ks) == 0 {
			delete(t.pending, lt)
			continue
		}
		for _, k := range ks {
			c.newest[lt] = max(c.newest[lt], k.sec)
		}
	}
	if len(t.pending) > 0 {
		t.next++
		sets[c.name] = encodeChunk(t.pending)
		t.chunks = append(t.chunks, c)
		for lt := range t.pending {
			t.pending[lt] = t.pending[lt][:0] // reused: the chunk holds a copy
		}
	}
	kept := t.chunks[:0]
	for i, c := range t.chunks {
		needed := false
		for lt, sec := range c.newest {
			if sec >= t.newest[lt].Add(-migrationOverlap).Unix() {
				needed = true
			}
		}
		if needed && len(t.chunks)-i <= maxTailChunks {
			kept = append(kept, c)
		} else {
			deleted = append(deleted, c.name)
		}
	}
	t.chunks = kept
	return sets, deleted
}

// encodeChunk writes per type: the name, the number of keys, and each key
// as its uvarint second and 8 bytes.
func encodeChunk(keys map[string][]tailKey) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for lt, ks := range keys {
		b = binary.AppendUvarint(b, uint64(len(lt)))
		b = append(b, lt...)
		b = binary.AppendUvarint(b, uint64(len(ks)))
		for _, k := range ks {
			b = binary.AppendUvarint(b, uint64(k.sec))
			b = binary.LittleEndian.AppendUint64(b, k.key)
		}
	}
	return b
}

var errBadChunk = errors.New("reading the duplicate filter: malformed migration keys")

func decodeChunk(b []byte) (map[string][]tailKey, error) {
	uv := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errBadChunk
		}
		b = b[n:]
		return v, nil
	}
	types, err := uv()
	if err != nil {
		return nil, err
	}
	out := map[string][]tailKey{}
	for range types {
		l, err := uv()
		if err != nil || uint64(len(b)) < l {
			return nil, errBadChunk
		}
		lt := string(b[:l])
		b = b[l:]
		n, err := uv()
		if err != nil {
			return nil, err
		}
		for range n {
			sec, err := uv()
			if err != nil || len(b) < 8 {
				return nil, errBadChunk
			}
			out[lt] = append(out[lt], tailKey{int64(sec), binary.LittleEndian.Uint64(b)})
			b = b[8:]
		}
	}
	if len(b) > 0 {
		return nil, errBadChunk
	}
	return out, nil
}

// migration is the API 2.0 side of a switch from 1.0 (siemBatchCheckpoint
// .Migration): per log type, records before After were delivered by 1.0
// and are dropped; those up to Newest are matched by count against the
// crossKeys 1.0 delivered. The counts still unmatched are saved beside the
// checkpoint (migrationCounts), rewritten only when one was matched. It
// ends when every type has caught up once; then the counts and 1.0's
// chunks are deleted.
type migration struct {
	After  map[string]time.Time `json:"after"`
	Newest map[string]time.Time `json:"newest"`

	counts map[string]map[uint64]int
	dirty  bool
	chunks []string // 1.0's chunk names, deleted at the end
}

// migrationCounts names the saved unmatched counts.
const migrationCounts = "migration/counts"

// migrationFromV1 reads a 1.0 SIEM checkpoint found where a 2.0 one was
// expected; ok is false when data is not one (or is empty). newest is the
// stream's newest delivered record overall, for checkpoints of builds that
// did not keep it per type.
func migrationFromV1(data []byte, newest time.Time) (*migration, bool) {
	var v1 siemV1Checkpoint
	if len(data) == 0 || json.Unmarshal(data, &v1) != nil || (v1.Token == "" && len(v1.Files) == 0 && len(v1.Newest) == 0) {
		return nil, false
	}
	m := &migration{After: map[string]time.Time{}, Newest: map[string]time.Time{}}
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

// load reads the saved counts, or at the first run builds them from 1.0's
// chunks.
func (m *migration) load(sets map[string][]byte) error {
	m.counts = map[string]map[uint64]int{}
	for name := range sets {
		if strings.HasPrefix(name, tailPrefix) {
			m.chunks = append(m.chunks, name)
		}
	}
	add := func(keys map[string][]tailKey, inOverlap bool) {
		for lt, ks := range keys {
			for _, k := range ks {
				if inOverlap && (k.sec < m.After[lt].Unix() || k.sec > m.Newest[lt].Unix()) {
					continue
				}
				if m.counts[lt] == nil {
					m.counts[lt] = map[uint64]int{}
				}
				m.counts[lt][k.key]++
			}
		}
	}
	if data, ok := sets[migrationCounts]; ok {
		keys, err := decodeChunk(data)
		if err != nil {
			return err
		}
		add(keys, false)
		return nil
	}
	for _, name := range m.chunks {
		keys, err := decodeChunk(sets[name])
		if err != nil {
			return err
		}
		add(keys, true)
	}
	m.dirty = true
	return nil
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
	k, ok := crossKey(r)
	if !ok || m.counts[r.LogType][k] == 0 {
		return false
	}
	m.counts[r.LogType][k]--
	m.dirty = true
	return true
}

// progress adds the unmatched counts to sets when they changed.
func (m *migration) progress(sets map[string][]byte) {
	if !m.dirty {
		return
	}
	keys := map[string][]tailKey{}
	for lt, c := range m.counts {
		for k, n := range c {
			for range n {
				keys[lt] = append(keys[lt], tailKey{0, k})
			}
		}
	}
	sets[migrationCounts] = encodeChunk(keys)
	m.dirty = false
}

// done returns the saved sets the migration no longer needs.
func (m *migration) done() []string { return append([]string{migrationCounts}, m.chunks...) }
