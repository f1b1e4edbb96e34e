package collector

import (
	"hash/fnv"
	"math/rand/v2"
	"testing"

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

func TestRecordKey(t *testing.T) {
	h := fnv.New64a()
	h.Write([]byte("audit-123"))
	for _, tc := range []struct {
		id   string
		want uint64
		ok   bool
	}{
		{"60:70936", 60<<40 | 70936, true},
		{"0:0", 0, true},
		{"audit-123", h.Sum64(), true},
		{"", 0, false},
	} {
		got, ok := recordKey(&model.Record{ID: tc.id})
		if got != tc.want || ok != tc.ok {
			t.Errorf("recordKey(%q) = %d, %v; want %d, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
}
