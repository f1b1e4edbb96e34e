package collector

import (
	"context"
	"testing"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/syslogrecv"
)

// BenchmarkCollector_SIEMBatch measures the whole path for API 2.0 SIEM
// files: simulator → client → LEEF → TCP syslog receiver (counting only),
// with a checkpoint commit per file.
func BenchmarkCollector_SIEMBatch(b *testing.B) {
	e := newTestEnv(b, mimecastsim.Options{RecordsPerFile: 5000})
	recv, err := syslogrecv.Listen("127.0.0.1:0", syslogrecv.Options{Discard: true})
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	e.recv = recv
	a := e.addAccount("bench", model.APIVersion2, model.StreamSIEM)
	const records = 100_000
	e.sim.Generate(a.Name, model.StreamSIEM, records)
	c, err := New(e.options())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := e.store.DeleteCheckpoint(context.Background(), a.ID, model.StreamSIEM); err != nil {
			b.Fatal(err)
		}
		if err := c.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
	c.Stop(context.Background())
}
