package collector

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslogrecv"
)

func TestCollector_DeliversEveryRecordExactlyOnce(t *testing.T) {
	for _, version := range []string{model.APIVersion2, model.APIVersion1} {
		t.Run("API "+version, func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", version)
			e.generate(a, 30)
			c := e.collector(nil)

			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			total := e.total(a)
			msgs := e.settle(total + len(a.Streams))
			e.checkDelivery(msgs, a, 0)
			if got := len(msgs); got != total+len(a.Streams) {
				t.Errorf("received %d messages, want %d records + %d health events", got, total, len(a.Streams))
			}

			// New records only: the second run sends those and nothing again.
			e.generate(a, 7)
			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatalf("second RunOnce: %v", err)
			}
			total = e.total(a)
			msgs = e.settle(total + 2*len(a.Streams))
			e.checkDelivery(msgs, a, 0)
			if got := len(msgs); got != total+2*len(a.Streams) {
				t.Errorf("after the second run received %d messages, want %d", got, total+2*len(a.Streams))
			}
			for _, s := range a.Streams {
				st := e.state(a, s)
				if st.State != model.StateIdle || st.LastError != "" || st.LastSuccess == nil {
					t.Errorf("%s state = %+v", s, st)
				}
				if want := int64(len(e.sim.Records(a.Name, s))); st.EventsTotal != want {
					t.Errorf("%s events_total = %d, want %d", s, st.EventsTotal, want)
				}
			}
		})
	}
}

func TestCollector_ResumesAfterCrashBetweenFlushAndCommit(t *testing.T) {
	tests := []struct {
		version string
		stream  model.Stream
		maxDup  int // one file (4 records) or one page (3 records)
	}{
		{model.APIVersion2, model.StreamSIEM, 4},
		{model.APIVersion1, model.StreamSIEM, 4},
		{model.APIVersion2, model.StreamAudit, 3},
		{model.APIVersion2, model.StreamTTPURL, 3},
		{model.APIVersion1, model.StreamDLP, 3},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+string(tt.stream), func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", tt.version, tt.stream)
			e.generate(a, 25)
			crashed := e.collector(func(o *Options) { o.BeforeCommit = failNth(tt.stream, 3) })
			err := crashed.RunOnce(context.Background())
			if !errors.Is(err, errCrash) {
				t.Fatalf("RunOnce with a crash = %v, want the simulated crash", err)
			}
			if cp := e.checkpoint(a, tt.stream); cp == "" {
				t.Fatal("no checkpoint committed before the crash")
			}

			restarted := e.collector(nil)
			if err := restarted.RunOnce(context.Background()); err != nil {
				t.Fatalf("RunOnce after restart: %v", err)
			}
			msgs := e.settle(e.total(a) + 2) // and the two runs' health events
			dups := e.checkDelivery(msgs, a, tt.maxDup)
			if dups[tt.stream] == 0 {
				// The crash came after the third flush: the records of that
				// file or page reached the target and are sent again.
				t.Errorf("no duplicates after a crash between flush and commit; the test did not crash where intended")
			}
		})
	}
}

func TestCollector_CheckpointNotAdvancedWhenSendFails(t *testing.T) {
	t.Run("target down from the start", func(t *testing.T) {
		e := newTestEnv(t, mimecastsim.Options{})
		a := e.addAccount("acme", model.APIVersion2)
		e.generate(a, 10)
		c := e.collector(nil)
		e.recv.Stop()
		err := c.RunOnce(context.Background())
		if err == nil || !strings.Contains(err.Error(), "syslog") {
			t.Fatalf("RunOnce with the target down = %v, want a syslog error", err)
		}
		for _, s := range a.Streams {
			if cp := e.checkpoint(a, s); cp != "" {
				t.Errorf("%s checkpoint = %s, want none", s, cp)
			}
			if st := e.state(a, s); st.State != model.StateError || !strings.Contains(st.LastError, e.recv.Target()) {
				t.Errorf("%s state = %s %q, want error naming the target", s, st.State, st.LastError)
			}
		}
		if got := len(e.requests("/siem/")) + len(e.requests("/api/")); got != 0 {
			t.Errorf("%d Mimecast requests while the target was down, want 0", got)
		}

		if err := e.recv.Start(); err != nil {
			t.Fatal(err)
		}
		if err := c.RunOnce(context.Background()); err != nil {
			t.Fatalf("RunOnce with the target back: %v", err)
		}
		e.checkDelivery(e.settle(e.total(a)), a, 0)
	})

	t.Run("target lost during the run", func(t *testing.T) {
		e := newTestEnv(t, mimecastsim.Options{})
		a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM)
		e.generate(a, 40)
		var once sync.Once
		var committed string
		c := e.collector(func(o *Options) {
			o.BeforeCommit = func(int64, model.Stream) error {
				once.Do(func() {
					committed = e.checkpoint(a, model.StreamSIEM)
					e.recv.Stop()
				})
				return nil
			}
		})
		err := c.RunOnce(context.Background())
		if err == nil || !strings.Contains(err.Error(), "sending events") {
			t.Fatalf("RunOnce losing the target = %v, want a sending error", err)
		}
		// Only the first commit (whose flush succeeded) went through.
		after := e.checkpoint(a, model.StreamSIEM)
		if after == committed || strings.Count(after, `"done":1`) != 1 {
			t.Errorf("checkpoint after the failure = %s, want only the first file committed", after)
		}
		if err := e.recv.Start(); err != nil {
			t.Fatal(err)
		}
		c2 := e.collector(nil)
		if err := c2.RunOnce(context.Background()); err != nil {
			t.Fatalf("RunOnce with the target back: %v", err)
		}
		e.checkDelivery(e.settle(e.total(a)), a, 4)
	})
}

func TestCollector_HonoursRateLimits(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2)
	e.generate(a, 10)
	// Two 429s in a row on the token and on the audit endpoint: the client
	// retries each call twice, so both are waited out within the run. The
	// clock stands still, so once blocked the account stays blocked: every
	// later request waits.
	const reset = 1500 * time.Millisecond
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Path: "/oauth/token", Count: 2, Delay: reset})
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Path: "/api/audit/", Count: 2, Delay: reset})
	var mu sync.Mutex
	var waits []time.Duration
	now := time.Now()
	c := e.collector(func(o *Options) {
		o.Now = func() time.Time { return now }
		o.ClientOptions = func(co *mimecast.Options) {
			co.Sleep = func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
				return ctx.Err()
			}
		}
	})
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	e.checkDelivery(e.settle(e.total(a)), a, 0)
	limited, api := 0, 0
	for _, r := range e.sim.Requests() {
		if r.Status == 429 {
			limited++
		}
		if !strings.HasPrefix(r.Path, "/storage/") {
			api++
		}
	}
	if limited != 4 {
		t.Errorf("%d requests answered 429, want 4", limited)
	}
	// The first request (the token) met the first 429; each API request
	// after it waited once (file downloads are not rate limited).
	if len(waits) != api-1 {
		t.Fatalf("waited %d times (%v), want %d: once before each API request after the first 429", len(waits), waits, api-1)
	}
	for _, d := range waits {
		if d < reset {
			t.Errorf("waited %v after a 429 with X-RateLimit-Reset %v", d, reset)
		}
	}
}

func TestCollector_BadCredentialsEndTheRunWithOneClearError(t *testing.T) {
	tests := []struct {
		name    string
		version string
		setup   func(e *testEnv, a *model.Account)
		want    string
	}{
		{name: "API 2.0 wrong secret", version: model.APIVersion2,
			setup: func(e *testEnv, a *model.Account) { a.ClientSecret = "wrong" },
			want:  "authentication failed"},
		{name: "API 1.0 wrong key", version: model.APIVersion1,
			setup: func(e *testEnv, a *model.Account) { a.AppKey = "wrong" },
			want:  "authentication failed"},
		{name: "API 1.0 expired binding", version: model.APIVersion1,
			setup: func(e *testEnv, a *model.Account) {
				sa := simAccount(a.Name)
				sa.BindingExpired = true
				e.sim.AddAccount(sa)
			},
			want: "access key expired: create new keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", tt.version)
			e.generate(a, 5)
			tt.setup(e, &a)
			if err := e.store.UpdateAccount(context.Background(), &a); err != nil {
				t.Fatal(err)
			}
			c := e.collector(nil)
			err := c.RunOnce(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RunOnce = %v, want %q", err, tt.want)
			}
			for _, s := range a.Streams {
				st := e.state(a, s)
				if st.State != model.StateError || !strings.Contains(st.LastError, tt.want) {
					t.Errorf("%s state = %s %q, want error %q", s, st.State, st.LastError, tt.want)
				}
			}
			// One credentials check, not one failure per stream.
			if n := len(e.sim.Requests()); n == 0 || n > 2 {
				t.Errorf("%d requests sent with bad credentials, want 1 or 2", n)
			}
			msgs := e.settle(len(a.Streams))
			if got := receivedFor(t, msgs, a); len(got.health) != len(a.Streams) || got.health[0].Attr("cat") != "error" {
				t.Errorf("health events = %d (first %v), want one error event per stream", len(got.health), got.health)
			}
		})
	}
}

func TestCollector_ForbiddenFailsOnlyThatStream(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2)
	sa := simAccount("acme")
	sa.Forbidden = []string{"/api/ttp/url/"}
	e.sim.AddAccount(sa)
	e.generate(a, 10)
	c := e.collector(nil)
	err := c.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ttp_url") || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("RunOnce = %v, want a permission error for ttp_url", err)
	}
	others := model.Account{Name: a.Name, LogSourceIdentifier: a.LogSourceIdentifier}
	for _, s := range a.Streams {
		st := e.state(a, s)
		if s == model.StreamTTPURL {
			if st.State != model.StateError || !strings.Contains(st.LastError, "permission denied") {
				t.Errorf("ttp_url state = %s %q", st.State, st.LastError)
			}
			continue
		}
		if st.State != model.StateIdle {
			t.Errorf("%s state = %s %q, want idle", s, st.State, st.LastError)
		}
		others.Streams = append(others.Streams, s)
	}
	if n := len(e.requests("/api/ttp/url/")); n > 3 {
		t.Errorf("%d requests to the forbidden endpoint, want at most 3", n)
	}
	msgs := e.settle(e.total(others))
	e.checkDelivery(msgs, others, 0)
	for _, h := range receivedFor(t, msgs, a).health {
		if h.Attr("mcStream") == string(model.StreamTTPURL) &&
			(h.Attr("cat") != "error" || !strings.Contains(h.Attr("mcError"), "permission denied")) {
			t.Errorf("ttp_url health event = %q", h.Raw)
		}
	}
}

func TestCollector_CorruptFileFailsTheRunAndTheNextRunRecovers(t *testing.T) {
	tests := []struct {
		version string
		stream  model.Stream
		path    string
		maxDup  int
	}{
		{model.APIVersion2, model.StreamSIEM, "/storage/", 4},
		{model.APIVersion1, model.StreamSIEM, "/api/audit/get-siem-logs", 4},
		{model.APIVersion2, model.StreamAudit, "/api/audit/get-audit-events", 3},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+string(tt.stream), func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", tt.version, tt.stream)
			e.generate(a, 20)
			e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated, Path: tt.path, Skip: 1})
			c := e.collector(nil)
			err := c.RunOnce(context.Background())
			if err == nil || !strings.Contains(err.Error(), "bad response") {
				t.Fatalf("RunOnce with a truncated file = %v, want a bad response error", err)
			}
			if st := e.state(a, tt.stream); st.State != model.StateError {
				t.Errorf("state = %s, want error", st.State)
			}
			if err := c.RunOnce(context.Background()); err != nil {
				t.Fatalf("next RunOnce: %v", err)
			}
			if st := e.state(a, tt.stream); st.State != model.StateIdle || st.LastError != "" {
				t.Errorf("state after recovery = %s %q, want idle", st.State, st.LastError)
			}
			e.checkDelivery(e.settle(e.total(a)), a, tt.maxDup)
		})
	}
}

func TestCollector_ExpiredFileURLIsListedAgain(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM)
	e.generate(a, 20)
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultExpiredURL, Path: "/storage/", Skip: 2})
	c := e.collector(nil)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce with one expired URL: %v", err)
	}
	e.checkDelivery(e.settle(e.total(a)), a, 0)

	// Still expired after listing again: the stream fails, skips nothing.
	e.generate(a, 20)
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultExpiredURL, Path: "/storage/", Count: 2})
	err := c.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("RunOnce with a URL expired twice = %v, want an expiry error", err)
	}
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("next RunOnce: %v", err)
	}
	e.checkDelivery(e.settle(e.total(a)), a, 0)
}

func TestCollector_InvalidSIEMTokenIsKeptUntilReset(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion1, model.StreamSIEM)
	e.generate(a, 12)
	c := e.collector(nil)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	e.settle(e.total(a) + 1)
	// Mimecast stops knowing the saved token (the files delivered stay
	// in the checkpoint, with a field of a newer build).
	var cp map[string]any
	if err := json.Unmarshal([]byte(e.checkpoint(a, model.StreamSIEM)), &cp); err != nil || cp["files"] == nil {
		t.Fatalf("checkpoint after the first run: %v %v", cp, err)
	}
	cp["token"], cp["future_field"] = "not-a-token", true
	bad, _ := json.Marshal(cp)
	if err := e.store.SaveCheckpoint(context.Background(), a.ID, model.StreamSIEM, bad); err != nil {
		t.Fatal(err)
	}
	err := c.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), errInvalidSIEMToken.Error()) {
		t.Fatalf("RunOnce with a refused token = %v, want %q", err, errInvalidSIEMToken)
	}
	if got := e.checkpoint(a, model.StreamSIEM); got != string(bad) {
		t.Errorf("checkpoint = %s, want it kept until reset", got)
	}
	if err := c.RunOnce(context.Background()); err == nil {
		t.Fatal("second RunOnce succeeded without a reset")
	}
	if err := c.ResetCheckpoint(context.Background(), a.ID, model.StreamSIEM); err != nil {
		t.Fatalf("ResetCheckpoint: %v", err)
	}
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce after reset: %v", err)
	}
	if st := e.state(a, model.StreamSIEM); st.State != model.StateIdle {
		t.Errorf("state after reset = %s %q", st.State, st.LastError)
	}
	// Restarting from the oldest file Mimecast keeps re-reads every file,
	// but the files delivered before are recognised: nothing comes twice.
	e.checkDelivery(e.settle(e.total(a)+2), a, 0)
}

func TestCollector_CredentialsErrorBlocksRequests(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2)
	e.generate(a, 5)
	// Reopen the store with another sealing key, as after a changed
	// QRADAR_APP_UUID.
	other, err := secrets.Open(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), e.dir, other)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	c := e.collector(nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	status, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status.Accounts[0].Streams {
		if s.State != model.StateError || !strings.HasPrefix(s.LastError, "re-enter credentials: ") {
			t.Errorf("%s status = %s %q, want error re-enter credentials", s.Stream, s.State, s.LastError)
		}
	}
	if err := c.CollectNow(context.Background(), a.ID); err != nil {
		t.Fatalf("CollectNow: %v", err)
	}
	c.Wait()
	err = c.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "re-enter credentials") {
		t.Fatalf("RunOnce = %v, want the credentials error", err)
	}
	if res := c.Test(context.Background(), mustAccount(t, st, a.ID)); res.OK || !strings.Contains(res.Error, "re-enter credentials") {
		t.Errorf("Test = %+v, want the credentials error", res)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent for an account whose credentials cannot be opened, want 0", n)
	}
	for _, s := range a.Streams {
		if st := e.state(a, s); st.State != model.StateError || !strings.HasPrefix(st.LastError, "re-enter credentials: ") {
			t.Errorf("%s state = %s %q", s, st.State, st.LastError)
		}
	}
}

func mustAccount(t *testing.T, st *store.Store, id int64) model.Account {
	t.Helper()
	a, err := st.Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return *a
}

func TestCollector_SendsOneHealthEventPerStreamRun(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2)
	e.generate(a, 6)
	c := e.collector(nil)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := receivedFor(t, e.settle(e.total(a)+len(a.Streams)), a)
	byStream := map[string]syslogrecv.Message{}
	for _, h := range got.health {
		if _, dup := byStream[h.Attr("mcStream")]; dup {
			t.Errorf("two health events for %s", h.Attr("mcStream"))
		}
		byStream[h.Attr("mcStream")] = h
	}
	for _, s := range a.Streams {
		h, ok := byStream[string(s)]
		if !ok {
			t.Errorf("no health event for %s", s)
			continue
		}
		lag, err := strconv.Atoi(h.Attr("mcLagSeconds"))
		if h.Attr("cat") != "ok" || h.Attr("mcEvents") != itoa(len(e.sim.Records(a.Name, s))) || err != nil || lag < 0 ||
			h.Attr("mcError") != "" || h.Hostname != a.LogSourceIdentifier {
			t.Errorf("%s health event = %q", s, h.Raw)
		}
	}
}

func TestCollector_BudgetEndsTheRunAndTheNextContinues(t *testing.T) {
	// Records spread over 3 h: most are older than the windows' overlap.
	e := newTestEnv(t, mimecastsim.Options{Spread: 3 * time.Hour})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM, model.StreamAudit)
	e.generate(a, 40)
	c := e.collector(func(o *Options) { o.MaxFilesPerRun = 3 })
	if err := c.CollectNow(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	for _, s := range a.Streams {
		st := e.state(a, s)
		if st.State != model.StateIdle || st.EventsLastRun == 0 || st.EventsLastRun >= int64(len(e.sim.Records(a.Name, s))) {
			t.Errorf("%s after one budgeted run: %s, %d events", s, st.State, st.EventsLastRun)
		}
	}
	// RunOnce repeats runs until every stream is caught up.
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.checkDelivery(e.settle(e.total(a)), a, 0)
}

func TestCollector_StatusShowsRunningStreamsDuringARun(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2)
	e.generate(a, 5)
	var c *Collector
	var mu sync.Mutex
	var during model.Status
	var inProgress error
	c = e.collector(func(o *Options) {
		o.BeforeCommit = func(_ int64, s model.Stream) error {
			mu.Lock()
			defer mu.Unlock()
			if during.Accounts == nil {
				var err error
				if during, err = c.Status(context.Background()); err != nil {
					t.Error(err)
				}
				inProgress = c.CollectNow(context.Background(), a.ID)
			}
			return nil
		}
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.CollectNow(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if !errors.Is(inProgress, model.ErrRunInProgress) {
		t.Errorf("CollectNow during a run = %v, want ErrRunInProgress", inProgress)
	}
	if len(during.Accounts) != 1 {
		t.Fatalf("status during the run = %+v", during)
	}
	running := 0
	for _, s := range during.Accounts[0].Streams {
		if s.State == model.StateRunning {
			running++
		}
		if s.NextRun == nil {
			t.Errorf("%s next_run = nil for an enabled account", s.Stream)
		}
	}
	// The stream committing is running; so are the others, running or
	// waiting their turn (at most one may have finished already).
	if running < len(a.Streams)-1 {
		t.Errorf("%d of %d streams running during the run: %+v", running, len(a.Streams), during.Accounts[0].Streams)
	}
	after, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range after.Accounts[0].Streams {
		if s.State != model.StateIdle || s.LastRunStarted == nil || s.LastSuccess == nil || s.EventsLastRun == 0 {
			t.Errorf("%s after the run = %+v", s.Stream, s)
		}
	}
}

func TestCollector_RetriesServerErrorsAndSkipsMalformedRecords(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM, model.StreamDLP)
	e.generate(a, 12)
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault5xx, Path: "/api/dlp/", Count: 2})
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord, Path: "/storage/", Skip: 1})
	c := e.collector(func(o *Options) {
		o.ClientOptions = func(co *mimecast.Options) {
			co.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		}
	})
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	e.checkDelivery(e.settle(e.total(a)), a, 0)
	failed := 0
	for _, r := range e.requests("/api/dlp/") {
		if r.Status >= 500 {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d server errors answered, want 2", failed)
	}
	if n := e.sim.PendingFaults(); n != 0 {
		t.Errorf("%d injected faults not used", n)
	}
	if st := e.state(a, model.StreamSIEM); st.State != model.StateIdle || st.EventsLastRun != int64(len(e.sim.Records(a.Name, model.StreamSIEM))) {
		t.Errorf("siem state with a malformed record = %s %q, %d events", st.State, st.LastError, st.EventsLastRun)
	}
}
