package collector

import (
	"encoding/binary"
	"errors"
	"hash/crc64"
	"slices"
	"strconv"
	"strings"
)

// maxKeyIntervals bounds a keySet. API 2.0 SIEM records are identified by
// (_partition, _offset), and a file's records of one partition have
// consecutive offsets, so one interval stands for a whole file or more;
// records identified by a hash take an interval each. Beyond the bound the
// lowest intervals (the oldest offsets) are dropped: a replay of those
// records is then sent again, nothing is ever skipped wrongly.
const maxKeyIntervals = 10000

// keySet is an exact set of 64-bit record keys kept as sorted, disjoint,
// non-adjacent closed intervals. It is the batch streams' duplicate
// filter: saved with the position it belongs to (store.Progress.Sets), so
// it survives restarts, and consulted for every record before it is sent.
type keySet struct {
	iv    []interval
	dirty bool // changed since last encoded
}

type interval struct{ lo, hi uint64 }

// find returns the index of the first interval whose hi is >= k.
func (s *keySet) find(k uint64) int {
	i, _ := slices.BinarySearchFunc(s.iv, k, func(v interval, k uint64) int {
		switch {
		case v.hi < k:
			return -1
		case v.hi > k:
			return 1
		}
		return 0
	})
	return i
}

func (s *keySet) has(k uint64) bool {
	i := s.find(k)
	return i < len(s.iv) && s.iv[i].lo <= k
}

// add inserts k, merging it with the intervals it touches.
func (s *keySet) add(k uint64) {
	i := s.find(k)
	if i < len(s.iv) && s.iv[i].lo <= k {
		return
	}
	s.dirty = true
	joinPrev := i > 0 && s.iv[i-1].hi+1 == k
	joinNext := i < len(s.iv) && k+1 == s.iv[i].lo
	switch {
	case joinPrev && joinNext:
		s.iv[i-1].hi = s.iv[i].hi
		s.iv = slices.Delete(s.iv, i, i+1)
	case joinPrev:
		s.iv[i-1].hi = k
	case joinNext:
		s.iv[i].lo = k
	default:
		s.iv = slices.Insert(s.iv, i, interval{k, k})
		if len(s.iv) > maxKeyIntervals {
			s.iv = slices.Delete(s.iv, 0, len(s.iv)-maxKeyIntervals)
		}
	}
}

// encode writes the set compactly: each interval as the uvarint gap from
// the previous one's end and its length.
func (s *keySet) encode() []byte {
	s.dirty = false
	b := make([]byte, 0, len(s.iv)*6)
	var prev uint64
	for _, v := range s.iv {
		b = binary.AppendUvarint(b, v.lo-prev)
		b = binary.AppendUvarint(b, v.hi-v.lo)
		prev = v.hi
	}
	return b
}

var errBadKeySet = errors.New("reading the duplicate filter: malformed delivered-record set")

func decodeKeySet(b []byte) (*keySet, error) {
	ks := &keySet{}
	var prev uint64
	for len(b) > 0 {
		gap, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errBadKeySet
		}
		b = b[n:]
		length, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errBadKeySet
		}
		b = b[n:]
		lo := prev + gap
		if (len(ks.iv) > 0 && lo <= prev+1) || lo+length < lo {
			return nil, errBadKeySet
		}
		ks.iv = append(ks.iv, interval{lo, lo + length})
		prev = lo + length
	}
	return ks, nil
}

// partitionOffsetKey is the exact 64-bit key of an API 2.0 record
// identified by "<_partition>:<_offset>" (partition in the top 24 bits,
// offset in the low 40), so a file's keys form one interval. ok is false
// for any other ID.
func partitionOffsetKey(id string) (k uint64, ok bool) {
	p, o, found := strings.Cut(id, ":")
	if !found {
		return 0, false
	}
	pn, err1 := strconv.ParseUint(p, 10, 24)
	on, err2 := strconv.ParseUint(o, 10, 40)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return pn<<40 | on, true
}

// crcTable is the table of contentKey's CRC-64.
var crcTable = crc64.MakeTable(crc64.ECMA)

// contentKey is the key of a record without (_partition, _offset): the
// CRC-64 of its bytes (the canonical record: a file served again has the
// same bytes), mixed with the number of byte-identical records before it
// in the same file (counted in copies, one map per file), so identical
// records of one file are told apart. Fields such as processingId repeat
// across a message's events and are not enough on their own: a key of
// them could drop a real event.
func contentKey(raw []byte, copies map[uint64]uint64) uint64 {
	h := crc64.Checksum(raw, crcTable)
	n := copies[h]
	copies[h] = n + 1
	return h ^ n*0x9E3779B97F4A7C15
}

// hashKey is the 64-bit FNV-1a hash of s.
func hashKey(s string) uint64 { return fnvAdd(fnvOffset, s) }

// fnvOffset starts a 64-bit FNV-1a hash; fnvAdd hashes b into h. Written
// out: hash/fnv would allocate on these per-record paths.
const fnvOffset = 14695981039346656037

func fnvAdd[T string | []byte](h uint64, b T) uint64 {
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}
