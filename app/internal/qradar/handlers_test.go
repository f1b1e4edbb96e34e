package qradar

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/qradarsim"
)

func router(m *Manager) http.Handler {
	r := chi.NewRouter()
	m.Routes(r)
	return r
}

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var obj map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &obj)
	return rec.Code, obj, rec.Body.Bytes()
}

// leefLine is one line of the app's syslog file sink (design §6).
func leefLine(at time.Time, host, eventID string, attrs ...string) string {
	return fmt.Sprintf("<14>1 %s %s mimecast-qradar - - - LEEF:2.0|Mimecast|Email Security|1.0|%s|x09|%s\n",
		at.UTC().Format(time.RFC3339Nano), host, eventID, strings.Join(attrs, "\t"))
}

func devTime(at time.Time) []string {
	return []string{"devTime=" + at.UTC().Format("2006-01-02T15:04:05.000-0700"), "devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ"}
}

func writeEvents(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sampleEvents(now time.Time) []string {
	ev := func(at time.Time, host, id string, attrs ...string) string {
		return leefLine(at, host, id, append(append(attrs, devTime(at)...), "mcLogType="+id, "mcAccount=Acme", "mcStream=siem")...)
	}
	return []string{
		ev(now.Add(-3*time.Hour), "mimecast-acme", "receipt", "cat=Rej", "action=Rej", "direction=Inbound", "senderEnvelope=bad@evil.example",
			"recipients=alice@acme.example", "subject=Your invoice", "messageId=<m1@evil.example>", "src=192.0.2.7"),
		ev(now.Add(-2*time.Hour), "mimecast-acme", "process", "cat=Acc", "action=Acc", "senderEnvelope=bad@evil.example", "messageId=<m1@evil.example>"),
		ev(now.Add(-1*time.Hour), "mimecast-acme", "delivery", "cat=delivery", "delivered=false", "recipients=alice@acme.example", "messageId=<m1@evil.example>"),
		ev(now.Add(-2*time.Hour), "mimecast-acme", "receipt", "cat=Acc", "action=Acc", "direction=Inbound", "senderEnvelope=ok@partner.example", "messageId=<m2@partner.example>"),
		ev(now.Add(-2*time.Hour), "mimecast-acme", "receipt", "cat=Rej", "action=Rej", "direction=Outbound", "senderEnvelope=alice@acme.example", "messageId=<m3@acme.example>"),
		ev(now.Add(-30*time.Hour), "mimecast-acme", "receipt", "cat=Rej", "action=Rej", "direction=Inbound", "senderEnvelope=old@evil.example"),
		// API 1.0 spellings of the same attributes.
		ev(now.Add(-4*time.Hour), "mimecast-acme", "receipt", "cat=Rej", "Act=Rej", "Dir=Inbound", "Sender=v1@evil.example", "Rcpt=bob@acme.example", "MsgId=<m4@evil.example>"),
		// A host with no log source: QRadar does not apply the app's properties.
		ev(now.Add(-1*time.Hour), "unknown-host", "receipt", "cat=Rej", "action=Rej", "direction=Inbound", "senderEnvelope=stray@evil.example"),
		"this line is not syslog and is skipped\n",
	}
}

func TestRunSearch_ReturnsRowsFromTheEventsTheAppSent(t *testing.T) {
	h := newHarness(t, qradarsim.Options{SearchPolls: 3})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)
	writeEvents(t, h.events, sampleEvents(time.Now())...)
	srv := router(m)

	code, body, raw := do(t, srv, http.MethodPost, "/api/searches/rejected-inbound-mail/run", `{"last_hours": 24}`)
	if code != http.StatusOK {
		t.Fatalf("run: %d %s", code, raw)
	}
	if body["name"] != "rejected-inbound-mail" || !strings.Contains(body["aql"].(string), "LAST 24 HOURS") {
		t.Errorf("name %v aql %v", body["name"], body["aql"])
	}
	rows := body["rows"].([]any)
	var senders []string
	for _, r := range rows {
		row := r.(map[string]any)
		senders = append(senders, fmt.Sprint(row["Mimecast Sender"]))
		if row["Event Name"] != "Mimecast Receipt: Message Rejected" {
			t.Errorf("row %v: event name %v", row, row["Event Name"])
		}
	}
	if want := []string{"bad@evil.example", "v1@evil.example"}; !slices.Equal(senders, want) {
		t.Errorf("senders %v, want %v (newest first)", senders, want)
	}
	if ip := rows[0].(map[string]any)["Sender IP"]; ip != "192.0.2.7" {
		t.Errorf("Sender IP %v", ip)
	}

	code, body, raw = do(t, srv, http.MethodPost, "/api/searches/trace-message/run", `{"message_id": "<m1@evil.example>"}`)
	if code != http.StatusOK {
		t.Fatalf("trace: %d %s", code, raw)
	}
	var types []string
	for _, r := range body["rows"].([]any) {
		types = append(types, fmt.Sprint(r.(map[string]any)["Mimecast Log Type"]))
	}
	if want := []string{"receipt", "process", "delivery"}; !slices.Equal(types, want) {
		t.Errorf("trace rows %v, want %v", types, want)
	}
}

func TestRunSearch_EveryCuratedSearchRuns(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)
	writeEvents(t, h.events, sampleEvents(time.Now())...)
	for _, s := range Searches() {
		if _, err := m.RunSearch(context.Background(), s.Name, 24, ""); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}

func TestRunSearch_BeforeSetUpSaysWhy(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	code, body, _ := do(t, router(h.manager()), http.MethodPost, "/api/searches/impersonation-hits/run", "")
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(body["error"]), "custom properties") {
		t.Errorf("search before set-up: %d %v", code, body)
	}
}

func TestRunSearch_TimesOutWith504AndCancelsTheSearch(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)
	m.opts.SearchTimeout = 200 * time.Millisecond
	h.sim.SetSearchHang(true)
	code, body, raw := do(t, router(m), http.MethodPost, "/api/searches/admin-logins/run", `{"last_hours": 1}`)
	if code != http.StatusGatewayTimeout || body["error"] == nil {
		t.Fatalf("hanging search: %d %s", code, raw)
	}
	if n := h.sim.Searches(); n != 0 {
		t.Errorf("%d searches left running on the console", n)
	}
}

func TestHandlers_RunSearchValidatesItsInput(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	srv := router(h.manager())
	tests := []struct {
		path, body string
		want       int
		field      string
	}{
		{"/api/searches/no-such-search/run", `{}`, 404, ""},
		{"/api/searches/admin-logins/run", `{"last_hours":`, 400, ""},
		{"/api/searches/admin-logins/run", `{"last_hours": 0}`, 422, "last_hours"},
		{"/api/searches/admin-logins/run", `{"last_hours": 100000}`, 422, "last_hours"},
		{"/api/searches/trace-message/run", `{"message_id": "<a'b@x>"}`, 422, "message_id"},
		{"/api/searches/admin-logins/run", `{"message_id": "<a@x>"}`, 422, "message_id"},
	}
	for _, tt := range tests {
		code, body, raw := do(t, srv, http.MethodPost, tt.path, tt.body)
		if code != tt.want || body["error"] == nil {
			t.Errorf("%s %s: %d %s, want %d with an error", tt.path, tt.body, code, raw, tt.want)
			continue
		}
		if tt.field != "" {
			if f, _ := body["fields"].(map[string]any); f[tt.field] == nil {
				t.Errorf("%s %s: fields %v, want %s", tt.path, tt.body, body["fields"], tt.field)
			}
		}
	}
	if n := h.sim.Searches(); n != 0 {
		t.Errorf("invalid requests started %d searches", n)
	}
}

func TestHandlers_ListSearches(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	code, _, raw := do(t, router(h.manager()), http.MethodGet, "/api/searches", "")
	var list []SearchInfo
	if err := json.Unmarshal(raw, &list); code != 200 || err != nil {
		t.Fatalf("%d %s %v", code, raw, err)
	}
	want := []string{"rejected-inbound-mail", "url-clicks-blocked", "attachment-detections", "impersonation-hits", "admin-logins", "admin-message-releases", "trace-message"}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
		if s.Description == "" || !strings.HasPrefix(s.AQL, "SELECT ") || !strings.HasPrefix(s.SavedName, "Mimecast - ") {
			t.Errorf("search %+v", s)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("searches %v, want %v", names, want)
	}
}

func TestHandlers_DeployOnlyOnRequest(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	srv := router(m)
	h.reconcile(m)
	h.reconcile(m)
	if n := h.sim.Deploys(); n != 0 {
		t.Fatalf("%d deploys before the administrator asked", n)
	}
	code, st, _ := do(t, srv, http.MethodGet, "/api/qradar", "")
	if code != 200 || st["state"] != StatePending || st["deploy_needed"] != true || !strings.Contains(fmt.Sprint(st["message"]), "Deploy changes") {
		t.Errorf("state before deploy: %d %v", code, st)
	}

	code, body, raw := do(t, srv, http.MethodPost, "/api/qradar/deploy", "")
	if code != http.StatusAccepted || body["status"] != "deploying" || h.sim.Deploys() != 1 {
		t.Fatalf("deploy: %d %s, deploys %d", code, raw, h.sim.Deploys())
	}
	var sawBody bool
	for _, r := range h.sim.Requests() {
		if r.Method == http.MethodPost && r.Path == "/api/"+pathDeploy {
			sawBody = strings.Contains(r.Body, `"INCREMENTAL"`)
		}
	}
	if !sawBody {
		t.Error("the deploy request did not ask for an INCREMENTAL deploy")
	}
	code, body, raw = do(t, srv, http.MethodPost, "/api/qradar/deploy", "")
	if code != http.StatusAccepted || body["status"] != "nothing_to_deploy" || !strings.Contains(fmt.Sprint(body["message"]), "Nothing to deploy") {
		t.Errorf("second deploy: %d %s", code, raw)
	}
	h.reconcile(m)
	if s := h.state(m); s.State != StateOK || s.DeployNeeded {
		t.Errorf("state after deploy: %q deploy_needed %v: %s", s.State, s.DeployNeeded, s.Message)
	}
}

func TestHandlers_StateAndSetup(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	srv := router(m)
	code, st, _ := do(t, srv, http.MethodGet, "/api/qradar", "")
	if code != 200 || st["configured"] != true || st["state"] != StatePending || len(st["objects"].([]any)) != 0 {
		t.Errorf("state before any reconcile: %d %v", code, st)
	}
	code, _, _ = do(t, srv, http.MethodPost, "/api/qradar/setup", "")
	if code != http.StatusAccepted || len(m.wake) != 1 {
		t.Errorf("setup: %d, queued %d", code, len(m.wake))
	}
	h.reconcile(m)
	_, st, _ = do(t, srv, http.MethodGet, "/api/qradar", "")
	objs := st["objects"].([]any)
	first := objs[0].(map[string]any)
	for _, k := range []string{"object", "account_id", "name", "qradar_id", "state", "last_error"} {
		if _, ok := first[k]; !ok {
			t.Errorf("object %v lacks %q", first, k)
		}
	}
	if first["object"] != ObjLogSourceType || st["authorised"] != true || st["api_version"] != MaxTestedVersion {
		t.Errorf("state %v", st)
	}
}

func TestHandlers_WithoutQRadarAPIEverythingSaysWhy(t *testing.T) {
	m, err := NewManager(Options{Store: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	srv := router(m)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/qradar", 200},
		{http.MethodPost, "/api/qradar/setup", 202},
		{http.MethodPost, "/api/qradar/deploy", 409},
		{http.MethodGet, "/api/searches", 200},
		{http.MethodPost, "/api/searches/admin-logins/run", 409},
		{http.MethodPost, "/api/searches/mark-quick", 409},
	}
	for _, tt := range tests {
		code, body, raw := do(t, srv, tt.method, tt.path, "")
		if code != tt.want {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, code, raw, tt.want)
		}
		if code >= 400 && !strings.Contains(fmt.Sprint(body["error"]), "--qradar-api") {
			t.Errorf("%s %s: error %v does not say why", tt.method, tt.path, body["error"])
		}
	}
	_, st, _ := do(t, srv, http.MethodGet, "/api/qradar", "")
	if st["state"] != StateOff || st["configured"] != false || !strings.Contains(fmt.Sprint(st["message"]), "QRADAR_CONSOLE_FQDN") {
		t.Errorf("state %v", st)
	}
}

func TestHandlers_MarkQuickSearches(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	s, _ := SearchByName("admin-logins")
	a := h.sim.AddSavedSearch("Mimecast - Administrator logins and failures", s.AQL(24, ""), false)
	b := h.sim.AddSavedSearch("Mimecast - Already quick", "SELECT qid FROM events", true)
	c := h.sim.AddSavedSearch("Someone else's search", "SELECT qid FROM events", false)
	code, body, raw := do(t, router(h.manager()), http.MethodPost, "/api/searches/mark-quick", "")
	if code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	if fmt.Sprint(body["marked"]) != "[Mimecast - Administrator logins and failures]" || fmt.Sprint(body["already_quick"]) != "[Mimecast - Already quick]" {
		t.Errorf("body %s", raw)
	}
	quick := map[int64]bool{}
	for _, ss := range h.sim.SavedSearches() {
		quick[ss.ID] = ss.IsQuickSearch
	}
	if !quick[a] || !quick[b] || quick[c] {
		t.Errorf("quick flags %v", quick)
	}
}

func TestAddReferenceHashes(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	m := h.manager()
	good := strings.Repeat("ab", 32)
	if err := m.AddReferenceHashes(context.Background(), []string{good, strings.ToUpper(good), strings.Repeat("01", 32)}); err != nil {
		t.Fatal(err)
	}
	vals, ok := h.sim.ReferenceSetValues(ReferenceSetName)
	if !ok || len(vals) != 2 || vals[0] != good {
		t.Errorf("reference set %v (exists %v)", vals, ok)
	}
	if err := m.AddReferenceHashes(context.Background(), []string{"not-a-hash"}); err == nil {
		t.Error("a value that is not a SHA-256 was accepted")
	}
	h.setToken("")
	if err := m.AddReferenceHashes(context.Background(), []string{good}); err == nil {
		t.Error("added hashes without a token")
	}
}
