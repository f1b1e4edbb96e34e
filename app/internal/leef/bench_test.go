package leef

import (
	"strings"
	"testing"

	"mimecast-qradar/app/internal/model"
)

// benchmarkRecords formats recs round-robin; one op is one event, and
// MB/s counts the records' JSON bytes.
func benchmarkRecords(b *testing.B, recs []model.Record) {
	f := newFormatter()
	total := 0
	for _, r := range recs {
		total += len(r.Raw)
	}
	b.SetBytes(int64(total / len(recs)))
	b.ReportAllocs()
	buf := make([]byte, 0, 64<<10)
	var err error
	i := 0
	for b.Loop() {
		buf, err = f.AppendRecord(buf[:0], testAccount, &recs[i])
		if err != nil {
			b.Fatal(err)
		}
		if i++; i == len(recs) {
			i = 0
		}
	}
}

// BenchmarkAppendRecord formats the real API 2.0 SIEM sample records.
func BenchmarkAppendRecord(b *testing.B) {
	var recs []model.Record
	for _, sf := range sampleFiles(b) {
		if strings.HasPrefix(sf.Name, "siem-v2-") {
			recs = append(recs, sf.records(b)...)
		}
	}
	benchmarkRecords(b, recs)
}

// BenchmarkAppendRecordAllSamples formats every sample of every log type.
func BenchmarkAppendRecordAllSamples(b *testing.B) {
	var recs []model.Record
	for _, sf := range sampleFiles(b) {
		recs = append(recs, sf.records(b)...)
	}
	benchmarkRecords(b, recs)
}

// BenchmarkAppendRecordTruncated formats records cut to a UDP-sized limit.
func BenchmarkAppendRecordTruncated(b *testing.B) {
	var recs []model.Record
	for _, sf := range sampleFiles(b) {
		if strings.HasPrefix(sf.Name, "siem-v2-") {
			recs = append(recs, sf.records(b)...)
		}
	}
	f := newFormatter()
	f.MaxLen = 600
	b.ReportAllocs()
	buf := make([]byte, 0, 64<<10)
	i := 0
	for b.Loop() {
		buf, _ = f.AppendRecord(buf[:0], testAccount, &recs[i])
		if i++; i == len(recs) {
			i = 0
		}
	}
}
