package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// lagOf returns lag_seconds (nil when null) and lag_state of one stream
// from GET /api/status.
func lagOf(t *testing.T, c *apiClient, accountID int64, stream model.Stream) (*float64, string) {
	t.Helper()
	var raw struct {
		Accounts []struct {
			ID      int64            `json:"id"`
			Streams []map[string]any `json:"streams"`
		} `json:"accounts"`
	}
	c.json("GET", "/api/status", nil, http.StatusOK, &raw)
	for _, a := range raw.Accounts {
		for _, s := range a.Streams {
			if a.ID == accountID && s["stream"] == string(stream) {
				state, _ := s["lag_state"].(string)
				if _, ok := s["lag_seconds"]; !ok {
					t.Fatal("status stream lacks lag_seconds")
				}
				if v, ok := s["lag_seconds"].(float64); ok {
					return &v, state
				}
				return nil, state
			}
		}
	}
	t.Fatalf("no status for account %d stream %s", accountID, stream)
	return nil, ""
}

func TestStatus_LagOfAStalledStreamGoesFromOKToWarningToDanger(t *testing.T) {
	clock := &testClock{}
	env := newTestEnv(t, func(o *Options) { o.Now = clock.now })
	c := env.client()
	var a accountJSON
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock.set(t0)

	if lag, state := lagOf(t, c, a.ID, model.StreamSIEM); lag != nil || state != lagOK {
		t.Fatalf("before any run: lag %v, state %q; want null and ok", lag, state)
	}

	// The last good run delivered events up to 5 minutes before it ended;
	// from then on every run fails.
	newest, ended := t0.Add(-5*time.Minute), t0
	failedAt := t0.Add(time.Hour)
	st := model.StreamStatus{Stream: model.StreamSIEM, State: model.StateError, LastRunStarted: &failedAt, LastRunEnded: &failedAt,
		LastSuccess: &ended, EventsLastRun: 0, EventsTotal: 500, LastError: "sending to syslog: connection refused", NewestEvent: &newest}
	if err := env.store.SaveStreamState(ctx, a.ID, st); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at        time.Time
		wantState string
	}{
		{t0.Add(time.Hour), lagOK},
		{t0.Add(2*time.Hour - 6*time.Minute), lagOK},
		{t0.Add(3 * time.Hour), lagWarning},
		{t0.Add(4*24*time.Hour + 23*time.Hour), lagWarning},
		{newest.Add(5 * 24 * time.Hour), lagDanger},
		{t0.Add(9 * 24 * time.Hour), lagDanger},
	} {
		clock.set(step.at)
		lag, state := lagOf(t, c, a.ID, model.StreamSIEM)
		want := step.at.Sub(newest).Seconds()
		if lag == nil || *lag != want || state != step.wantState {
			t.Errorf("at %s: lag %v, state %q; want %v s, %q", step.at.Sub(t0), lag, state, want, step.wantState)
		}
	}
}

func TestStreamLag(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	for _, tc := range []struct {
		name   string
		ss     model.StreamStatus
		want   time.Duration
		wantOK bool
	}{
		{"never ran", model.StreamStatus{State: model.StateIdle}, 0, false},
		{"failing from the start", model.StreamStatus{State: model.StateError, LastRunEnded: at(time.Hour)}, 0, false},
		{"newest event counts when the last run delivered events",
			model.StreamStatus{State: model.StateIdle, NewestEvent: at(3 * time.Hour), LastSuccess: at(time.Minute),
				LastRunEnded: at(time.Minute), EventsLastRun: 1000}, 3 * time.Hour, true},
		{"a quiet stream is caught up at its last successful run",
			model.StreamStatus{State: model.StateIdle, NewestEvent: at(3 * 24 * time.Hour), LastSuccess: at(10 * time.Minute),
				LastRunEnded: at(10 * time.Minute)}, 10 * time.Minute, true},
		{"a failed last run is not a sign of being caught up",
			model.StreamStatus{State: model.StateError, NewestEvent: at(3 * 24 * time.Hour), LastSuccess: at(2 * 24 * time.Hour),
				LastRunEnded: at(10 * time.Minute)}, 3 * 24 * time.Hour, true},
		{"successful runs without any event so far",
			model.StreamStatus{State: model.StateIdle, LastSuccess: at(20 * time.Minute), LastRunEnded: at(20 * time.Minute)}, 20 * time.Minute, true},
		{"an event from the future is no lag",
			model.StreamStatus{State: model.StateIdle, NewestEvent: at(-time.Hour), EventsLastRun: 3}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := streamLag(tc.ss, now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("streamLag = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestLagWarningAfter_GrowsWithTheSchedule(t *testing.T) {
	s := &Server{now: func() time.Time { return time.Date(2026, 11, 22, 10, 7, 0, 0, time.UTC) }}
	for _, tc := range []struct {
		schedule string
		want     time.Duration
	}{
		{"*/5 * * * *", 2 * time.Hour},      // 4 × 5 min is under the floor
		{"*/30 * * * *", 2 * time.Hour},     // 4 × 30 min is the floor
		{"0 * * * *", 4 * time.Hour},        // hourly
		{"0 */6 * * *", 24 * time.Hour},     // every six hours
		{"0 9 * * 1-5", 4 * 72 * time.Hour}, // weekdays: the weekend gap counts
		{"not a schedule", 2 * time.Hour},
	} {
		if got := s.lagWarningAfter(tc.schedule); got != tc.want {
			t.Errorf("lagWarningAfter(%q) = %v, want %v", tc.schedule, got, tc.want)
		}
	}
	// Danger is fixed by Mimecast's retention, whatever the schedule.
	if got := s.lagState(5*24*time.Hour, "0 9 * * 1-5"); got != lagDanger {
		t.Errorf("5 days behind on a weekday schedule: %q, want danger", got)
	}
	if got := s.lagState(3*24*time.Hour, "0 9 * * 1-5"); got != lagOK {
		t.Errorf("3 days behind on a weekday schedule: %q, want ok (a long weekend is normal)", got)
	}
}

// The lag fields are part of every stream's status, with lag_seconds null
// before the first event.
func TestStatus_LagFieldsPresentAndNullBeforeFirstEvent(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, nil)
	_, body := c.do("GET", "/api/status", nil)
	var raw struct {
		Accounts []struct {
			Streams []map[string]json.RawMessage `json:"streams"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, s := range raw.Accounts[0].Streams {
		if string(s["lag_seconds"]) != "null" || string(s["lag_state"]) != `"ok"` {
			t.Errorf("stream %s: lag_seconds %s, lag_state %s", s["stream"], s["lag_seconds"], s["lag_state"])
		}
	}
}
