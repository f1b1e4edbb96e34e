package bench

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// repeatingStorage serves every SIEM file download as the simulator's real
// file repeated, in gzip's stored blocks, so a download of any size costs
// the server one rendered file of memory. Each repetition's records get offsets
// of their own: the same offsets again would be the same records, which the
// collector's duplicate filter rightly does not send twice.
type repeatingStorage struct {
	sim     http.Handler
	repeats int

	mu     sync.Mutex
	member []byte
}

// fileSize is the size of the file last rendered by the simulator, as
// served: uncompressed.
func (s *repeatingStorage) fileSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.member)
}

func (s *repeatingStorage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/storage/") {
		s.sim.ServeHTTP(w, r)
		return
	}
	// The simulator checks the URL's signature and expiry and renders the
	// file; only then is it served many times over.
	rec := httptest.NewRecorder()
	s.sim.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	// The file is decompressed once, before the heap is measured: the
	// server's work must not count as the collector's.
	s.mu.Lock()
	if s.member == nil {
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		if err == nil {
			s.member, err = io.ReadAll(zr)
		}
		if err != nil {
			s.mu.Unlock()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	plain := s.member
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/octet-stream")
	// Stored (uncompressed) deflate blocks: a compressor's own tables
	// would count against the heap measured, which is the collector's.
	zw, _ := gzip.NewWriterLevel(w, gzip.NoCompression)
	defer zw.Close()
	var line []byte
	for rep := range s.repeats {
		for rest := plain; len(rest) > 0; {
			var l []byte
			l, rest, _ = bytes.Cut(rest, []byte("\n"))
			line = appendShifted(line[:0], l, int64(rep)*1_000_000)
			if _, err := zw.Write(line); err != nil {
				return
			}
		}
	}
}

// appendShifted appends the record rec to b with d added to its "_offset"
// value, and a newline; it allocates nothing once b is large enough.
func appendShifted(b, rec []byte, d int64) []byte {
	i := bytes.Index(rec, []byte(`"_offset":`))
	if i < 0 {
		return append(append(b, rec...), '\n')
	}
	start := i + len(`"_offset":`)
	end, n := start, int64(0)
	for ; end < len(rec) && rec[end] >= '0' && rec[end] <= '9'; end++ {
		n = n*10 + int64(rec[end]-'0')
	}
	b = append(b, rec[:start]...)
	b = strconv.AppendInt(b, n+d, 10)
	return append(append(b, rec[end:]...), '\n')
}

// heapPeak samples the heap in use (HeapInuse: spans holding objects, live
// or not yet swept) until stopped. Unlike TotalAlloc it does not grow with
// the amount of data that passed through, only with what is held at once.
type heapPeak struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func startHeapPeak() *heapPeak {
	p := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() {
		metrics.Read(samples)
		p.peak = max(p.peak, samples[0].Value.Uint64()+samples[1].Value.Uint64())
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-p.stop:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *heapPeak) Stop() uint64 {
	close(p.stop)
	<-p.done
	return p.peak
}

// TestCollector_HeapStaysBoundedWhileCollectingAFileFarLargerThanTheBudget
// guards the streaming property of issue #8: collecting one SIEM file whose
// gzip alone is several times the memory budget must keep the heap under
// that budget, so nothing holds a whole file, page or batch in memory.
func TestCollector_HeapStaysBoundedWhileCollectingAFileFarLargerThanTheBudget(t *testing.T) {
	const (
		budget  = 8 << 20 // peak heap in use while collecting
		perFile = 2000
	)
	gzipSize := 4 * budget // compressed bytes of the one file served
	if raceEnabled {
		gzipSize = budget * 3 / 2 // still more than the budget, in a third of the time
	}
	sim := mimecastsim.New(mimecastsim.Options{Seed: 8, RecordsPerFile: perFile})
	sim.AddAccount(simAccount(model.APIVersion2))
	sim.GenerateSIEM(mimecastsim.DemoAccountName, model.LogReceipt, perFile)
	storage := &repeatingStorage{sim: sim}
	w := newWorld(t, model.APIVersion2, storage)
	// Render the file once to size the repeats.
	storage.repeats = 1
	w.collect(t)
	w.reset(t)
	storage.repeats = gzipSize/storage.fileSize() + 1
	served := int64(storage.repeats) * int64(storage.fileSize())
	want := int64(storage.repeats) * perFile

	runtime.GC()
	peak := startHeapPeak()
	got := w.collect(t)
	maxHeap := peak.Stop()

	// One collector_health message accompanies the records.
	if got != want+1 {
		t.Fatalf("received %d messages, want %d records and 1 health event", got, want)
	}
	t.Logf("served %.1f MiB of gzip (%d records); peak heap in use %.1f MiB", float64(served)/(1<<20), want, float64(maxHeap)/(1<<20))
	if maxHeap > budget {
		t.Errorf("peak heap in use was %.1f MiB while collecting a %.0f MiB gzip file, above the %d MiB budget: something holds the file instead of streaming it",
			float64(maxHeap)/(1<<20), float64(served)/(1<<20), budget>>20)
	}
}
