package collector

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/syslogrecv"
)

// moreStreams are the event streams of issue #13 (awareness_training, a
// snapshot, has tests of its own).
var moreStreams = []model.Stream{model.StreamMessageRelease, model.StreamArchiveSearch,
	model.StreamThreatIntelCustomer, model.StreamThreatIntelGrid, model.StreamSIEMCI}

// twins returns the identities that occur more than once in the ground
// truth of an archive_search account.
func (e *testEnv) twins(a model.Account) []string {
	n := map[string]int{}
	for _, r := range e.sim.Records(a.Name, model.StreamArchiveSearch) {
		n[r.ID]++
	}
	var out []string
	for id, c := range n {
		if c > 1 {
			out = append(out, id)
		}
	}
	return out
}

func TestCollector_MoreStreamsDeliverEveryRecordExactlyOnce(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, moreStreams...)
	// Enough held release logs that some lack their released time.
	e.sim.Generate(a.Name, model.StreamMessageRelease, 150)
	for _, s := range moreStreams[1:] {
		e.sim.Generate(a.Name, s, 30)
	}
	untimed := 0
	for _, r := range e.sim.Records(a.Name, model.StreamMessageRelease) {
		if r.Time.IsZero() {
			untimed++
		}
	}
	if untimed == 0 {
		t.Fatal("the simulator generated no held release log without a time; the test covers less than intended")
	}
	if len(e.twins(a)) == 0 {
		t.Fatal("the simulator generated no identical archive search twins")
	}
	c := e.collector(nil)

	for run := 1; run <= 3; run++ {
		if err := c.RunOnce(context.Background()); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		total := e.total(a)
		msgs := e.settle(total + run*len(a.Streams))
		e.checkDelivery(msgs, a, 0)
		if got := len(msgs); got != total+run*len(a.Streams) {
			t.Errorf("after run %d received %d messages, want %d records + %d health events", run, got, total, run*len(a.Streams))
		}
		// New records for the next run, and a window whose overlap re-reads
		// what was sent.
		e.generate(a, 7)
	}
	for _, s := range a.Streams {
		st := e.state(a, s)
		if st.State != model.StateIdle || st.LastError != "" {
			t.Errorf("%s state = %s %q", s, st.State, st.LastError)
		}
	}
}

func TestCollector_MoreStreamsResumeAfterCrashBetweenFlushAndCommit(t *testing.T) {
	tests := []struct {
		stream model.Stream
		maxDup int // one page (3 records) or one file (4 records)
	}{
		{model.StreamMessageRelease, 3},
		{model.StreamArchiveSearch, 3},
		{model.StreamThreatIntelCustomer, 3},
		{model.StreamThreatIntelGrid, 3},
		{model.StreamSIEMCI, 4},
	}
	for _, tt := range tests {
		t.Run(string(tt.stream), func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", model.APIVersion2, tt.stream)
			e.generate(a, 25)
			crashed := e.collector(func(o *Options) { o.BeforeCommit = failNth(tt.stream, 3) })
			if err := crashed.RunOnce(context.Background()); !errors.Is(err, errCrash) {
				t.Fatalf("RunOnce with a crash = %v, want the simulated crash", err)
			}
			if cp := e.checkpoint(a, tt.stream); cp == "" {
				t.Fatal("no checkpoint committed before the crash")
			}
			restarted := e.collector(nil)
			if err := restarted.RunOnce(context.Background()); err != nil {
				t.Fatalf("RunOnce after restart: %v", err)
			}
			dups := e.checkDelivery(e.settle(e.total(a)), a, tt.maxDup)
			if dups[tt.stream] == 0 {
				t.Errorf("no duplicates after a crash between flush and commit; the test did not crash where intended")
			}

			// The run after that sends only what is new.
			e.generate(a, 5)
			if err := restarted.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if again := e.checkDelivery(e.settle(e.total(a)), a, tt.maxDup); again[tt.stream] != dups[tt.stream] {
				t.Errorf("duplicates grew from %d to %d in a run without a crash", dups[tt.stream], again[tt.stream])
			}
		})
	}
}

func TestCollector_ArchiveSearchTwinsAreBothDeliveredAcrossRunsAndRestarts(t *testing.T) {
	// Every record lies within the windows' overlap, so each window reads
	// them again and keeps them in its tail; a budget of one page per run,
	// each run in a freshly started collector, splits the twins' pages
	// across restarts inside a window.
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamArchiveSearch)
	runs := 0 // each run sends one health event
	collectPageByPage := func() {
		t.Helper()
		for run := 1; ; run++ {
			runs++
			if run > 200 {
				t.Fatal("the window did not complete in 200 runs")
			}
			c := e.collector(func(o *Options) { o.MaxFilesPerRun = 1 })
			if err := c.CollectNow(context.Background(), a.ID); err != nil {
				t.Fatal(err)
			}
			c.Wait()
			if st := e.state(a, model.StreamArchiveSearch); st.State != model.StateIdle {
				t.Fatalf("state = %s %q", st.State, st.LastError)
			}
			if !strings.Contains(e.checkpoint(a, model.StreamArchiveSearch), `"window":`) {
				if run < 5 {
					t.Fatalf("the window completed after %d runs; the test needs pages split across runs", run)
				}
				return
			}
		}
	}
	e.sim.Generate(a.Name, model.StreamArchiveSearch, 40)
	collectPageByPage()
	e.sim.Generate(a.Name, model.StreamArchiveSearch, 24)
	collectPageByPage()

	if n := len(e.twins(a)); n < 4 {
		t.Fatalf("%d twin pairs in the ground truth, want at least 4", n)
	}
	// Waiting for the records and every health event: waiting for fewer
	// can end before the receiver accepted the last run's connection.
	e.checkDelivery(e.settle(e.total(a)+runs), a, 0)
}

func TestCollector_ThreatIntelPagesHashesAndEmptyWindows(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamThreatIntelCustomer, model.StreamThreatIntelGrid)
	var mu sync.Mutex
	var calls [][]string
	c := e.collector(func(o *Options) {
		o.OnThreatHashes = func(_ context.Context, hashes []string) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, hashes)
		}
	})

	// An empty feed answers "no results" with HTTP 200: an empty window.
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce on empty feeds: %v", err)
	}
	for _, s := range a.Streams {
		if st := e.state(a, s); st.State != model.StateIdle || st.EventsLastRun != 0 {
			t.Errorf("%s after an empty window: %s %q, %d events", s, st.State, st.LastError, st.EventsLastRun)
		}
		if cp := e.checkpoint(a, s); !strings.Contains(cp, `"end":`) {
			t.Errorf("%s checkpoint after an empty window = %s, want the window's end", s, cp)
		}
	}
	if len(calls) != 0 {
		t.Errorf("hashes passed for empty feeds: %v", calls)
	}

	// Several pages (3 indicators each) over two runs.
	e.generate(a, 20)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.generate(a, 8)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.checkDelivery(e.settle(e.total(a)+3*len(a.Streams)), a, 0)

	hashRE := regexp.MustCompile(`'([0-9a-f]{64})'`)
	want := map[string]bool{}
	for _, s := range a.Streams {
		for _, r := range e.sim.Records(a.Name, s) {
			m := hashRE.FindSubmatch(r.Raw)
			if m == nil {
				t.Fatalf("indicator without a SHA-256 pattern: %s", r.Raw)
			}
			want[string(m[1])] = true
		}
	}
	got := map[string]bool{}
	mu.Lock()
	defer mu.Unlock()
	for _, hashes := range calls {
		if len(hashes) == 0 || len(hashes) > 3 {
			t.Errorf("one page passed %d hashes, want 1 to 3", len(hashes))
		}
		if len(slices.Compact(slices.Sorted(slices.Values(hashes)))) != len(hashes) {
			t.Errorf("hashes of one page repeat: %v", hashes)
		}
		for _, h := range hashes {
			got[h] = true
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct hashes passed, want %d", len(got), len(want))
	}
	for h := range want {
		if !got[h] {
			t.Errorf("hash %s never passed", h)
		}
	}
	if len(calls) < 2*len(a.Streams) {
		t.Errorf("hashes passed %d times, want once per page (at least %d)", len(calls), 2*len(a.Streams))
	}
}

func TestCollector_UnlicensedStreamFailsAloneInPlainWords(t *testing.T) {
	tests := []struct {
		stream  model.Stream
		feature string
	}{
		{model.StreamThreatIntelCustomer, "not licensed or no permission for the Threat Intel feed"},
		{model.StreamAwarenessTraining, "not licensed or no permission for Awareness Training"},
		{model.StreamSIEMCI, "not licensed or no permission for Cloud Integrated SIEM logs"},
		{model.StreamMessageRelease, "not licensed or no permission for held message release logs"},
	}
	for _, tt := range tests {
		t.Run(string(tt.stream), func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", model.APIVersion2, model.StreamAudit, tt.stream)
			sa := simAccount(a.Name)
			sa.Forbidden = mimecastsim.StreamPaths(tt.stream)
			e.sim.AddAccount(sa)
			e.generate(a, 6)
			c := e.collector(nil)

			res := c.Test(context.Background(), a)
			if res.OK || res.Error != "" || len(res.Streams) != 2 {
				t.Fatalf("Test = %+v, want credentials ok and one stream refused", res)
			}
			for _, r := range res.Streams {
				switch r.Stream {
				case model.StreamAudit:
					if !r.OK {
						t.Errorf("audit = %+v", r)
					}
				default:
					if r.OK || !strings.HasPrefix(r.Error, "permission denied: "+tt.feature) {
						t.Errorf("%s test result = %q, want it to start with %q", r.Stream, r.Error, "permission denied: "+tt.feature)
					}
				}
			}

			err := c.RunOnce(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.feature) {
				t.Fatalf("RunOnce = %v, want %q", err, tt.feature)
			}
			if st := e.state(a, tt.stream); st.State != model.StateError || !strings.Contains(st.LastError, tt.feature) {
				t.Errorf("%s state = %s %q", tt.stream, st.State, st.LastError)
			}
			if st := e.state(a, model.StreamAudit); st.State != model.StateIdle {
				t.Errorf("audit state = %s %q, want idle", st.State, st.LastError)
			}
			others := model.Account{Name: a.Name, LogSourceIdentifier: a.LogSourceIdentifier, Streams: []model.Stream{model.StreamAudit}}
			e.checkDelivery(e.settle(e.total(others)), others, 0)
		})
	}
}

func TestCollector_CloudIntegratedSIEMNeedsAPI2(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion1, model.StreamSIEMCI)
	c := e.collector(nil)
	err := c.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), errCINeedsAPI2.Error()) {
		t.Fatalf("RunOnce = %v, want %q", err, errCINeedsAPI2)
	}
	if n := len(e.requests("/siem/")); n != 0 {
		t.Errorf("%d Cloud Integrated requests for an API 1.0 account", n)
	}
	if st := e.state(a, model.StreamSIEMCI); st.State != model.StateError {
		t.Errorf("state = %s, want error", st.State)
	}
}

// awarenessRows returns the ground truth rows by identity.
func (e *testEnv) awarenessRows(a model.Account) map[string]string {
	out := map[string]string{}
	for _, r := range e.sim.Records(a.Name, model.StreamAwarenessTraining) {
		out[r.ID] = string(r.Raw)
	}
	return out
}

// awarenessEvents counts the awareness row events per identity.
func awarenessEvents(t *testing.T, msgs []syslogrecv.Message, a model.Account) map[string]int {
	t.Helper()
	got := receivedFor(t, msgs, a)
	if got.noID > 0 {
		t.Errorf("%d awareness events without an identity", got.noID)
	}
	return got.ids[model.StreamAwarenessTraining]
}

func TestCollector_AwarenessSendsOnlyChangedRowsOncePerInterval(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAwarenessTraining)
	e.sim.Generate(a.Name, model.StreamAwarenessTraining, 20)
	var mu sync.Mutex
	offset := time.Duration(0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(offset)
	}
	advance := func(d time.Duration) {
		mu.Lock()
		offset += d
		mu.Unlock()
	}
	c := e.collector(func(o *Options) { o.Now = clock; o.AwarenessInterval = 6 * time.Hour })
	run := func() {
		t.Helper()
		if err := c.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := e.state(a, model.StreamAwarenessTraining); st.State != model.StateIdle || st.LastError != "" {
			t.Fatalf("state = %s %q", st.State, st.LastError)
		}
	}

	// The first collection sends every row.
	run()
	first := e.awarenessRows(a)
	msgs := e.settle(len(first) + 1)
	if got := awarenessEvents(t, msgs, a); len(got) != len(first) {
		t.Errorf("first collection sent %d distinct rows, want %d", len(got), len(first))
	} else {
		for id, n := range got {
			if _, ok := first[id]; !ok || n != 1 {
				t.Errorf("row %s sent %d times (known: %v)", id, n, ok)
			}
		}
	}
	if len(msgs) != len(first)+1 {
		t.Errorf("first collection: %d messages, want %d rows + 1 health event", len(msgs), len(first))
	}

	// Within the interval the stream is skipped without a request.
	e.sim.UpdateAwareness(a.Name, 3)
	before := len(e.requests("/api/awareness-training/"))
	advance(5 * time.Hour)
	run()
	if n := len(e.requests("/api/awareness-training/")) - before; n != 0 {
		t.Errorf("%d awareness requests within the interval, want 0", n)
	}
	if st := e.state(a, model.StreamAwarenessTraining); st.EventsLastRun != 0 || st.LastSuccess == nil {
		t.Errorf("skipped run: %+v", st)
	}

	// Once due, only the rows of the three changed users are sent.
	advance(2 * time.Hour)
	run()
	second := e.awarenessRows(a)
	changed := map[string]bool{}
	for id, raw := range second {
		if first[id] != raw {
			changed[id] = true
		}
	}
	if len(changed) < 9 { // three users, three company rows each at least
		t.Fatalf("only %d rows changed in the simulator", len(changed))
	}
	msgs = e.settle(len(first) + len(changed) + 3)
	if got := len(msgs) - 3; got != len(first)+len(changed) {
		t.Errorf("after the second collection: %d row events, want %d + %d changed", got, len(first), len(changed))
	}
	for id, n := range awarenessEvents(t, msgs, a) {
		want := 1
		if changed[id] {
			want = 2
		}
		if n != want {
			t.Errorf("row %s sent %d times, want %d (changed: %v)", id, n, want, changed[id])
		}
	}
}

func TestCollector_AwarenessResumesAfterCrashWithoutResendingCommittedRows(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAwarenessTraining)
	e.sim.Generate(a.Name, model.StreamAwarenessTraining, 12)
	// The second commit is the one after the performance rows.
	crashed := e.collector(func(o *Options) { o.BeforeCommit = failNth(model.StreamAwarenessTraining, 2) })
	if err := crashed.RunOnce(context.Background()); !errors.Is(err, errCrash) {
		t.Fatalf("RunOnce with a crash = %v, want the simulated crash", err)
	}
	if cp := e.checkpoint(a, model.StreamAwarenessTraining); !strings.Contains(cp, "safe_score") || strings.Contains(cp, `"collected":`) {
		t.Errorf("checkpoint after the crash = %s, want safe_score committed and the collection unfinished", cp)
	}
	restarted := e.collector(nil)
	if err := restarted.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce after restart: %v", err)
	}
	if cp := e.checkpoint(a, model.StreamAwarenessTraining); !strings.Contains(cp, `"collected":`) {
		t.Errorf("checkpoint after the collection = %s, want its time", cp)
	}
	rows := e.awarenessRows(a)
	for id, n := range awarenessEvents(t, e.settle(len(rows)), a) {
		want := 1
		if strings.HasPrefix(id, model.LogAwarenessPerf+":") {
			want = 2 // flushed but not committed before the crash
		}
		if n != want {
			t.Errorf("row %s sent %d times, want %d", id, n, want)
		}
		delete(rows, id)
	}
	if len(rows) > 0 {
		t.Errorf("%d rows never sent", len(rows))
	}
}

func TestCopiesIn_ContinuesNumberingFromTheHighestCopy(t *testing.T) {
	got := copiesIn([]string{"id:x", "sha256:aa", "sha256:aa#3", "sha256:aa#2", "sha256:bb", "sha256:cc#x", "sha256:dd#1"})
	want := map[string]int{"aa": 3, "bb": 1}
	if len(got) != len(want) || got["aa"] != 3 || got["bb"] != 1 {
		t.Errorf("copiesIn = %v, want %v", got, want)
	}
	// The next identical record after the edge is the fourth copy.
	r := &model.Record{Raw: []byte(`{"n":1}`)}
	first := recordIdentity(r, map[string]int{})
	h := strings.TrimPrefix(first, "sha256:")
	if id := recordIdentity(r, copiesIn([]string{first, first + "#2"})); id != "sha256:"+h+"#3" {
		t.Errorf("identity after two copies = %q, want the third", id)
	}
}

func TestRowHashes_RoundTripAndRefuseDamage(t *testing.T) {
	rows := map[uint64]uint64{1: 2, 1 << 60: 7, 42: 0}
	text := encodeRowHashes(rows)
	back, err := decodeRowHashes(text)
	if err != nil || len(back) != len(rows) {
		t.Fatalf("decode(encode) = %v, %v", back, err)
	}
	for k, v := range rows {
		if back[k] != v {
			t.Errorf("row %d = %d, want %d", k, back[k], v)
		}
	}
	if encodeRowHashes(back) != text {
		t.Error("encoding is not stable")
	}
	for _, bad := range []string{"!!", "AAAA"} {
		if _, err := decodeRowHashes(bad); err == nil {
			t.Errorf("decodeRowHashes(%q) succeeded", bad)
		}
	}
	if empty, err := decodeRowHashes(""); err != nil || len(empty) != 0 {
		t.Errorf("empty = %v, %v", empty, err)
	}
}
