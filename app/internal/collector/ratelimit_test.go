package collector

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// testClock is a clock that moves only when told.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// savedBlock returns the rate-limit block saved for a (zero when none).
func (e *testEnv) savedBlock(a model.Account) time.Time {
	e.t.Helper()
	v, ok, err := e.store.Setting(context.Background(), blockedUntilKey(a.ID))
	if err != nil || !ok {
		if err != nil {
			e.t.Fatal(err)
		}
		return time.Time{}
	}
	until, err := time.Parse(time.RFC3339, v)
	if err != nil {
		e.t.Fatalf("saved block %q: %v", v, err)
	}
	return until
}

// accountRequests counts the simulator's requests of the account whose
// path starts with prefix.
func (e *testEnv) accountRequests(a model.Account, prefix string) int {
	n := 0
	for _, r := range e.requests(prefix) {
		if r.Account == a.Name {
			n++
		}
	}
	return n
}

func TestCollector_RateLimitOnOneStreamHoldsBackTheAccountsOtherStreams(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	streams := []model.Stream{model.StreamAudit, model.StreamDLP}
	acme := e.addAccount("acme", model.APIVersion2, streams...)
	other := e.addAccount("other", model.APIVersion2, streams...)
	e.generate(acme, 30)
	e.generate(other, 30)
	// acme's dlp stream meets a 429 asking for 10 minutes (beyond the
	// client's MaxWait), while its audit stream, slowed down, is still
	// reading its first of ten pages.
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Account: acme.Name, Path: "/api/dlp/", Delay: 10 * time.Minute})
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultSlow, Account: acme.Name, Path: "/api/audit/", Count: -1, Delay: 500 * time.Millisecond})
	c := e.collector(nil)
	start := time.Now()
	if err := c.RunOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "rate limited by Mimecast until") {
		t.Fatalf("RunOnce = %v, want acme's streams rate limited", err)
	}
	for _, s := range streams {
		if st := e.state(acme, s); st.State != model.StateError || !strings.Contains(st.LastError, "rate limited by Mimecast until ") {
			t.Errorf("acme %s: %s %q, want the rate limit error", s, st.State, st.LastError)
		}
	}
	if n := e.accountRequests(acme, "/api/dlp/"); n != 1 {
		t.Errorf("acme's dlp stream sent %d requests, want 1 (no retry during the block)", n)
	}
	if n := e.accountRequests(acme, "/api/audit/"); n > 1 {
		t.Errorf("acme's audit stream sent %d requests, want at most the one in flight when the 429 came", n)
	}
	if until := e.savedBlock(acme); until.Before(start.Add(10*time.Minute).Truncate(time.Second)) || until.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("saved block until %v, want 10 minutes after the 429", until)
	}

	// The other account collected everything, untouched by acme's block.
	for _, s := range streams {
		if st := e.state(other, s); st.State != model.StateIdle || st.LastError != "" {
			t.Errorf("other %s: %s %q, want idle", s, st.State, st.LastError)
		}
	}
	e.checkDelivery(e.settle(e.total(other)), other, 0)
	if until := e.savedBlock(other); !until.IsZero() {
		t.Errorf("other account blocked until %v, want no block", until)
	}
}

func TestCollector_RateLimitBlockSurvivesRestart(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	streams := []model.Stream{model.StreamAudit, model.StreamDLP}
	a := e.addAccount("acme", model.APIVersion2, streams...)
	e.generate(a, 10)
	clock := &testClock{t: time.Now()}
	withClock := func(o *Options) { o.Now = clock.now }

	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Account: a.Name, Path: "/api/dlp/", Delay: 10 * time.Minute})
	first := e.collector(withClock)
	if err := first.RunOnce(context.Background()); err == nil {
		t.Fatal("RunOnce after a 429 of 10 minutes succeeded")
	}
	until := e.savedBlock(a)
	if want := clock.now().Add(10 * time.Minute); !until.Equal(want) {
		t.Fatalf("saved block until %v, want %v", until, want)
	}
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A restart within the block: the run sends nothing to Mimecast, and
	// every stream says until when.
	clock.advance(5 * time.Minute)
	second := e.collector(withClock)
	sent := len(e.sim.Requests())
	if err := second.RunOnce(context.Background()); err == nil {
		t.Fatal("RunOnce during the block succeeded")
	}
	if n := len(e.sim.Requests()) - sent; n != 0 {
		t.Errorf("%d requests sent to Mimecast during the block, want none", n)
	}
	want := (&mimecast.RateLimitError{Until: until}).Error()
	status, err := second.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range status.Accounts[0].Streams {
		if st.State != model.StateError || st.LastError != want {
			t.Errorf("%s: %s %q, want error %q", st.Stream, st.State, st.LastError, want)
		}
	}

	// Once the block is over, the next run collects again.
	clock.advance(6 * time.Minute)
	if err := second.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce after the block: %v", err)
	}
	if len(e.sim.Requests()) == sent {
		t.Error("no request sent after the block")
	}
	for _, s := range streams {
		if st := e.state(a, s); st.State != model.StateIdle || st.LastError != "" {
			t.Errorf("%s: %s %q, want idle", s, st.State, st.LastError)
		}
	}
	e.checkDelivery(e.settle(e.total(a)), a, 0)
}

func TestCollector_DeletedAccountDropsItsRateBudget(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAudit)
	c := e.collector(nil)
	if b := c.rateBudget(a.ID); b != c.rateBudget(a.ID) {
		t.Fatal("two budgets for one account")
	}
	c.AccountDeleted(context.Background(), a.ID)
	c.mu.Lock()
	_, kept := c.budgets[a.ID]
	c.mu.Unlock()
	if kept {
		t.Error("the deleted account's budget is kept")
	}
}
