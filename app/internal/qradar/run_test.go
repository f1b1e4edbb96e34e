package qradar

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mimecast-qradar/app/internal/qradarsim"
)

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		if got := backoff(i+1, time.Minute, 10*time.Minute); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestRun_RequestsDuringAReconcileQueueExactlyOneMore(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	entered, release := make(chan struct{}), make(chan struct{})
	var attempts atomic.Int32
	h.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/api/help/versions" && attempts.Add(1) == 1 {
			close(entered)
			<-release
		}
		next.ServeHTTP(w, r)
	})
	m := h.manager()
	waits := make(chan time.Duration, 10)
	m.after = func(d time.Duration) <-chan time.Time {
		waits <- d
		return nil // no timer-driven attempt in this test
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-entered
	// The panel answers at once while the console hangs.
	if s := h.state(m); !s.Running {
		t.Errorf("state while reconciling: running=%v", s.Running)
	}
	for range 5 {
		m.RequestReconcile()
	}
	close(release)
	<-waits
	<-waits
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d reconciles, want the running one plus exactly one queued", n)
	}
	if len(m.wake) != 0 {
		t.Error("a further reconcile is still queued")
	}
	for _, r := range h.sim.Requests() {
		if r.Path == "/api/"+pathDeploy {
			t.Errorf("the app deployed on its own: %s %s", r.Method, r.Path)
		}
	}
}

func TestRun_BacksOffWhileTheTokenIsMissingUntilAskedToTryNow(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	h.setToken("")
	m := h.manager()

	var mu sync.Mutex
	var delays []time.Duration
	waited := make(chan int, 20)
	m.after = func(d time.Duration) <-chan time.Time {
		mu.Lock()
		delays = append(delays, d)
		n := len(delays)
		mu.Unlock()
		waited <- n
		if n < 6 {
			// The backoff elapses at once: no real waiting in tests.
			c := make(chan time.Time, 1)
			c <- time.Now()
			return c
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for n := 0; n < 6; n = <-waited {
	}
	mu.Lock()
	got := slices.Clone(delays)
	mu.Unlock()
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("retry delays %v, want %v", got, want)
	}
	if n := len(h.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent without a token", n)
	}
	if s := h.state(m); s.Authorised || s.State != StateError || s.NextAttempt == nil {
		t.Errorf("state %+v, want not authorised, error, with a next attempt", s)
	}

	// "Set up now" tries at once and starts the backoff again.
	m.RequestReconcile()
	<-waited
	mu.Lock()
	last := delays[len(delays)-1]
	mu.Unlock()
	if last != time.Minute {
		t.Errorf("after Set up now the next retry is in %v, want %v", last, time.Minute)
	}

	// The administrator authorises the app and clicks "Set up now".
	h.setToken(testToken)
	m.RequestReconcile()
	<-waited
	mu.Lock()
	last = delays[len(delays)-1]
	mu.Unlock()
	if last != m.opts.ResyncEvery {
		t.Errorf("after a successful attempt the next one is in %v, want the resync interval %v", last, m.opts.ResyncEvery)
	}
	if s := h.state(m); !s.Authorised || (s.State != StatePending && s.State != StateOK) {
		t.Errorf("state after authorising: %+v", s)
	}
}
