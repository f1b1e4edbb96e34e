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
	kind       *siemKind
	st         *siemType
	seed       uint64
	idSeed     uint64 // seeds the aggregateId of each record
	first      int64  // account-wide index of the first record
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
		g.agg = uid(f.idSeed, idx) + "_" + sec
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

// siemKind is one of the two SIEM products: Cloud Gateway (stream siem,
// both API generations) and Cloud Integrated (stream siem_ci, API 2.0 batch
// files only). Each has its own file queue per account.
type siemKind struct {
	stream model.Stream
	path   string // the 2.0 batch endpoint
	types  []*siemType
	prefix string // of storage object names
}

var (
	kindCG = &siemKind{stream: model.StreamSIEM, path: "/siem/v1/batch/events/cg", types: siemTypes}
	kindCI = &siemKind{stream: model.StreamSIEMCI, path: "/siem/v1/batch/events/ci", types: ciTypes, prefix: "ci-"}
)

// kindFor returns the SIEM kind of stream siem or siem_ci.
func kindFor(stream model.Stream) *siemKind {
	if stream == model.StreamSIEMCI {
		return kindCI
	}
	return kindCG
}

// siemQueue is one of an account's SIEM file queues.
type siemQueue struct {
	files []*siemFile
	next  int64 // index of the next record (ids, _offset)
	count int
}

func (a *account) queue(k *siemKind) *siemQueue {
	if k == kindCI {
		return &a.ci
	}
	return &a.cg
}

// typeByV2 returns the kind's type with this 2.0 wire name, or nil.
func (k *siemKind) typeByV2(name string) *siemType {
	for _, t := range k.types {
		if t.v2 == name {
			return t
		}
	}
	return nil
}

// typeCount is how many records of a type to generate.
type typeCount struct {
	st *siemType
	n  int
}

// splitByWeight spreads n records over the log types like a real tenant:
// for Cloud Gateway mostly receipt/process/delivery. Every type gets at
// least one record when n allows.
func splitByWeight(types []*siemType, n int) []typeCount {
	out := make([]typeCount, len(types))
	for i, st := range types {
		out[i].st = st
	}
	if n < len(types) {
		byWeight := slices.Clone(out)
		slices.SortStableFunc(byWeight, func(a, b typeCount) int { return b.st.weight - a.st.weight })
		for i := range n {
			byWeight[i].n = 1
		}
		return byWeight
	}
	rest := n - len(types)
	given := 0
	for i := range out {
		out[i].n = 1 + rest*out[i].st.weight/100
		given += out[i].n - 1
	}
	out[0].n += rest - given // rounding remainder to the first (largest) type
	return out
}

// addSIEM generates files of kind k for counts with record times spread
// over [from, to], renders them in parallel and appends them to the queue.
func (s *Sim) addSIEM(a *account, k *siemKind, counts []typeCount, from, to time.Time) {
	a.genMu.Lock()
	defer a.genMu.Unlock()

	per := s.opts.RecordsPerFile
	span := to.UnixMilli() - from.UnixMilli()
	var plans []*siemFile
	total := 0
	for _, tc := range counts {
		for part := 0; part*per < tc.n; part++ {
			cnt := min(per, tc.n-part*per)
			plans = append(plans, &siemFile{
				kind:  k,
				st:    tc.st,
				count: cnt,
				start: from.UnixMilli() + span*int64(part*per)/int64(tc.n),
				end:   from.UnixMilli() + span*int64(part*per+cnt)/int64(tc.n),
			})
			total += cnt
		}
	}
	// Files of different types interleave in the queue by time, as files
	// from different MTA servers do.
	slices.SortStableFunc(plans, func(x, y *siemFile) int { return int(x.start - y.start) })

	q := a.queue(k)
	s.mu.RLock()
	base := int64(len(q.files))
	// Pre-render what the account's credentials can ask for; anything else
	// is rendered when requested.
	wantV2 := a.ClientID != "" || a.AppID == "" || k == kindCI
	wantV1 := !s.opts.RenderOnDemand && a.AppID != "" && s.opts.V1FilesPerZip == 1 && k == kindCG
	s.mu.RUnlock()
	idSeed := a.seed
	if k == kindCI {
		idSeed = mix(a.seed, 0xC1) // aggregateIds distinct from the Cloud Gateway queue's
	}
	for i, f := range plans {
		f.seq = base + int64(i) + 1
		f.first = q.next
		q.next += int64(f.count)
		f.seed = mix(idSeed, uint64(f.seq))
		f.idSeed = idSeed
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
	q.files = append(q.files, plans...)
	q.count += total
	s.mu.Unlock()
}

// GenerateSIEM adds n SIEM records of one log type (a model.Log* name, or a
// Cloud Integrated type ci_entities, ci_mailflow or ci_urlclick) to the
// account's queue, in files of Options.RecordsPerFile records, with times
// spread over the last Options.Spread.
func (s *Sim) GenerateSIEM(accountName, logType string, n int) {
	k, st := kindCG, siemTypeByLog(logType)
	if st == nil {
		k, st = kindCI, ciTypeByLog(logType)
	}
	if st == nil {
		panic(fmt.Sprintf("mimecastsim: unknown SIEM log type %q", logType))
	}
	now := s.now()
	s.addSIEM(s.mustAccount(accountName), k, []typeCount{{st, n}}, now.Add(-s.opts.Spread), now)
}

// Generate adds n records of the stream to the account, with times spread
// over the last Options.Spread. SIEM and siem_ci records are spread over
// their log types; for threat intel n is the number of indicators; for
// awareness_training n users are added (see Awareness). A stream the
// simulator does not know is skipped with a warning.
func (s *Sim) Generate(accountName string, stream model.Stream, n int) {
	a := s.mustAccount(accountName)
	now := s.now()
	from := now.Add(-s.opts.Spread)
	switch stream {
	case model.StreamSIEM, model.StreamSIEMCI:
		k := kindFor(stream)
		s.addSIEM(a, k, splitByWeight(k.types, n), from, now)
	case model.StreamAwarenessTraining:
		s.addAwareness(a, n)
	default:
		s.addLogs(a, stream, n, from, now)
	}
}

// purged reports whether f is past the 7-day retention.
func (s *Sim) purged(f *siemFile, now time.Time) bool {
	return f.end < now.Add(-retention).UnixMilli()
}
