package bench

import (
	"context"
	"flag"
	"net/http"
	"runtime"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

var benchRecords = flag.Int("bench.records", 100_000, "SIEM backlog of the package's benchmarks")

// benchSim returns a simulator holding a backlog of n SIEM records for the
// demo account's api credentials.
func benchSim(b *testing.B, api string, n int) *mimecastsim.Sim {
	b.Helper()
	sim := mimecastsim.New(mimecastsim.Options{Seed: 1})
	sim.AddAccount(simAccount(api))
	sim.Generate(mimecastsim.DemoAccountName, model.StreamSIEM, n)
	return sim
}

// BenchmarkCollect runs the real collector's pass over a SIEM backlog (100k
// records; -bench.records=N to change) into a TCP syslog receiver, all in
// this process. One op is one whole pass; events/s, allocs/event and
// B/event are per record. The allocation figures include the simulator's
// and the receiver's (a few per file, none per record); `scripts/bench.sh`
// measures the collector alone in its own process, with its peak RSS.
func BenchmarkCollect(b *testing.B) {
	for _, api := range []string{model.APIVersion2, model.APIVersion1} {
		b.Run("api="+api, func(b *testing.B) {
			n := *benchRecords
			w := newWorld(b, api, benchSim(b, api, n))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			passes := 0
			for b.Loop() {
				b.StopTimer()
				w.reset(b)
				b.StartTimer()
				if got := w.collect(b); got < int64(n) {
					b.Fatalf("received %d messages for %d records", got, n)
				}
				passes++
			}
			runtime.ReadMemStats(&after)
			events := float64(n * passes)
			b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/events, "B/event")
		})
	}
}

// BenchmarkFloor fetches the same backlog as BenchmarkCollect the least
// expensive way: download, decompress, split into lines going nowhere.
func BenchmarkFloor(b *testing.B) {
	for _, api := range []string{model.APIVersion2, model.APIVersion1} {
		b.Run("api="+api, func(b *testing.B) {
			n := *benchRecords
			w := newWorld(b, api, benchSim(b, api, n))
			hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			defer hc.CloseIdleConnections()
			var bytes int64
			for b.Loop() {
				var res FloorResult
				var err error
				if api == model.APIVersion1 {
					res, err = FloorV1(context.Background(), hc, w.srv.URL, V1Keys{AppID: w.acct.AppID, AppKey: w.acct.AppKey,
						AccessKey: w.acct.AccessKey, SecretKey: w.acct.SecretKey})
				} else {
					res, err = FloorV2(context.Background(), hc, w.srv.URL, w.acct.ClientID, w.acct.ClientSecret, time.Now().Add(-24*time.Hour))
					if err == nil && res.Records != int64(n) {
						b.Fatalf("the floor read %d records, want %d", res.Records, n)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				bytes = res.Bytes
			}
			b.SetBytes(bytes)
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
