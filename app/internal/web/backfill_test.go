package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// backfillEnv is a server on a fixed clock with one account collecting
// siem, audit and threat_intel_grid.
func backfillEnv(t *testing.T, configure func(*Options)) (*testEnv, *apiClient, int64, time.Time) {
	t.Helper()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	env := newTestEnv(t, func(o *Options) {
		o.Now = func() time.Time { return now }
		if configure != nil {
			configure(o)
		}
	})
	c := env.client()
	body := account2("Acme EU")
	body["streams"] = []string{"siem", "audit", "threat_intel_grid"}
	var a accountJSON
	c.json("POST", "/api/accounts", body, http.StatusCreated, &a)
	return env, c, a.ID, now
}

func backfillPath(id int64, stream string) string {
	return fmt.Sprintf("/api/accounts/%d/streams/%s/backfill", id, stream)
}

func rfc(t time.Time) string { return t.Format(time.RFC3339) }

func TestBackfill_AcceptedPeriodsReachTheCollectorAndShowInStatus(t *testing.T) {
	env, c, id, now := backfillEnv(t, nil)
	plus2 := time.FixedZone("+02:00", 2*3600)
	tests := []struct {
		name, stream string
		from, to     string
		wantFrom     time.Time
		wantTo       time.Time
	}{
		{"the last day of SIEM", "siem", rfc(now.Add(-24 * time.Hour)), rfc(now),
			now.Add(-24 * time.Hour), now},
		{"an offset other than UTC", "audit", "2026-11-01T08:30:00+02:00", "2026-11-02T08:30:00+02:00",
			time.Date(2026, 11, 1, 8, 30, 0, 0, plus2), time.Date(2026, 11, 2, 8, 30, 0, 0, plus2)},
		// The browser's clock may be a few minutes off; the collector clamps.
		{"just past the retention and now, within the skew", "siem", rfc(now.Add(-7*24*time.Hour - 4*time.Minute)), rfc(now.Add(4 * time.Minute)),
			now.Add(-7*24*time.Hour - 4*time.Minute), now.Add(4 * time.Minute)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.in(t)
			env.collector.mu.Lock()
			clear(env.collector.backfills)
			env.collector.mu.Unlock()
			var res map[string]string
			c.json("POST", backfillPath(id, tt.stream), map[string]string{"from": tt.from, "to": tt.to}, http.StatusAccepted, &res)
			if !strings.Contains(res["message"], "re-collection requested") {
				t.Errorf("message = %q", res["message"])
			}
			calls := env.collector.backfillRequests()
			if len(calls) != i+1 {
				t.Fatalf("collector calls = %v, want %d", calls, i+1)
			}
			got := calls[i]
			if got.id != id || string(got.stream) != tt.stream || !got.from.Equal(tt.wantFrom) || !got.to.Equal(tt.wantTo) {
				t.Errorf("collector asked for %d/%s %v → %v, want %d/%s %v → %v", got.id, got.stream, got.from, got.to,
					id, tt.stream, tt.wantFrom, tt.wantTo)
			}
			var st statusJSON
			c.json("GET", "/api/status", nil, http.StatusOK, &st)
			for _, s := range st.Accounts[0].Streams {
				if (s.Backfill != nil) != (string(s.Stream) == tt.stream) {
					t.Errorf("status of %s: backfill %+v", s.Stream, s.Backfill)
				}
			}
		})
	}
}

func TestBackfill_ReportsEveryFieldProblemAtOnce(t *testing.T) {
	env, c, id, now := backfillEnv(t, nil)
	day := 24 * time.Hour
	tests := []struct {
		name, stream string
		body         map[string]any
		wantFields   []string
	}{
		{"empty object", "siem", map[string]any{}, []string{"from", "to"}},
		{"null times", "siem", map[string]any{"from": nil, "to": nil}, []string{"from", "to"}},
		{"not RFC 3339", "siem", map[string]any{"from": "yesterday", "to": "2026-11-23 10:00"}, []string{"from", "to"}},
		{"not strings", "siem", map[string]any{"from": 1763884800, "to": true}, []string{"from", "to"}},
		{"no time zone", "siem", map[string]any{"from": "2026-11-22T10:00:00", "to": rfc(now)}, []string{"from"}},
		{"ends before it starts", "siem", map[string]any{"from": rfc(now.Add(-day)), "to": rfc(now.Add(-2 * day))}, []string{"to"}},
		{"empty period", "siem", map[string]any{"from": rfc(now.Add(-day)), "to": rfc(now.Add(-day))}, []string{"to"}},
		{"ends in the future", "siem", map[string]any{"from": rfc(now.Add(-day)), "to": rfc(now.Add(10 * time.Minute))}, []string{"to"}},
		{"all in the future", "audit", map[string]any{"from": rfc(now.Add(time.Hour)), "to": rfc(now.Add(2 * time.Hour))}, []string{"from", "to"}},
		{"older than SIEM's 7 days", "siem", map[string]any{"from": rfc(now.Add(-8 * day)), "to": rfc(now)}, []string{"from"}},
		{"older than the logs' 60 days", "audit", map[string]any{"from": rfc(now.Add(-61 * day)), "to": rfc(now)}, []string{"from"}},
		{"a snapshot stream", "threat_intel_grid", map[string]any{"from": rfc(now.Add(-day)), "to": rfc(now)}, []string{"stream"}},
		{"a stream the account does not collect", "dlp", map[string]any{"from": rfc(now.Add(-day)), "to": rfc(now)}, []string{"stream"}},
		{"everything wrong", "nope", map[string]any{"from": "soon", "to": rfc(now.Add(time.Hour))}, []string{"stream", "from", "to"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e errorBody
			c.in(t).json("POST", backfillPath(id, tt.stream), tt.body, http.StatusUnprocessableEntity, &e)
			got := slices.Sorted(maps.Keys(e.Fields))
			want := slices.Sorted(slices.Values(tt.wantFields))
			if !slices.Equal(got, want) {
				t.Errorf("fields = %v, want %v (%v)", got, want, e.Fields)
			}
			if e.Error == "" {
				t.Error("no error message")
			}
		})
	}
	if calls := env.collector.backfillRequests(); len(calls) != 0 {
		t.Errorf("invalid requests reached the collector: %v", calls)
	}

	var e errorBody
	c.json("POST", backfillPath(id, "siem"), nil, http.StatusBadRequest, &e)
	c.json("POST", backfillPath(id, "siem"), "from=yesterday", http.StatusBadRequest, &e)
	if e.Error != errNotJSON.Error() {
		t.Errorf("a body that is not JSON: %q", e.Error)
	}
	c.json("POST", backfillPath(id, "siem"), map[string]any{"from": rfc(now.Add(-8 * 24 * time.Hour)), "to": rfc(now)}, http.StatusUnprocessableEntity, &e)
	if e.Fields["from"] != "must be within the last 7 days: Mimecast keeps siem data 7 days" {
		t.Errorf("retention problem = %q", e.Fields["from"])
	}
}

func TestBackfill_CollectorAnswers(t *testing.T) {
	env, c, id, now := backfillEnv(t, nil)
	period := map[string]string{"from": rfc(now.Add(-time.Hour)), "to": rfc(now)}
	tests := []struct {
		name      string
		err       error
		status    int
		wantError string
	}{
		{"refused by the collector", fmt.Errorf("%w: Mimecast keeps siem data for 7 days; the period ends before 2026-11-16T10:00:00Z", model.ErrInvalidBackfill),
			http.StatusUnprocessableEntity, "invalid re-collection: Mimecast keeps siem data for 7 days"},
		{"pending", model.ErrBackfillPending, http.StatusConflict, "already pending"},
		{"account gone meanwhile", fmt.Errorf("reading account: %w", store.ErrNotFound), http.StatusNotFound, "no account with id"},
		{"store failure", errors.New("database is locked"), http.StatusInternalServerError, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.collector.mu.Lock()
			env.collector.backfillErr = tt.err
			env.collector.mu.Unlock()
			var e errorBody
			c.in(t).json("POST", backfillPath(id, "siem"), period, tt.status, &e)
			if !strings.Contains(e.Error, tt.wantError) {
				t.Errorf("error = %q, want it to contain %q", e.Error, tt.wantError)
			}
		})
	}
	env.collector.mu.Lock()
	env.collector.backfillErr = nil
	env.collector.mu.Unlock()

	// A second request while the first is pending is a conflict.
	c.json("POST", backfillPath(id, "siem"), period, http.StatusAccepted, nil)
	c.json("POST", backfillPath(id, "siem"), period, http.StatusConflict, nil)
	// Unknown accounts are 404 on both routes.
	for _, acct := range []string{"999", "abc"} {
		p := "/api/accounts/" + acct + "/streams/siem/backfill"
		c.json("POST", p, period, http.StatusNotFound, nil)
		c.json("DELETE", p, nil, http.StatusNotFound, nil)
	}
}

func TestBackfill_CancelDropsThePendingRecollection(t *testing.T) {
	env, c, id, now := backfillEnv(t, nil)
	c.json("DELETE", backfillPath(id, "siem"), nil, http.StatusNotFound, nil)
	c.json("POST", backfillPath(id, "siem"), map[string]string{"from": rfc(now.Add(-time.Hour)), "to": rfc(now)}, http.StatusAccepted, nil)

	var res map[string]string
	c.json("DELETE", backfillPath(id, "siem"), nil, http.StatusOK, &res)
	if !strings.Contains(res["message"], "re-collection cancelled") {
		t.Errorf("message = %q", res["message"])
	}
	want := backfillKey{id, model.StreamSIEM}
	if got := env.collector.cancelRequests(); len(got) != 2 || got[1] != want {
		t.Errorf("collector cancels = %v, want the failed one and %v", got, want)
	}
	var st statusJSON
	c.json("GET", "/api/status", nil, http.StatusOK, &st)
	for _, s := range st.Accounts[0].Streams {
		if s.Backfill != nil {
			t.Errorf("status of %s after the cancel: backfill %+v", s.Stream, s.Backfill)
		}
	}
	var e errorBody
	c.json("DELETE", backfillPath(id, "siem"), nil, http.StatusNotFound, &e)
	if e.Error != "no re-collection of siem is pending for this account" {
		t.Errorf("cancel of nothing: %q", e.Error)
	}
}

func TestBackfill_WithoutCSRFTokenIsRefusedWithoutEffect(t *testing.T) {
	env, c, id, now := backfillEnv(t, nil)
	c.json("POST", backfillPath(id, "audit"), map[string]string{"from": rfc(now.Add(-time.Hour)), "to": rfc(now)}, http.StatusAccepted, nil)
	other := env.client()
	for _, r := range []struct {
		method string
		body   any
	}{
		{"POST", map[string]string{"from": rfc(now.Add(-time.Hour)), "to": rfc(now)}},
		{"DELETE", nil},
	} {
		for name, header := range map[string]http.Header{
			"no token":              {"X-Csrf-Token": {""}},
			"wrong token":           {"X-Csrf-Token": {"x" + c.token}},
			"another session's one": {"X-Csrf-Token": {other.token}},
		} {
			resp := c.send(r.method, backfillPath(id, "siem"), r.body, header)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s with %s: %d, want 403", r.method, name, resp.StatusCode)
			}
			resp = c.send(r.method, backfillPath(id, "audit"), r.body, header)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s of the pending one with %s: %d, want 403", r.method, name, resp.StatusCode)
			}
		}
	}
	if calls := env.collector.backfillRequests(); len(calls) != 1 {
		t.Errorf("collector backfill calls = %v, want only the one with the token", calls)
	}
	if cancels := env.collector.cancelRequests(); len(cancels) != 0 {
		t.Errorf("collector cancels = %v, want none", cancels)
	}
}

func TestBackfill_AuditTrailNamesStreamAndPeriod(t *testing.T) {
	sink := newAuditSink()
	_, c, id, now := backfillEnv(t, func(o *Options) { o.SendAuditEvent = sink.send })
	from, to := now.Add(-36*time.Hour), now.Add(-12*time.Hour)
	period := map[string]string{"from": rfc(from), "to": rfc(to)}
	p := backfillPath(id, "siem")
	for _, s := range []struct {
		user, method string
		body         any
		status       int
	}{
		{"alice", "POST", map[string]string{"from": rfc(to), "to": rfc(from)}, http.StatusUnprocessableEntity}, // refused: not recorded
		{"alice", "POST", period, http.StatusAccepted},
		{"alice", "POST", period, http.StatusConflict}, // refused: not recorded
		{"bob", "DELETE", nil, http.StatusOK},
		{"bob", "DELETE", nil, http.StatusNotFound}, // nothing pending: not recorded
	} {
		if got := c.as(s.user, s.method, p, s.body); got != s.status {
			t.Fatalf("%s %s as %s: %d, want %d", s.method, p, s.user, got, s.status)
		}
	}

	entries := auditTrail(t, c)[:2] // newest first; then the account's creation
	wantDetails := map[string]string{"account_id": fmt.Sprint(id), "stream": "siem", "from": "2026-11-21T22:00:00Z", "to": "2026-11-22T22:00:00Z"}
	for i, want := range []struct{ actor, action string }{{"bob", "stream_backfill_cancelled"}, {"alice", "stream_backfill_requested"}} {
		e := entries[i]
		if e.Actor != want.actor || e.Action != want.action || e.Target != "Acme EU" || !maps.Equal(e.Details, wantDetails) {
			t.Errorf("audit entry %d = %+v, want %s by %s on Acme EU with %v", i, e, want.action, want.actor, wantDetails)
		}
	}
	if n := len(auditTrail(t, c)); n != 3 {
		t.Errorf("%d audit entries, want 3 (creation, request, cancel)", n)
	}
	events := sink.wait(t, 3)
	if got := events[1].Attr("cat") + " " + events[2].Attr("cat"); got != "stream_backfill_requested stream_backfill_cancelled" {
		t.Errorf("audit events sent to QRadar: %s", got)
	}
	if d := events[1].Attr("mcDetails"); !strings.Contains(d, `"from":"2026-11-21T22:00:00Z"`) {
		t.Errorf("mcDetails of the request = %s", d)
	}
}
