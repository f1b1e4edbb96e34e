package collector

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

func TestKeySet_MatchesAMapAndSurvivesEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ks := &keySet{}
	want := map[uint64]bool{}
	for range 20000 {
		// Runs of consecutive keys (like a file's offsets) and scattered ones.
		k := r.Uint64N(5000)
		if r.IntN(4) == 0 {
			k = r.Uint64()
		}
		ks.add(k)
		want[k] = true
	}
	dec, err := decodeKeySet(ks.encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*keySet{ks, dec} {
		for k := range want {
			if !s.has(k) {
				t.Fatalf("key %d added but not found", k)
			}
		}
		for range 20000 {
			k := r.Uint64N(6000)
			if s.has(k) != want[k] {
				t.Fatalf("has(%d) = %v, want %v", k, s.has(k), want[k])
			}
		}
		for i := 1; i < len(s.iv); i++ {
			if s.iv[i].lo <= s.iv[i-1].hi+1 {
				t.Fatalf("intervals %v and %v overlap or touch", s.iv[i-1], s.iv[i])
			}
		}
	}
}

func TestKeySet_ConsecutiveOffsetsTakeOneInterval(t *testing.T) {
	ks := &keySet{}
	for o := uint64(5000); o > 0; o-- { // any order
		ks.add(60<<40 | o)
	}
	if len(ks.iv) != 1 {
		t.Fatalf("5000 consecutive offsets took %d intervals", len(ks.iv))
	}
}

func TestKeySet_BoundDropsTheLowestKeys(t *testing.T) {
	ks := &keySet{}
	for k := uint64(0); k < 2*(maxKeyIntervals+10); k += 2 {
		ks.add(k)
	}
	if len(ks.iv) != maxKeyIntervals {
		t.Fatalf("%d intervals, want the bound %d", len(ks.iv), maxKeyIntervals)
	}
	if ks.has(0) || !ks.has(2*(maxKeyIntervals+9)) {
		t.Fatal("the bound should drop the lowest keys and keep the highest")
	}
}

func TestDecodeKeySet_RefusesMalformedData(t *testing.T) {
	for _, b := range [][]byte{{0x01}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {0x05, 0x00, 0x01, 0x00}} {
		if _, err := decodeKeySet(b); err == nil {
			t.Errorf("decodeKeySet(%x) accepted", b)
		}
	}
}

func TestPartitionOffsetKey(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want uint64
		ok   bool
	}{
		{"60:70936", 60<<40 | 70936, true},
		{"0:0", 0, true},
		{"16777216:1", 0, false}, // partition beyond 24 bits
		{"1:1099511627776", 0, false},
		{"audit-123", 0, false},
		{"", 0, false},
	} {
		got, ok := partitionOffsetKey(tc.id)
		if got != tc.want || ok != tc.ok {
			t.Errorf("partitionOffsetKey(%q) = %d, %v; want %d, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
}

func TestContentKey_TellsIdenticalRecordsOfAFileApartAndMatchesTheFileServedAgain(t *testing.T) {
	file := [][]byte{[]byte(`{"a":1}`), []byte(`{"a":1}`), []byte(`{"a":2}`)}
	keys := func() []uint64 {
		copies := map[uint64]uint64{}
		var out []uint64
		for _, r := range file {
			out = append(out, contentKey(r, copies))
		}
		return out
	}
	first, again := keys(), keys()
	if first[0] == first[1] || first[0] == first[2] || first[1] == first[2] {
		t.Fatalf("keys of one file collide: %x", first)
	}
	if !slices.Equal(first, again) {
		t.Fatalf("the same file served again has other keys: %x, %x", first, again)
	}
}

func TestCrossTail_KeepsOnlyChunksWithinTheirTypesOverlap(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rec := func(lt string, at time.Time, code string) *model.Record {
		return &model.Record{LogType: lt, Time: at, Raw: []byte(`{"aCode":"` + code + `"}`)}
	}
	tail := loadCrossTail(nil, nil)
	tail.add(rec(model.LogReceipt, t0, "a"))
	sets, deleted := tail.progress()
	if len(sets) != 1 || len(deleted) != 0 {
		t.Fatalf("first commit: sets %v, deleted %v", sets, deleted)
	}
	// A restart: the chunk is read back.
	tail = loadCrossTail(tail.newest, sets)
	tail.add(rec(model.LogJournal, t0, "b"))
	sets2, _ := tail.progress()
	for name, data := range sets2 {
		sets[name] = data
	}
	// Twenty minutes later only receipt moves on: the receipt-only chunk
	// goes, the chunk holding journal's newest key stays.
	tail.add(rec(model.LogReceipt, t0.Add(20*time.Minute), "c"))
	_, deleted = tail.progress()
	if len(deleted) != 1 || deleted[0] != tailPrefix+"0" {
		t.Fatalf("deleted %v, want the receipt-only first chunk", deleted)
	}
	if len(tail.chunks) != 2 {
		t.Fatalf("%d chunks kept, want the journal chunk and the newest", len(tail.chunks))
	}
	// An old record of a type (late, beyond the overlap) is not kept.
	tail.add(rec(model.LogReceipt, t0, "d"))
	if n := len(tail.pending[model.LogReceipt]); n != 0 {
		t.Fatalf("a record older than the overlap was kept (%d)", n)
	}
}

func TestDecodeChunk_RoundTripAndMalformed(t *testing.T) {
	keys := map[string][]tailKey{"receipt": {{1, 2}, {3, 1 << 63}}, "av": {{5, 6}}}
	got, err := decodeChunk(encodeChunk(keys))
	if err != nil || len(got) != 2 || got["receipt"][1] != keys["receipt"][1] || got["av"][0] != keys["av"][0] {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	b := encodeChunk(keys)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0), {0x05}} {
		if _, err := decodeChunk(bad); err == nil {
			t.Errorf("decodeChunk(%x) accepted", bad)
		}
	}
}

func TestResetPosition_KeepsWhatWasDeliveredAndDropsThePosition(t *testing.T) {
	sets := map[string][]byte{"receipt": {1}, "migration/counts": {0}, tailPrefix + "3": {0}}
	for _, tt := range []struct {
		name     string
		data     string
		wantKeep string
		wantDrop int
	}{
		{"1.0 with files", `{"v":1,"token":"t","start":"2026-11-20T00:00:00Z","files":["a.zip"],"newest":{"receipt":"2026-11-22T00:00:00Z"}}`,
			`{"v":1,"token":"","files":["a.zip"],"newest":{"receipt":"2026-11-22T00:00:00Z"}}`, 0},
		{"1.0 token only", `{"v":1,"token":"t"}`, "", 0},
		{"2.0 batch", `{"v":1,"types":{"receipt":{"cursor":"c","done":1,"start":"2026-11-22"}}}`, "", 2},
		{"time window", `{"v":1,"end":"2026-11-22T00:00:00Z"}`, "", 2},
	} {
		keep, drop := resetPosition([]byte(tt.data), sets)
		if string(keep) != tt.wantKeep || len(drop) != tt.wantDrop {
			t.Errorf("%s: keep %s, drop %v; want %s and %d dropped", tt.name, keep, drop, tt.wantKeep, tt.wantDrop)
		}
	}
}
