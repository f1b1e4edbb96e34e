package collector

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// simClock is a simulator clock that a test can move back to generate
// records in the past (records the collector never saw, for backfills).
type simClock struct{ back atomic.Int64 }

func (c *simClock) now() time.Time { return time.Now().Add(-simLag - time.Duration(c.back.Load())) }

// at generates with the simulator's clock d in the past.
func (c *simClock) at(d time.Duration, generate func()) {
	c.back.Store(int64(d))
	defer c.back.Store(0)
	generate()
}

func TestCollector_SIEMFileServedAgainIsNotSentTwiceEvenAfterARestart(t *testing.T) {
	for _, version := range []string{model.APIVersion2, model.APIVersion1} {
		t.Run("API "+version, func(t *testing.T) { testFileServedAgain(t, version) })
	}
}

func testFileServedAgain(t *testing.T, version string) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", version, model.StreamSIEM)
	e.generate(a, 40)
	for range 3 {
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile})
	}
	if err := e.collector(nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A restart: a new collector on the same store; Mimecast serves files
	// delivered before the restart again.
	e.generate(a, 20)
	for range 3 {
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile})
	}
	if err := e.collector(nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.sim.PendingFaults() != 0 {
		t.Fatalf("%d duplicate-file faults were never served", e.sim.PendingFaults())
	}
	e.checkDelivery(e.settle(e.total(a)+2), a, 0)
}

func TestCollector_BackfillSendsOnlyRecordsQRadarNeverReceived(t *testing.T) {
	for _, tt := range []struct {
		version string
		stream  model.Stream
	}{
		{model.APIVersion2, model.StreamSIEM},
		{model.APIVersion2, model.StreamSIEMCI},
		{model.APIVersion2, model.StreamAudit},
		{model.APIVersion1, model.StreamTTPURL},
		{model.APIVersion2, model.StreamArchiveSearch}, // no ids: identical twins
		{model.APIVersion1, model.StreamSIEM},
	} {
		t.Run(tt.version+"/"+string(tt.stream), func(t *testing.T) {
			var clock simClock
			e := newTestEnv(t, mimecastsim.Options{Now: clock.now})
			a := e.addAccount("acme", tt.version, tt.stream)
			// Records of three days ago: before the 24 h initial lookback,
			// never collected.
			clock.at(72*time.Hour, func() { e.generate(a, 15) })
			old := e.total(a)
			e.generate(a, 20)
			c := e.collector(nil)
			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			recent := e.total(a) - old
			if n := len(e.settle(recent + 1)); n != recent+1 {
				t.Fatalf("first run: %d messages, want the %d recent records and a health event", n, recent)
			}

			now := time.Now()
			if err := c.Backfill(context.Background(), a.ID, tt.stream, now.Add(-96*time.Hour), now); err != nil {
				t.Fatal(err)
			}
			if err := c.Backfill(context.Background(), a.ID, tt.stream, now.Add(-96*time.Hour), now); !errors.Is(err, model.ErrBackfillPending) {
				t.Fatalf("second backfill request: %v, want ErrBackfillPending", err)
			}
			st, err := c.Status(context.Background())
			if err != nil || st.Accounts[0].Streams[0].Backfill == nil {
				t.Fatalf("status does not show the pending backfill: %+v %v", st, err)
			}
			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Every record exactly once: the old ones now, the recent ones
			// skipped by the duplicate filter.
			e.checkDelivery(e.settle(e.total(a)+2), a, 0)
			st, _ = c.Status(context.Background())
			if b := st.Accounts[0].Streams[0].Backfill; b != nil {
				t.Fatalf("backfill still pending after its run: %+v", b)
			}
		})
	}
}

func TestCollector_BackfillRequestValidation(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM, model.StreamAudit, model.StreamThreatIntelGrid)
	c := e.collector(nil)
	now := time.Now()
	for _, tt := range []struct {
		name     string
		stream   model.Stream
		from, to time.Time
	}{
		{"empty period", model.StreamAudit, now.Add(-time.Hour), now.Add(-time.Hour)},
		{"reversed period", model.StreamAudit, now.Add(-time.Hour), now.Add(-2 * time.Hour)},
		{"SIEM period older than 7 days", model.StreamSIEM, now.Add(-10 * 24 * time.Hour), now.Add(-8 * 24 * time.Hour)},
		{"a snapshot feed", model.StreamThreatIntelGrid, now.Add(-time.Hour), now},
		{"a stream the account does not collect", model.StreamDLP, now.Add(-time.Hour), now},
	} {
		if err := c.Backfill(context.Background(), a.ID, tt.stream, tt.from, tt.to); !errors.Is(err, model.ErrInvalidBackfill) {
			t.Errorf("%s: %v, want ErrInvalidBackfill", tt.name, err)
		}
	}
	// A start beyond the horizon is moved up to it, an end in the future
	// down to now.
	if err := c.Backfill(context.Background(), a.ID, model.StreamSIEM, now.Add(-30*24*time.Hour), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b, _, err := e.store.Backfill(context.Background(), a.ID, model.StreamSIEM)
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	if b.From.Before(now.Add(-7*24*time.Hour-time.Minute)) || b.To.After(time.Now()) {
		t.Errorf("backfill period %v – %v not clamped to the 7 days SIEM is kept", b.From, b.To)
	}
	if err := c.CancelBackfill(context.Background(), a.ID, model.StreamSIEM); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := e.store.Backfill(context.Background(), a.ID, model.StreamSIEM); b != nil {
		t.Fatal("backfill still pending after cancel")
	}
}

func TestCollector_BackfillContinuesOverSeveralRunsAndCanBeCancelled(t *testing.T) {
	for _, tt := range []struct {
		version string
		stream  model.Stream
	}{
		{model.APIVersion2, model.StreamSIEM},
		{model.APIVersion1, model.StreamSIEM},
		{model.APIVersion2, model.StreamAudit},
	} {
		stream := tt.stream
		t.Run(tt.version+"/"+string(stream), func(t *testing.T) {
			var clock simClock
			e := newTestEnv(t, mimecastsim.Options{Now: clock.now})
			a := e.addAccount("acme", tt.version, stream)
			clock.at(50*time.Hour, func() { e.generate(a, 30) })
			e.generate(a, 10)
			c := e.collector(nil)
			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := c.Backfill(context.Background(), a.ID, stream, now.Add(-60*time.Hour), now); err != nil {
				t.Fatal(err)
			}
			// A small budget: the backfill takes several runs, each resuming
			// from its saved position (a restart in between).
			var last int64
			runs := 0
			for ; runs < 40; runs++ {
				c = e.collector(nil)
				c.maxFiles = 5
				r, err := c.startRun(context.Background(), a, "test")
				if err != nil {
					t.Fatal(err)
				}
				<-r.done
				st, _ := c.Status(context.Background())
				b := st.Accounts[0].Streams[0].Backfill
				if b == nil {
					break
				}
				if b.Delivered < last {
					t.Fatalf("backfill progress went back: %d after %d", b.Delivered, last)
				}
				last = b.Delivered
			}
			if runs < 2 || runs == 40 {
				t.Fatalf("backfill took %d runs, want several and an end", runs)
			}
			// The records and a health event per run (the first, and
			// runs+1 in the loop).
			e.checkDelivery(e.settle(e.total(a)+runs+2), a, 0)

			// A cancelled backfill sends nothing more.
			if err := c.Backfill(context.Background(), a.ID, stream, now.Add(-60*time.Hour), now); err != nil {
				t.Fatal(err)
			}
			if err := c.CancelBackfill(context.Background(), a.ID, stream); err != nil {
				t.Fatal(err)
			}
			before := len(e.settle(0))
			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := len(e.settle(before + 1)); got != before+1 {
				t.Fatalf("after the cancelled backfill's run: %d new messages, want only the health event", got-before)
			}
		})
	}
}

func TestCollector_BatchRecordsWithoutOffsetsAreNeverTakenForOneAnother(t *testing.T) {
	// Records without _partition/_offset that share every field a
	// fingerprint would use (processingId, aggregateId, timestamp) and
	// differ elsewhere are all delivered; identical records in one file
	// too; and a file served again sends nothing.
	e := newTestEnv(t, mimecastsim.Options{})
	e.addAccount("acme", model.APIVersion2, model.StreamSIEM)
	common := `"processingId":"p1","aggregateId":"g1","timestamp":1795450000000,"type":"receipt"`
	file := []string{
		`{` + common + `,"recipients":"a@example.com"}`,
		`{` + common + `,"recipients":"b@example.com"}`,
		`{` + common + `,"recipients":"b@example.com"}`,
	}
	pages := map[string]mimecast.BatchPage{
		"":   {Files: []mimecast.BatchFile{{URL: "f1", LogType: model.LogReceipt}}, NextPage: "p2"},
		"p2": {Files: []mimecast.BatchFile{{URL: "f1again", LogType: model.LogReceipt}}, NextPage: "p3"},
		"p3": {CaughtUp: true},
	}
	src := &fakeSource{
		batch: func(logType, next string) (mimecast.BatchPage, error) {
			if logType != model.LogReceipt {
				return mimecast.BatchPage{CaughtUp: true}, nil
			}
			return pages[next], nil
		},
		files: map[string][]string{"f1": file, "f1again": file},
	}
	c := e.collector(nil)
	withSource(c, src)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := e.settle(len(file) + 1)
	var got []string
	for _, m := range msgs {
		if m.LEEF != nil && m.LEEF.EventID == model.LogReceipt {
			got = append(got, m.Attr("recipients"))
		}
	}
	if want := []string{"a@example.com", "b@example.com", "b@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v (each record of the file once, the file served again not at all)", got, want)
	}
}

func TestCollector_WindowBackfillLeavesTheNewestRecordsToTheRegularWindows(t *testing.T) {
	// A re-collection up to "now" run at once must not send the records
	// after the last regular window's end: the next regular window reads
	// them and would send them again.
	ctx := context.Background()
	var clock simClock
	e := newTestEnv(t, mimecastsim.Options{Now: clock.now})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAudit)
	e.generate(a, 10)
	if err := e.collector(nil).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Records of the last two minutes: the newest are later than the end
	// of the next regular window (now − 1 min).
	clock.at(-simLag, func() { e.generate(a, 8) })
	c := e.collector(nil)
	now := time.Now()
	if err := c.Backfill(ctx, a.ID, model.StreamAudit, now.Add(-time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if err := c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Three minutes on, the regular windows reach the newest records.
	later := e.collector(func(o *Options) { o.Now = func() time.Time { return time.Now().Add(3 * time.Minute) } })
	if err := later.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.checkDelivery(e.settle(e.total(a)+3), a, 0)
}
