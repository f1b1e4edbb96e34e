package mimecast

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

const (
	auditPath  = "/api/audit/get-audit-events"
	dlpPath    = "/api/dlp/get-logs"
	ttpURLPath = "/api/ttp/url/get-logs"
	emptyPage  = `{"meta":{"status":200,"pagination":{}},"data":[],"fail":[]}`
)

// fetch reads one (empty) page of the stream's log endpoint: one request.
func fetch(ctx context.Context, c *Client, s model.Stream) error {
	_, err := c.Logs(ctx, LogQuery{Stream: s}, func(*model.Record) error { return nil })
	return err
}

// newClient returns another client on e's server with the same clock;
// budget nil gives it its own budget, as for another account.
func newClient(t *testing.T, e *testEnv, budget *RateBudget) (*Client, *waits) {
	t.Helper()
	w := &waits{}
	c, err := New(v1Creds(e.srv.URL), Options{
		HTTPClient:     e.srv.Client(),
		AllowedOrigins: []string{e.srv.URL},
		Now:            e.clock.now,
		Sleep:          w.sleep,
		TempDir:        t.TempDir(),
		RateBudget:     budget,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// quota answers log endpoints from one quota shared by all their requests,
// as Mimecast counts an account's: every reply says how many requests are
// left and when the quota refills, and a request beyond it gets a 429.
type quota struct {
	mu     sync.Mutex
	limit  int
	reset  string // X-RateLimit-Reset of every reply, in ms
	used   int
	byPath map[string]int
}

func serveQuota(e *testEnv, limit int, reset string, paths ...string) *quota {
	q := &quota{limit: limit, reset: reset, byPath: map[string]int{}}
	for _, p := range paths {
		e.mux.HandleFunc("POST "+p, q.serve)
	}
	return q
}

func (q *quota) serve(w http.ResponseWriter, r *http.Request) {
	q.mu.Lock()
	q.used++
	q.byPath[r.URL.Path]++
	remaining := q.limit - q.used
	q.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(q.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, remaining)))
	h.Set("X-RateLimit-Reset", q.reset)
	if remaining < 0 {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.Write([]byte(emptyPage))
}

func (q *quota) requests(path string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.byPath[path]
}

func (q *quota) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}

func TestRateBudget_429OnOneStreamHoldsBackTheAccountsOtherStreams(t *testing.T) {
	tests := []struct {
		name      string
		reset     string        // X-RateLimit-Reset of the 429, ms
		block     time.Duration // how long the account is then blocked
		short     bool          // within MaxWait (60 s): waited out, else refused unsent
		wantDLP   int           // requests the dlp stream sends, its retry included
		wantAudit int           // requests the audit stream then sends
	}{
		{"short block is waited out by the other stream", "2000", 2 * time.Second, true, 2, 1},
		{"long block fails the other stream unsent", "600000", 10 * time.Minute, false, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One account with two clients sharing its budget, as two runs of
			// the collector would; another account has a budget of its own.
			budget := NewRateBudget(time.Time{}, nil)
			e := newEnv(t, model.APIVersion1, func(o *Options) { o.RateBudget = budget })
			dlp := failThen(e, dlpPath, 1, func(w http.ResponseWriter) {
				w.Header().Set("X-RateLimit-Reset", tc.reset)
				w.WriteHeader(http.StatusTooManyRequests)
			})
			audit := failThen(e, auditPath, 0, nil)
			other := failThen(e, ttpURLPath, 0, nil)
			sibling, siblingWaits := newClient(t, e, budget)
			otherAccount, otherWaits := newClient(t, e, nil)
			until := e.clock.now().Add(tc.block)

			dlpCtx, leave := budget.Join(t.Context(), model.StreamDLP)
			defer leave()
			err := fetch(dlpCtx, e.client, model.StreamDLP)
			if tc.short != (err == nil) {
				t.Fatalf("dlp stream after its 429: %v", err)
			}
			if got := budget.BlockedUntil(); !got.Equal(until) {
				t.Errorf("BlockedUntil = %v, want %v", got, until)
			}

			auditCtx, leave := budget.Join(t.Context(), model.StreamAudit)
			defer leave()
			err = fetch(auditCtx, sibling, model.StreamAudit)
			var rl *RateLimitError
			switch {
			case tc.short && err != nil:
				t.Errorf("audit stream: %v, want it to wait out the block", err)
			case !tc.short && (!errors.As(err, &rl) || !rl.Until.Equal(until)):
				t.Errorf("audit stream: %v, want a RateLimitError until %v", err, until)
			}
			if audit.get() != tc.wantAudit {
				t.Errorf("audit stream sent %d requests, want %d", audit.get(), tc.wantAudit)
			}
			if w := siblingWaits.all(); tc.short && (len(w) != 1 || w[0] < tc.block) || !tc.short && len(w) != 0 {
				t.Errorf("audit stream waited %v for a block of %v", w, tc.block)
			}
			if dlp.get() != tc.wantDLP {
				t.Errorf("dlp stream sent %d requests, want %d", dlp.get(), tc.wantDLP)
			}

			if err := fetch(t.Context(), otherAccount, model.StreamTTPURL); err != nil || other.get() != 1 || len(otherWaits.all()) != 0 {
				t.Errorf("another account: %v, %d requests, waits %v; want one request at once", err, other.get(), otherWaits.all())
			}
		})
	}
}

func TestRateBudget_LowQuotaIsSharedSoNoStreamStarvesAnother(t *testing.T) {
	tests := []struct {
		name               string
		together           bool // both streams send at the same time, else audit first
		dlpLeaves          bool // the dlp stream leaves once the sharing began, before sending
		wantAudit, wantDLP int
	}{
		{"a greedy stream leaves the other its share", false, false, 2, 2},
		{"streams sending at the same time get equal shares", true, false, 2, 2},
		{"a stream that leaves frees its share", false, true, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			q := serveQuota(e, 5, "600000", auditPath, dlpPath, ttpURLPath)
			reset := e.clock.now().Add(10 * time.Minute)
			auditCtx, leaveAudit := e.client.budget.Join(t.Context(), model.StreamAudit)
			defer leaveAudit()
			dlpCtx, leaveDLP := e.client.budget.Join(t.Context(), model.StreamDLP)
			// A request of no stream is not shared out; its reply says 4
			// are left, which is low for two streams (≤ 2 × 2): two each
			// until the reset in 10 min.
			if err := fetch(t.Context(), e.client, model.StreamTTPURL); err != nil {
				t.Fatal(err)
			}
			if tc.dlpLeaves {
				leaveDLP()
			} else {
				defer leaveDLP()
			}

			// Each stream fetches until the budget refuses; it never waits,
			// as the reset is beyond MaxWait.
			errs := map[model.Stream]error{}
			var mu sync.Mutex
			drain := func(ctx context.Context, s model.Stream) {
				var err error
				for i := 0; i < 10 && err == nil; i++ {
					err = fetch(ctx, e.client, s)
				}
				mu.Lock()
				errs[s] = err
				mu.Unlock()
			}
			ctxs := map[model.Stream]context.Context{model.StreamAudit: auditCtx}
			if !tc.dlpLeaves {
				ctxs[model.StreamDLP] = dlpCtx
			}
			var wg sync.WaitGroup
			for _, s := range []model.Stream{model.StreamAudit, model.StreamDLP} {
				ctx, ok := ctxs[s]
				switch {
				case !ok:
				case tc.together:
					wg.Go(func() { drain(ctx, s) })
				default:
					drain(ctx, s)
				}
			}
			wg.Wait()

			if got := q.requests(auditPath); got != tc.wantAudit {
				t.Errorf("audit stream sent %d requests, want %d", got, tc.wantAudit)
			}
			if got := q.requests(dlpPath); got != tc.wantDLP {
				t.Errorf("dlp stream sent %d requests, want %d", got, tc.wantDLP)
			}
			if q.total() > q.limit {
				t.Errorf("%d requests for a quota of %d", q.total(), q.limit)
			}
			for s, err := range errs {
				var rl *RateLimitError
				if !errors.As(err, &rl) || !rl.Until.Equal(reset) {
					t.Errorf("%s stream stopped with %v, want a RateLimitError until the reset %v", s, err, reset)
				}
			}
			if w := e.waits.all(); len(w) != 0 {
				t.Errorf("waits %v, want none", w)
			}
		})
	}
}

func TestRateBudget_StreamOverItsShareWaitsForAShortReset(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	q := serveQuota(e, 5, "2000", auditPath, dlpPath, ttpURLPath)
	auditCtx, leave := e.client.budget.Join(t.Context(), model.StreamAudit)
	defer leave()
	dlpCtx, leave := e.client.budget.Join(t.Context(), model.StreamDLP)
	defer leave()
	if err := fetch(t.Context(), e.client, model.StreamTTPURL); err != nil { // 4 left: two each
		t.Fatal(err)
	}
	for i := range 3 {
		if err := fetch(auditCtx, e.client, model.StreamAudit); err != nil {
			t.Fatalf("audit request %d: %v", i+1, err)
		}
		if want := max(0, i-1); len(e.waits.all()) != want {
			t.Fatalf("after audit request %d: waits %v, want %d", i+1, e.waits.all(), want)
		}
	}
	if w := e.waits.all()[0]; w < 2*time.Second || w > 2300*time.Millisecond {
		t.Errorf("the third audit request waited %v, want the 2 s until the reset", w)
	}
	if err := fetch(dlpCtx, e.client, model.StreamDLP); err != nil || len(e.waits.all()) != 1 {
		t.Errorf("dlp request: %v, waits %v; want it sent at once", err, e.waits.all())
	}
	if q.requests(auditPath) != 3 || q.requests(dlpPath) != 1 {
		t.Errorf("sent %d audit and %d dlp requests, want 3 and 1", q.requests(auditPath), q.requests(dlpPath))
	}
}

func TestRateBudget_RemainingZeroBlocksUntilTheReset(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	e.mux.HandleFunc("POST "+auditPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "5000")
		w.Write([]byte(emptyPage))
	})
	for range 2 {
		if err := fetch(t.Context(), e.client, model.StreamAudit); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := e.client.budget.BlockedUntil(), e.clock.now().Add(5*time.Second); !got.Equal(want) {
		t.Errorf("BlockedUntil = %v, want %v", got, want)
	}
	if w := e.waits.all(); len(w) != 1 || w[0] < 5*time.Second {
		t.Errorf("waits %v, want the second request to wait 5 s", w)
	}
}

func TestRateBudget_NotConsultedForPresignedFileDownloads(t *testing.T) {
	body := gzipBytes(t, sampleLines(t, "siem-v2-receipt.jsonl")[0])
	tests := []struct {
		name      string
		blocked   bool // the account is blocked for longer than MaxWait
		first     int  // status of the first reply, then the file
		headers   map[string]string
		wantCalls int
		wantWaits int
	}{
		{"a blocked account still downloads", true, http.StatusOK, nil, 1, 0},
		{"quota headers of storage are ignored", false, http.StatusOK,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "600000"}, 1, 0},
		{"a 429 from storage delays only the download", false, http.StatusTooManyRequests,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000"}, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seed time.Time
			start := time.Date(2024, 11, 18, 10, 0, 0, 0, time.UTC)
			if tc.blocked {
				seed = start.Add(time.Hour)
			}
			budget := NewRateBudget(seed, nil)
			e := newEnv(t, model.APIVersion2, func(o *Options) { o.RateBudget = budget })
			calls := &counter{}
			e.mux.HandleFunc("GET /files/f.gz", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				if calls.inc() == 1 && tc.first != http.StatusOK {
					w.WriteHeader(tc.first)
					return
				}
				w.Write(body)
			})
			f := BatchFile{URL: e.srv.URL + "/files/f.gz?X-Amz-Signature=sig", LogType: model.LogReceipt}
			stats, err := e.client.DownloadSIEMFile(t.Context(), f, func(*model.Record) error { return nil })
			if err != nil || stats.Records != 1 {
				t.Fatalf("DownloadSIEMFile: %+v, %v; want the record", stats, err)
			}
			if calls.get() != tc.wantCalls || len(e.waits.all()) != tc.wantWaits {
				t.Errorf("%d requests, waits %v; want %d and %d waits", calls.get(), e.waits.all(), tc.wantCalls, tc.wantWaits)
			}
			if got := budget.BlockedUntil(); !got.Equal(seed) {
				t.Errorf("BlockedUntil = %v, want it unchanged (%v)", got, seed)
			}
		})
	}
}

func TestClient_CheckAuthSendsNothingWhileBlocked(t *testing.T) {
	for _, version := range []string{model.APIVersion1, model.APIVersion2} {
		t.Run(version, func(t *testing.T) {
			start := time.Date(2024, 11, 18, 10, 0, 0, 0, time.UTC)
			budget := NewRateBudget(start.Add(10*time.Minute), nil)
			e := newEnv(t, version, func(o *Options) { o.RateBudget = budget })
			calls := &counter{}
			e.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { calls.inc() })
			err := e.client.CheckAuth(t.Context())
			if !errors.Is(err, ErrRateLimited) || err.Error() != "rate limited by Mimecast until 10:10:00 UTC; the next run continues" {
				t.Errorf("CheckAuth = %v, want the rate limit with its end", err)
			}
			if calls.get() != 0 {
				t.Errorf("%d requests sent while blocked, want none", calls.get())
			}
		})
	}
}

func TestRateBudget_ReportsEachLaterBlockInOrder(t *testing.T) {
	start := time.Date(2024, 11, 18, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var reported []time.Time
	b := NewRateBudget(start, func(until time.Time) {
		mu.Lock()
		reported = append(reported, until)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { b.block(start.Add(time.Duration(i-10) * time.Second)) })
	}
	wg.Wait()
	last := start
	for _, r := range reported {
		if !r.After(last) {
			t.Fatalf("reported %v after %v: saved blocks must only move forward", r, last)
		}
		last = r
	}
	if want := start.Add(39 * time.Second); !last.Equal(want) || !b.BlockedUntil().Equal(want) {
		t.Errorf("last reported %v, BlockedUntil %v; want both %v", last, b.BlockedUntil(), want)
	}
}
