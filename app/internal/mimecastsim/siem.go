package mimecastsim

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"mimecast-qradar/app/internal/model"
)

// retention is how long Mimecast keeps SIEM files (reference §3.1).
const retention = 7 * 24 * time.Hour

// siemFile is one file of an account's SIEM queue: records of one log type.
// Its records are regenerated from seed whenever they are needed in a form
// that was not pre-rendered, so only the compressed bytes stay in memory.
// A published siemFile is never modified.
type siemFile struct {
	seq        int64 // 1-based position in the account's queue (arrival order)
	st         *siemType
	seed       uint64
	first      int64 // account-wide index of the first record
	count      int
	start, end int64 // record times lie in [start, end], epoch ms
	partition  int64

	gz     []byte // API 2.0 file: gzip NDJSON
	gzSize int    // len of the API 2.0 file, also when gz is not kept
	v1zip  []byte // API 1.0 reply with fileFormat json and compress true
}

func (f *siemFile) time() time.Time { return time.UnixMilli(f.end).UTC() }

// v1Name is the API 1.0 file name: <prefix>_<yyyyMMddHHmmssSSS>.<ext>.
func (f *siemFile) v1Name(ext string) string {
	t := f.time()
	return f.st.v1 + "_" + t.Format("20060102150405") + fmt.Sprintf("%03d", t.Nanosecond()/1e6) + "." + ext
}

// forEachRecord generates the records of f in form fm. rec is reused
// between calls.
func forEachRecord(a *account, f *siemFile, fm form, fn func(id string, t time.Time, rec []byte)) {
	g := newGen(a, f.seed, uint64(f.seq), fm)
	g.st = f.st
	slot := (f.end - f.start) / int64(f.count)
	for j := range f.count {
		ms := f.start + slot*int64(j)
		if slot > 0 {
			ms += g.r.Int64N(slot)
		}
		idx := f.first + int64(j)
		sec := strconv.FormatInt(ms/1000, 10)
		g.t = time.UnixMilli(ms).UTC()
		g.agg = uid(a.seed, idx) + "_" + sec
		g.proc = g.b64(32) + "_" + sec
		g.offset = idx
		g.part = f.partition
		g.w.b = g.w.b[:0]
		g.w.begin()
		f.st.gen(g)
		g.w.end()
		fn(g.agg, g.t, g.w.b)
	}
}

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// renderV2 returns the NDJSON of f, gzipped. malformedAt >= 0 inserts a line
// that is not JSON before that record.
func renderV2(a *account, f *siemFile, malformedAt int) []byte {
	out := bytes.NewBuffer(make([]byte, 0, f.count*180))
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(out)
	chunk := make([]byte, 0, 64<<10)
	i := 0
	forEachRecord(a, f, formV2, func(_ string, _ time.Time, rec []byte) {
		if i == malformedAt {
			chunk = append(chunk, malformedLine...)
		}
		i++
		chunk = append(chunk, rec...)
		chunk = append(chunk, '\n')
		if len(chunk) > 60<<10 {
			zw.Write(chunk)
			chunk = chunk[:0]
		}
	})
	zw.Write(chunk)
	zw.Close()
	gzipWriters.Put(zw)
	return out.Bytes()
}

// malformedLine is what FaultMalformedRecord inserts into NDJSON and
// key_value files: a cut-off record.
const malformedLine = "{\"accountId\":\"C0A0\",\"aggregateId\":\"broken-record\",\"timestamp\":17\n"

// v1Format selects the API 1.0 file rendering.
type v1Format struct {
	kv       bool
	compress bool
}

// renderV1File returns one API 1.0 file: a JSON document
// {"type":"MTA","data":[...]} or key_value lines. malformedAt >= 0 inserts
// a record that cannot be read (a non-object element, or a line that is not
// key=value) before that record.
func renderV1File(a *account, f *siemFile, kv bool, malformedAt int) []byte {
	b := make([]byte, 0, f.count*700)
	fm := formV1JSON
	if kv {
		fm = formV1KV
	} else {
		b = append(b, `{"type":"MTA","data":[`...)
	}
	i := 0
	forEachRecord(a, f, fm, func(_ string, _ time.Time, rec []byte) {
		if kv {
			if i == malformedAt {
				b = append(b, "this line is not a key_value record\n"...)
			}
			b = append(b, rec...)
			b = append(b, '\n')
		} else {
			if i > 0 {
				b = append(b, ',')
			}
			if i == malformedAt {
				b = append(b, `"not a record",`...)
			}
			b = append(b, rec...)
		}
		i++
	})
	if !kv {
		b = append(b, "]}"...)
	}
	return b
}

// renderV1Zip returns the zip of one or more API 1.0 files.
func renderV1Zip(a *account, files []*siemFile, kv bool, malformedAt int) []byte {
	buf := bytes.NewBuffer(make([]byte, 0, len(files)*files[0].count*150))
	zw := zip.NewWriter(buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	ext := "json"
	if kv {
		ext = "log"
	}
	for i, f := range files {
		m := malformedAt
		if i > 0 {
			m = -1
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.v1Name(ext), Method: zip.Deflate, Modified: f.time()})
		if err != nil {
			panic(err) // writing to memory cannot fail
		}
		w.Write(renderV1File(a, f, kv, m))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// typeCount is how many records of a type to generate.
type typeCount struct {
	st *siemType
	n  int
}

// splitByWeight spreads n records over the ten log types like a real
// tenant: mostly receipt/process/delivery. Every type gets at least one
// record when n allows.
func splitByWeight(n int) []typeCount {
	out := make([]typeCount, len(siemTypes))
	for i, st := range siemTypes {
		out[i].st = st
	}
	if n < len(siemTypes) {
		byWeight := slices.Clone(out)
		slices.SortStableFunc(byWeight, func(a, b typeCount) int { return b.st.weight - a.st.weight })
		for i := range n {
			byWeight[i].n = 1
		}
		return byWeight
	}
	rest := n - len(siemTypes)
	given := 0
	for i := range out {
		out[i].n = 1 + rest*out[i].st.weight/100
		given += out[i].n - 1
	}
	out[0].n += rest - given // rounding remainder to receipt
	return out
}

// addSIEM generates files for counts with record times spread over
// [from, to], renders them in parallel and appends them to the queue.
func (s *Sim) addSIEM(a *account, counts []typeCount, from, to time.Time) {
	a.genMu.Lock()
	defer a.genMu.Unlock()

	per := s.opts.RecordsPerFile
	span := to.UnixMilli() - from.UnixMilli()
	var plans []*siemFile
	total := 0
	for _, tc := range counts {
		for k := 0; k*per < tc.n; k++ {
			cnt := min(per, tc.n-k*per)
			plans = append(plans, &siemFile{
				st:    tc.st,
				count: cnt,
				start: from.UnixMilli() + span*int64(k*per)/int64(tc.n),
				end:   from.UnixMilli() + span*int64(k*per+cnt)/int64(tc.n),
			})
			total += cnt
		}
	}
	// Files of different types interleave in the queue by time, as files
	// from different MTA servers do.
	slices.SortStableFunc(plans, func(x, y *siemFile) int { return int(x.start - y.start) })

	s.mu.RLock()
	base := int64(len(a.files))
	// Pre-render what the account's credentials can ask for; anything else
	// is rendered when requested.
	wantV2 := a.ClientID != "" || a.AppID == ""
	wantV1 := !s.opts.RenderOnDemand && a.AppID != "" && s.opts.V1FilesPerZip == 1
	s.mu.RUnlock()
	for i, f := range plans {
		f.seq = base + int64(i) + 1
		f.first = a.siemIndex
		a.siemIndex += int64(f.count)
		f.seed = mix(a.seed, uint64(f.seq))
		f.partition = int64(f.seed % 200)
	}

	work := make(chan *siemFile)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for f := range work {
				if wantV2 {
					// Batch listings give each file's size, so it is
					// measured even when the bytes are not kept.
					gz := renderV2(a, f, -1)
					f.gzSize = len(gz)
					if !s.opts.RenderOnDemand {
						f.gz = gz
					}
				}
				if wantV1 {
					f.v1zip = renderV1Zip(a, []*siemFile{f}, false, -1)
				}
			}
		})
	}
	for _, f := range plans {
		work <- f
	}
	close(work)
	wg.Wait()

	s.mu.Lock()
	a.files = append(a.files, plans...)
	a.siemCount += total
	s.mu.Unlock()
}

// GenerateSIEM adds n SIEM records of one log type (a model.Log* name) to
// the account's queue, in files of Options.RecordsPerFile records, with
// times spread over the last Options.Spread.
func (s *Sim) GenerateSIEM(accountName, logType string, n int) {
	st := siemTypeByLog(logType)
	if st == nil {
		panic(fmt.Sprintf("mimecastsim: unknown SIEM log type %q", logType))
	}
	now := s.now()
	s.addSIEM(s.mustAccount(accountName), []typeCount{{st, n}}, now.Add(-s.opts.Spread), now)
}

// Generate adds n records of the stream to the account, with times spread
// over the last Options.Spread. SIEM records are spread over the ten log
// types. Streams the simulator does not serve (message_release,
// archive_search, threat intel, siem_ci, awareness_training) are skipped
// with a warning.
func (s *Sim) Generate(accountName string, stream model.Stream, n int) {
	a := s.mustAccount(accountName)
	now := s.now()
	from := now.Add(-s.opts.Spread)
	if stream == model.StreamSIEM {
		s.addSIEM(a, splitByWeight(n), from, now)
		return
	}
	s.addLogs(a, stream, n, from, now)
}

// purged reports whether f is past the 7-day retention.
func (s *Sim) purged(f *siemFile, now time.Time) bool {
	return f.end < now.Add(-retention).UnixMilli()
}
