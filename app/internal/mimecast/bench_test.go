package mimecast

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"mimecast-qradar/app/internal/model"
)

// benchRecords builds n realistic API 2.0 SIEM lines by cycling through the
// batch-file samples with fresh offsets and timestamps.
func benchRecords(b *testing.B, n int) []byte {
	var samples [][]byte
	for _, name := range []string{"siem-v2-receipt.jsonl", "siem-v2-process.jsonl", "siem-v2-delivery.jsonl",
		"siem-v2-journal.jsonl", "siem-v2-spam.jsonl", "siem-v2-internal-email-protect.jsonl", "siem-v2-attachment-protect.jsonl"} {
		samples = append(samples, sampleLines(b, name)...)
	}
	offset := regexp.MustCompile(`"_offset":\d+`)
	ts := regexp.MustCompile(`"timestamp":\d+`)
	// Identifiers and addresses vary per record in real files; random ones
	// keep the compression ratio realistic.
	ids := regexp.MustCompile(`"(aggregateId|processingId|messageId|recipients|senderEnvelope)":"[^"]*"`)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	random := func(k int) []byte {
		out := make([]byte, k)
		for i := range out {
			out[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return out
	}
	var buf bytes.Buffer
	for i := range n {
		line := samples[i%len(samples)]
		line = offset.ReplaceAll(line, fmt.Appendf(nil, `"_offset":%d`, 100000+i))
		line = ts.ReplaceAll(line, fmt.Appendf(nil, `"timestamp":%d`, 1731451448010+int64(i)*37))
		line = ids.ReplaceAllFunc(line, func(m []byte) []byte {
			name := m[:bytes.IndexByte(m[1:], '"')+2]
			return fmt.Appendf(nil, `%s:"%s@%s.example"`, name, random(22), random(6))
		})
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkDownloadSIEMFile measures the hot path: HTTP download of a
// pre-signed gzip NDJSON file, gunzip, line split, record scan and callback.
func BenchmarkDownloadSIEMFile(b *testing.B) {
	const n = 50000
	plain := benchRecords(b, n)
	body := gzipBytes(b, plain)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	c, err := New(v2Creds(srv.URL), Options{HTTPClient: srv.Client(), AllowedOrigins: []string{srv.URL}})
	if err != nil {
		b.Fatal(err)
	}
	f := BatchFile{URL: srv.URL + "/f.json.gz?X-Amz-Signature=x", LogType: model.LogReceipt}
	var bytesSeen int64
	fn := func(r *model.Record) error {
		bytesSeen += int64(len(r.Raw))
		if r.Time.IsZero() || r.ID == "" {
			b.Fatal("record without time or id")
		}
		return nil
	}
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		stats, err := c.DownloadSIEMFile(b.Context(), f, fn)
		if err != nil || stats.Records != n {
			b.Fatalf("%+v %v", stats, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(len(body))/float64(n), "gz-bytes/record")
}

// BenchmarkDecodeNDJSON isolates line splitting and record scanning.
func BenchmarkDecodeNDJSON(b *testing.B) {
	const n = 50000
	plain := benchRecords(b, n)
	d, _ := testDecoder(kindSIEMv2, DefaultMaxRecordBytes)
	d.fn = func(*model.Record) error { return nil }
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		d.stats = DecodeStats{}
		if err := d.gzipNDJSON(bytes.NewReader(plain), 1<<30); err != nil || d.stats.Records != n {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGunzipFloor is the floor of design §9 for the same data: gunzip
// and split lines, nothing else.
func BenchmarkGunzipFloor(b *testing.B) {
	const n = 50000
	body := gzipBytes(b, benchRecords(b, n))
	b.ReportAllocs()
	for b.Loop() {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReaderSize(zr, 64<<10)
		lines := 0
		for {
			_, err := br.ReadSlice('\n')
			if err != nil {
				break
			}
			lines++
		}
		if lines != n {
			b.Fatal(lines)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
