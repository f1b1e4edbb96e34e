package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslogrecv"
)

// auditSink collects the audit events the server sends.
type auditSink struct {
	mu    sync.Mutex
	lines []string
	fail  error
	got   chan struct{}
}

func newAuditSink() *auditSink { return &auditSink{got: make(chan struct{}, 1000)} }

func (a *auditSink) send(ctx context.Context, line []byte) error {
	a.mu.Lock()
	a.lines = append(a.lines, string(line))
	err := a.fail
	a.mu.Unlock()
	a.got <- struct{}{}
	return err
}

// wait waits until n events arrived in total and returns them parsed,
// ordered by mcAuditId (they are sent concurrently).
func (a *auditSink) wait(t *testing.T, n int) []syslogrecv.Message {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		a.mu.Lock()
		have := len(a.lines)
		a.mu.Unlock()
		if have >= n {
			break
		}
		select {
		case <-a.got:
		case <-timeout:
			t.Fatalf("%d audit events sent, want %d", have, n)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]syslogrecv.Message, 0, len(a.lines))
	for _, l := range a.lines {
		m, err := syslogrecv.Parse(l)
		if err != nil || m.LEEF == nil {
			t.Fatalf("audit event %q does not parse: %v", l, err)
		}
		out = append(out, m)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && auditID(out[j]) < auditID(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func auditID(m syslogrecv.Message) int {
	n, _ := strconv.Atoi(m.Attr("mcAuditId"))
	return n
}

// as sends a request on behalf of the QRadar user named in X-QRadar-User
// ("" sends none) and returns the status.
func (c *apiClient) as(user, method, path string, body any) int {
	c.t.Helper()
	h := http.Header{}
	if user != "" {
		h.Set(actorHeader, user)
	}
	resp := c.send(method, path, body, h)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.bodies = append(c.bodies, string(b))
	return resp.StatusCode
}

func auditTrail(t *testing.T, c *apiClient) []store.AuditEntry {
	t.Helper()
	var entries []store.AuditEntry
	c.json("GET", "/api/audit", nil, http.StatusOK, &entries)
	return entries
}

func TestAudit_RecordsWhoChangedWhatWithoutSecrets(t *testing.T) {
	sink := newAuditSink()
	env := newTestEnv(t, func(o *Options) { o.SendAuditEvent = sink.send })
	c := env.client()
	var a accountJSON
	c.json("POST", "/api/accounts", account2("Acme EU"), http.StatusCreated, &a)
	p := fmt.Sprintf("/api/accounts/%d", a.ID)
	steps := []struct {
		user, method, path string
		body               any
		status             int
	}{
		{"alice", "PUT", p, map[string]any{"schedule": "*/5 * * * *", "client_secret": "cs-SECRET-new-one"}, http.StatusOK},
		{"alice", "PUT", p, map[string]any{"schedule": "bad"}, http.StatusUnprocessableEntity}, // refused: not recorded
		{"bob", "PUT", p, map[string]any{"enabled": false}, http.StatusOK},
		{"bob", "POST", p + "/collect", nil, http.StatusConflict}, // disabled: not recorded
		{"bob", "PUT", p, map[string]any{"enabled": true}, http.StatusOK},
		{"carol", "POST", p + "/collect", nil, http.StatusAccepted},
		{"carol", "POST", p + "/test", nil, http.StatusOK}, // a test changes nothing
		{"dave", "PUT", "/api/settings", map[string]any{"syslog_target": "tls://qradar.example.com:6514"}, http.StatusOK},
		{"dave", "DELETE", p, nil, http.StatusNoContent},
	}
	for _, s := range steps {
		if got := c.as(s.user, s.method, s.path, s.body); got != s.status {
			t.Fatalf("%s %s as %s: %d, want %d", s.method, s.path, s.user, got, s.status)
		}
	}
	env.collector.wg.Wait()

	entries := auditTrail(t, c)
	type row struct{ actor, action, target string }
	var got []row
	for i := len(entries) - 1; i >= 0; i-- {
		got = append(got, row{entries[i].Actor, entries[i].Action, entries[i].Target})
	}
	want := []row{
		{unknownActor, "account_create", "Acme EU"},
		{"alice", "account_update", "Acme EU"},
		{"bob", "account_disable", "Acme EU"},
		{"bob", "account_enable", "Acme EU"},
		{"carol", "collect_now", "Acme EU"},
		{"dave", "settings_update", "settings"},
		{"dave", "account_delete", "Acme EU"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("audit trail (oldest first):\n got %v\nwant %v", got, want)
	}
	byAction := map[string]store.AuditEntry{}
	for _, e := range entries {
		byAction[e.Action] = e
	}
	id := strconv.FormatInt(a.ID, 10)
	for action, want := range map[string]map[string]string{
		"account_create":  {"account_id": id, "api_version": "2.0", "client_secret": "set", "streams": "siem,audit", "schedule": "*/15 * * * *"},
		"account_update":  {"account_id": id, "schedule": "*/15 * * * * → */5 * * * *", "client_secret": "changed"},
		"account_disable": {"account_id": id, "enabled": "true → false"},
		"settings_update": {"syslog_target": "default (tcp://192.0.2.10:514) → tls://qradar.example.com:6514"},
	} {
		for k, v := range want {
			if byAction[action].Details[k] != v {
				t.Errorf("%s details[%s] = %q, want %q (all: %v)", action, k, byAction[action].Details[k], v, byAction[action].Details)
			}
		}
	}
	if d := byAction["account_update"].Details; len(d) != 3 {
		t.Errorf("account_update details = %v, want only the id and the two changes", d)
	}
	if !byAction["settings_update"].Time.Before(time.Now().Add(time.Second)) || byAction["settings_update"].Time.IsZero() {
		t.Errorf("entry time = %v", byAction["settings_update"].Time)
	}

	// Each entry went to QRadar as a collector_config_change event.
	events := sink.wait(t, len(want))
	for i, m := range events {
		e := entries[len(entries)-1-i]
		if m.Hostname != "mimecast-qradar" || m.LEEF.EventID != AuditEventID || m.LEEF.Vendor != "Mimecast" ||
			m.Attr("cat") != e.Action || m.Attr("usrName") != e.Actor || m.Attr("mcTarget") != e.Target ||
			m.Attr("mcLogType") != AuditEventID || auditID(m) != int(e.ID) {
			t.Errorf("audit event %d = %q, want entry %+v", i, m.Raw, e)
		}
		var details map[string]string
		if err := json.Unmarshal([]byte(m.Attr("mcDetails")), &details); err != nil || len(details) != len(e.Details) {
			t.Errorf("mcDetails of %s = %q (%v)", e.Action, m.Attr("mcDetails"), err)
		}
		wantAccount := ""
		if e.Details["account_id"] != "" {
			wantAccount = "Acme EU"
		}
		if m.Attr("mcAccount") != wantAccount {
			t.Errorf("%s: mcAccount = %q, want %q", e.Action, m.Attr("mcAccount"), wantAccount)
		}
	}

	// No secret anywhere: API answers, log, events.
	sink.mu.Lock()
	all := append(append(c.bodies, env.logs.String()), sink.lines...)
	sink.mu.Unlock()
	for _, body := range all {
		for _, s := range append(allSecrets, "cs-SECRET-new-one") {
			if strings.Contains(body, s) {
				t.Errorf("secret %q found in %.300s", s, body)
			}
		}
	}
}

func TestAudit_ActorHookWinsAndNamesAreCleaned(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.Actor = func(r *http.Request) string { return r.Header.Get("X-Test-Verified-User") }
	})
	c := env.client()
	for _, tc := range []struct {
		header http.Header
		want   string
	}{
		{http.Header{"X-Test-Verified-User": {"admin"}, actorHeader: {"mallory"}}, "admin"},
		{http.Header{actorHeader: {"  eve\tsmith "}}, "eve smith"},
		{http.Header{actorHeader: {strings.Repeat("é", 150)}}, strings.Repeat("é", maxActorLength)},
		{http.Header{}, unknownActor},
	} {
		resp := c.send("PUT", "/api/settings", map[string]any{"syslog_target": ""}, tc.header)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT /api/settings: %d", resp.StatusCode)
		}
		if got := auditTrail(t, c)[0].Actor; got != tc.want {
			t.Errorf("actor for %v = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestAudit_SendFailureNeverFailsTheChange(t *testing.T) {
	sink := newAuditSink()
	sink.fail = errors.New("connection refused")
	env := newTestEnv(t, func(o *Options) { o.SendAuditEvent = sink.send })
	c := env.client()
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, nil)
	sink.wait(t, 1)
	if n := len(auditTrail(t, c)); n != 1 {
		t.Errorf("audit entries = %d, want 1 (kept although sending failed)", n)
	}
	// The warning is logged after the send returns.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(env.logs.String(), "sending an audit event to QRadar failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged:\n%s", env.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deployQRadar answers deploy with 202 or, when failing, 409.
type deployQRadar struct{ failing bool }

func (q *deployQRadar) RequestReconcile() {}
func (q *deployQRadar) Routes(r chi.Router) {
	r.Get("/api/qradar", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"configured": true, "state": "ok", "objects": []any{}})
	})
	r.Post("/api/qradar/setup", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	r.Post("/api/qradar/deploy", func(w http.ResponseWriter, r *http.Request) {
		if q.failing {
			writeError(w, http.StatusConflict, "nothing to deploy")
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"message": "deploying"})
	})
	r.Post("/api/searches/{name}/run", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"rows": []any{}})
	})
}

func TestAudit_QRadarChangesRecordedOnlyWhenAccepted(t *testing.T) {
	q := &deployQRadar{}
	env := newTestEnv(t, func(o *Options) { o.QRadar = q })
	c := env.client()
	for _, s := range []struct {
		user, path string
		status     int
	}{
		{"alice", "/api/qradar/setup", http.StatusAccepted},
		{"alice", "/api/qradar/deploy", http.StatusAccepted},
		{"bob", "/api/searches/rejected-inbound-mail/run", http.StatusOK},
	} {
		if got := c.as(s.user, "POST", s.path, nil); got != s.status {
			t.Fatalf("POST %s: %d", s.path, got)
		}
	}
	q.failing = true
	c.as("bob", "POST", "/api/qradar/deploy", nil)
	noToken := &apiClient{t: t, base: env.http.URL, hc: c.hc}
	noToken.json("POST", "/api/qradar/deploy", nil, http.StatusForbidden, nil)

	entries := auditTrail(t, c)
	if len(entries) != 2 || entries[0].Action != auditQRadarDeploy || entries[1].Action != auditQRadarSetup || entries[0].Actor != "alice" {
		t.Errorf("audit trail = %+v, want setup and deploy by alice only", entries)
	}
}

func TestAuditAPI_PagesNewestFirst(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	for i := range 5 {
		if err := env.store.AddAudit(context.Background(), &store.AuditEntry{Actor: "x", Action: "settings_update", Target: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var page []store.AuditEntry
	c.json("GET", "/api/audit?limit=2", nil, http.StatusOK, &page)
	if len(page) != 2 || page[0].Target != "4" || page[1].Target != "3" {
		t.Fatalf("first page = %+v", page)
	}
	c.json("GET", fmt.Sprintf("/api/audit?limit=10&before=%d", page[1].ID), nil, http.StatusOK, &page)
	if len(page) != 3 || page[0].Target != "2" || page[2].Target != "0" {
		t.Fatalf("second page = %+v", page)
	}
	c.json("GET", "/api/audit?limit=0", nil, http.StatusBadRequest, nil)
	c.json("GET", "/api/audit?before=x", nil, http.StatusBadRequest, nil)

	fresh := newTestEnv(t, nil).client()
	status, body := fresh.do("GET", "/api/audit", nil)
	if status != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("empty trail = %d %s, want []", status, body)
	}
}

func TestFormatAuditEvent_SanitisesEveryValue(t *testing.T) {
	e := store.AuditEntry{ID: 42, Time: time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.FixedZone("X", 3600)),
		Actor: "ali\tce", Action: auditAccountDelete, Target: "Acme\nEU \xff",
		Details: map[string]string{"account_id": "7", "note": "a\tb"}}
	line := formatAuditEvent("1.2|3", e)
	if strings.ContainsAny(string(line), "\n\r") {
		t.Fatalf("line break inside the event: %q", line)
	}
	m, err := syslogrecv.Parse(string(line))
	if err != nil || m.LEEF == nil {
		t.Fatalf("%q does not parse: %v", line, err)
	}
	checks := map[string]string{
		"devTime": "2026-11-22T09:00:00.123+0000", "devTimeFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
		"cat": "account_delete", "sev": "5", "usrName": "ali ce", "mcTarget": "Acme EU \uFFFD", "mcAccount": "Acme EU \uFFFD",
		"mcAuditId": "42", "mcDetails": `{"account_id":"7","note":"a\tb"}`,
	}
	for k, v := range checks {
		if got := m.Attr(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if m.LEEF.ProductVersion != "1.2_3" || m.Priority != 8+4 || !m.Timestamp.Equal(e.Time) {
		t.Errorf("header: version %q, priority %d, time %v", m.LEEF.ProductVersion, m.Priority, m.Timestamp)
	}

	// Very long details are cut and marked, still valid JSON-ish text.
	e.Details = map[string]string{"accounts": strings.Repeat("Ä", 2000)}
	m, _ = syslogrecv.Parse(string(formatAuditEvent("1", e)))
	if m.Attr("mcTruncated") != "true" || len(m.Attr("mcDetails")) > maxAuditDetailsBytes || !strings.HasPrefix(m.Attr("mcDetails"), `{"accounts":"ÄÄ`) {
		t.Errorf("long details: mcTruncated %q, %d bytes", m.Attr("mcTruncated"), len(m.Attr("mcDetails")))
	}
}

func TestAudit_EveryEventOfABulkImportIsSentInOrder(t *testing.T) {
	sink := newAuditSink()
	env := newTestEnv(t, func(o *Options) { o.SendAuditEvent = sink.send })
	c := env.client()
	var accounts []any
	for i := range 40 {
		accounts = append(accounts, map[string]any{"name": fmt.Sprintf("Customer %02d", i), "api_version": "2.0",
			"base_url": "https://api.services.mimecast.com", "client_id": "cid", "streams": []string{"siem"}})
	}
	var res importResult
	c.json("POST", "/api/config/import", map[string]any{"format": configFormat, "version": 1, "accounts": accounts}, http.StatusOK, &res)
	if len(res.Created) != 40 {
		t.Fatalf("import: %s", res.Message)
	}
	sink.wait(t, 41)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	prev := 0
	for i, l := range sink.lines {
		m, _ := syslogrecv.Parse(l)
		if id := auditID(m); id <= prev {
			t.Fatalf("event %d has audit id %d after %d: not sent in order", i, id, prev)
		} else {
			prev = id
		}
	}
	if last, _ := syslogrecv.Parse(sink.lines[40]); last.Attr("cat") != auditConfigImport {
		t.Errorf("last event = %q, want the import summary", sink.lines[40])
	}
}
