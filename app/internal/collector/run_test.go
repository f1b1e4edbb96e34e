package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// fakeSource stands in for the Mimecast client where the simulator cannot
// produce a situation (identical records, panics, blocking calls).
type fakeSource struct {
	checkAuth func(ctx context.Context) error
	logs      func(ctx context.Context, q mimecast.LogQuery, fn func(*model.Record) error) (mimecast.LogPage, error)
	batch     func(logType, nextPage string) (mimecast.BatchPage, error)
	files     map[string][]string // URL → raw records
}

func (f *fakeSource) CheckAuth(ctx context.Context) error {
	if f.checkAuth != nil {
		return f.checkAuth(ctx)
	}
	return nil
}

func (f *fakeSource) CheckStream(context.Context, model.Stream) error { return nil }

func (f *fakeSource) SIEMBatch(_ context.Context, logType string, _ time.Time, nextPage string, _ int) (mimecast.BatchPage, error) {
	if f.batch == nil {
		return mimecast.BatchPage{CaughtUp: true}, nil
	}
	return f.batch(logType, nextPage)
}

func (f *fakeSource) DownloadSIEMFile(_ context.Context, file mimecast.BatchFile, fn func(*model.Record) error) (mimecast.DecodeStats, error) {
	var st mimecast.DecodeStats
	for _, raw := range f.files[file.URL] {
		var rec struct{ ID string }
		json.Unmarshal([]byte(raw), &rec)
		if err := fn(&model.Record{Stream: model.StreamSIEM, LogType: file.LogType, Raw: []byte(raw), ID: rec.ID, Time: time.Now()}); err != nil {
			return st, err
		}
		st.Records++
	}
	return st, nil
}

func (f *fakeSource) SIEMBatchCI(context.Context, string, time.Time, string, int) (mimecast.BatchPage, error) {
	return mimecast.BatchPage{CaughtUp: true}, nil
}

func (f *fakeSource) ThreatIntel(context.Context, model.Stream, time.Time, time.Time, string, func(*model.Record) error) (string, mimecast.DecodeStats, error) {
	return "", mimecast.DecodeStats{}, nil
}

func (f *fakeSource) Awareness(context.Context, string, func(*model.Record) error) (mimecast.DecodeStats, error) {
	return mimecast.DecodeStats{}, nil
}

func (f *fakeSource) SIEMLogsV1(context.Context, string, time.Time, func(string), func(*model.Record) error) (mimecast.SIEMFileResult, error) {
	return mimecast.SIEMFileResult{Done: true}, nil
}

func (f *fakeSource) Logs(ctx context.Context, q mimecast.LogQuery, fn func(*model.Record) error) (mimecast.LogPage, error) {
	if f.logs == nil {
		return mimecast.LogPage{}, nil
	}
	return f.logs(ctx, q, fn)
}

// withSource makes c use src for every account.
func withSource(c *Collector, src source) {
	c.newSource = func(model.Account) (source, error) { return src, nil }
}

func TestCollector_IdenticalRecordsWithoutIDAreNotDroppedNorResent(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	e.addAccount("acme", model.APIVersion2, model.StreamDLP)
	var mu sync.Mutex
	records := []string{`{"n":"same"}`, `{"n":"same"}`, `{"n":"other"}`}
	src := &fakeSource{logs: func(_ context.Context, q mimecast.LogQuery, fn func(*model.Record) error) (mimecast.LogPage, error) {
		mu.Lock()
		defer mu.Unlock()
		// Every record is recent: each window's overlap reads them again.
		for _, raw := range records {
			if err := fn(&model.Record{Stream: model.StreamDLP, LogType: model.LogDLP, Raw: []byte(raw), Time: q.End.Add(-time.Minute)}); err != nil {
				return mimecast.LogPage{}, err
			}
		}
		return mimecast.LogPage{Stats: mimecast.DecodeStats{Records: len(records)}}, nil
	}}
	c := e.collector(nil)
	withSource(c, src)
	runs := []struct {
		add  []string
		want int // record events delivered by the run
	}{
		{want: 3},                                // both identical records are delivered
		{want: 0},                                // the overlap re-read sends nothing again
		{add: []string{`{"n":"same"}`}, want: 1}, // a third identical record is new
		{add: []string{`{"n":"fresh"}`}, want: 1}, // and so is a different one
	}
	total := 0
	for i, r := range runs {
		mu.Lock()
		records = append(records, r.add...)
		mu.Unlock()
		if err := c.RunOnce(context.Background()); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		total += r.want
		msgs := e.settle(total + i + 1)
		if got := len(msgs) - (i + 1); got != total {
			t.Fatalf("after run %d: %d record events, want %d", i+1, got, total)
		}
	}
}

func TestCollector_SIEMPageWithoutNextPageKeepsItsPosition(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM)
	var mu sync.Mutex
	listed := []mimecast.BatchFile{{URL: "f1", LogType: model.LogReceipt}, {URL: "f2", LogType: model.LogReceipt}}
	src := &fakeSource{
		files: map[string][]string{"f1": {`{"ID":"a"}`}, "f2": {`{"ID":"b"}`}, "f3": {`{"ID":"c"}`}},
		batch: func(logType, nextPage string) (mimecast.BatchPage, error) {
			if logType != model.LogReceipt {
				return mimecast.BatchPage{CaughtUp: true}, nil
			}
			if nextPage != "" {
				return mimecast.BatchPage{}, fmt.Errorf("unexpected cursor %q", nextPage)
			}
			mu.Lock()
			defer mu.Unlock()
			return mimecast.BatchPage{Files: append([]mimecast.BatchFile(nil), listed...), CaughtUp: true}, nil
		},
	}
	c := e.collector(nil)
	withSource(c, src)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cp := e.checkpoint(a, model.StreamSIEM); !strings.Contains(cp, `"receipt":{"cursor":"","done":2`) {
		t.Errorf("checkpoint = %s, want receipt at the end of the first page", cp)
	}
	mu.Lock()
	listed = append(listed, mimecast.BatchFile{URL: "f3", LogType: model.LogReceipt})
	mu.Unlock()
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(e.settle(3+2)) - 2; got != 3 {
		t.Errorf("%d record events over two runs, want 3 (only the file listed later is new)", got)
	}
}

func TestCollector_PanicInAStreamIsRecoveredAndReported(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAudit, model.StreamTTPURL)
	src := &fakeSource{logs: func(_ context.Context, q mimecast.LogQuery, _ func(*model.Record) error) (mimecast.LogPage, error) {
		if q.Stream == model.StreamTTPURL {
			panic("decoder bug")
		}
		return mimecast.LogPage{}, nil
	}}
	c := e.collector(nil)
	withSource(c, src)
	err := c.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "internal error: decoder bug") {
		t.Fatalf("RunOnce = %v, want the panic reported", err)
	}
	if st := e.state(a, model.StreamTTPURL); st.State != model.StateError || !strings.Contains(st.LastError, "decoder bug") {
		t.Errorf("ttp_url state = %s %q", st.State, st.LastError)
	}
	if st := e.state(a, model.StreamAudit); st.State != model.StateIdle {
		t.Errorf("audit state = %s %q, want idle", st.State, st.LastError)
	}
}

func TestCollector_LimitsConcurrentStreamsAndAccounts(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	for i := range 6 {
		e.addAccount(fmt.Sprintf("acct%d", i), model.APIVersion2)
	}
	var mu sync.Mutex
	perAccount := map[string]int{}
	maxPerAccount, maxAccounts := 0, 0
	c := e.collector(nil)
	c.newSource = func(a model.Account) (source, error) {
		return &fakeSource{
			logs: func(context.Context, mimecast.LogQuery, func(*model.Record) error) (mimecast.LogPage, error) {
				mu.Lock()
				perAccount[a.Name]++
				maxPerAccount = max(maxPerAccount, perAccount[a.Name])
				maxAccounts = max(maxAccounts, len(perAccount))
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				if perAccount[a.Name]--; perAccount[a.Name] == 0 {
					delete(perAccount, a.Name)
				}
				mu.Unlock()
				return mimecast.LogPage{}, nil
			},
		}, nil
	}
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if maxPerAccount > maxStreamsPerAccount || maxPerAccount == 0 {
		t.Errorf("up to %d streams of one account ran at once, want 1..%d", maxPerAccount, maxStreamsPerAccount)
	}
	if maxAccounts > maxAccountsAtOnce || maxAccounts == 0 {
		t.Errorf("up to %d accounts ran at once, want 1..%d", maxAccounts, maxAccountsAtOnce)
	}
}

func TestCollector_StopCancelsRunsAndKeepsCheckpoints(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAudit)
	entered := make(chan struct{})
	var once sync.Once
	src := &fakeSource{logs: func(ctx context.Context, _ mimecast.LogQuery, _ func(*model.Record) error) (mimecast.LogPage, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done()
		return mimecast.LogPage{}, ctx.Err()
	}}
	c := e.collector(nil)
	withSource(c, src)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.CollectNow(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := e.state(a, model.StreamAudit); st.State != model.StateError || st.LastError != errStopping.Error() {
		t.Errorf("state after Stop = %s %q, want error %q", st.State, st.LastError, errStopping)
	}
	if cp := e.checkpoint(a, model.StreamAudit); cp != "" {
		t.Errorf("checkpoint = %s, want none", cp)
	}
	if err := c.CollectNow(context.Background(), a.ID); err == nil {
		t.Error("CollectNow after Stop started a run")
	}
}

func TestCollector_AuthFailureMidRunEndsEveryStream(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion1, model.StreamDLP, model.StreamAudit, model.StreamTTPURL, model.StreamTTPAttachment)
	expired := &mimecast.APIError{Kind: mimecast.ErrKeyExpired, Status: 418}
	var mu sync.Mutex
	calls := map[model.Stream]int{}
	src := &fakeSource{logs: func(ctx context.Context, q mimecast.LogQuery, _ func(*model.Record) error) (mimecast.LogPage, error) {
		mu.Lock()
		calls[q.Stream]++
		mu.Unlock()
		switch q.Stream {
		case model.StreamDLP:
			return mimecast.LogPage{}, nil // finishes before the key expires
		case model.StreamAudit:
			// The key expires once dlp has finished its run.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if st, err := e.store.StreamState(ctx, a.ID, model.StreamDLP); err == nil && st.LastSuccess != nil {
					break
				}
			}
			return mimecast.LogPage{}, fmt.Errorf("fetching audit logs: %w", expired)
		}
		// The TTP streams finish once audit has started, so that dlp gets a
		// place whichever streams the scheduler happened to start first.
		for {
			mu.Lock()
			started := calls[model.StreamAudit] > 0
			mu.Unlock()
			if started || ctx.Err() != nil {
				return mimecast.LogPage{}, ctx.Err()
			}
			time.Sleep(time.Millisecond)
		}
	}}
	c := e.collector(nil)
	withSource(c, src)
	if err := c.RunOnce(context.Background()); !errors.Is(err, mimecast.ErrKeyExpired) {
		t.Fatalf("RunOnce = %v, want the expired key", err)
	}
	for _, s := range a.Streams {
		st := e.state(a, s)
		if st.State != model.StateError || !strings.Contains(st.LastError, "access key expired: create new keys") {
			t.Errorf("%s state = %s %q, want the expired key error", s, st.State, st.LastError)
		}
	}
	if st := e.state(a, model.StreamDLP); st.EventsTotal != 0 || st.LastSuccess == nil {
		t.Errorf("dlp state = %+v, want its own success kept and no events counted twice", st)
	}
	if calls[model.StreamAudit] != 1 || calls[model.StreamTTPAttachment] > 1 {
		t.Errorf("calls after the 418 = %v, want no retries", calls)
	}
}

func TestCollector_TestChecksCredentialsAndEachStream(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM, model.StreamTTPURL, model.StreamAudit)
	sa := simAccount("acme")
	sa.Forbidden = []string{"/api/ttp/url/"}
	e.sim.AddAccount(sa)
	c := e.collector(nil)

	res := c.Test(context.Background(), a)
	if res.OK || res.Error != "" || len(res.Streams) != 3 {
		t.Fatalf("Test = %+v, want credentials ok and one stream refused", res)
	}
	for _, s := range res.Streams {
		wantOK := s.Stream != model.StreamTTPURL
		if s.OK != wantOK || (!wantOK && !strings.Contains(s.Error, "permission denied")) {
			t.Errorf("stream %s = %+v", s.Stream, s)
		}
	}

	a.ClientSecret = "wrong"
	res = c.Test(context.Background(), a)
	if res.OK || !strings.Contains(res.Error, "authentication failed") {
		t.Errorf("Test with a wrong secret = %+v", res)
	}
	for _, s := range res.Streams {
		if s.OK {
			t.Errorf("stream %s ok with refused credentials", s.Stream)
		}
	}
}

func TestDecodeCheckpoint_ToleratesUnknownFieldsAndRefusesNewerVersions(t *testing.T) {
	var cp windowCheckpoint
	err := decodeCheckpoint([]byte(`{"v":1,"end":"2026-11-22T10:00:00Z","seen":["id:a"],"added_later":{"x":1}}`), &cp, &cp.V)
	if err != nil || cp.End.IsZero() || len(cp.Seen) != 1 {
		t.Errorf("decoding with an unknown field: %+v, %v", cp, err)
	}
	var newer siemBatchCheckpoint
	if err := decodeCheckpoint([]byte(`{"v":2,"types":{}}`), &newer, &newer.V); err == nil {
		t.Error("a newer checkpoint version was accepted")
	}
	var empty siemV1Checkpoint
	if err := decodeCheckpoint(nil, &empty, &empty.V); err != nil || empty.Token != "" {
		t.Errorf("empty checkpoint: %+v, %v", empty, err)
	}
}

func TestRecordIdentity_CountsIdenticalRecordsWithoutID(t *testing.T) {
	copies := map[string]int{}
	a := recordIdentity(&model.Record{Raw: []byte(`{"x":1}`)}, copies)
	b := recordIdentity(&model.Record{Raw: []byte(`{"x":1}`)}, copies)
	o := recordIdentity(&model.Record{Raw: []byte(`{"x":2}`)}, copies)
	id := recordIdentity(&model.Record{ID: "abc", Raw: []byte(`{"x":1}`)}, copies)
	if a == b || a == o || !strings.HasSuffix(b, "#2") || id != "id:abc" {
		t.Errorf("identities = %q %q %q %q", a, b, o, id)
	}
}
