package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
)

// designAccountKeys are the keys of the design's Account JSON without the
// secrets, plus the <secret>_set flags.
var designAccountKeys = []string{"id", "name", "enabled", "api_version", "base_url", "client_id", "app_id", "streams",
	"schedule", "log_source_identifier", "initial_lookback_hours",
	"client_secret_set", "app_key_set", "access_key_set", "secret_key_set"}

func TestAccounts_CreateReadUpdateDelete(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()

	var created map[string]any
	c.json("POST", "/api/accounts", account2("Acme EU"), http.StatusCreated, &created)
	if got := slices.Sorted(maps.Keys(created)); !slices.Equal(got, slices.Sorted(slices.Values(designAccountKeys))) {
		t.Errorf("account keys = %v, want %v", got, slices.Sorted(slices.Values(designAccountKeys)))
	}
	want := map[string]any{"name": "Acme EU", "enabled": true, "api_version": "2.0",
		"base_url": "https://api.services.mimecast.com", "client_id": "client-acme-eu", "app_id": "",
		"streams": []any{"siem", "audit"}, "schedule": "*/15 * * * *", "log_source_identifier": "mimecast-acme-eu",
		"initial_lookback_hours": float64(24), "client_secret_set": true, "app_key_set": false,
		"access_key_set": false, "secret_key_set": false}
	for k, v := range want {
		if fmt.Sprint(created[k]) != fmt.Sprint(v) {
			t.Errorf("created %s = %v, want %v", k, created[k], v)
		}
	}
	id := int64(created["id"].(float64))

	stored, err := env.store.Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ClientSecret != secretClient {
		t.Errorf("stored client secret = %q, want the one sent", stored.ClientSecret)
	}

	var one1 map[string]any
	c.json("POST", "/api/accounts", account1("Beta 1.0"), http.StatusCreated, &one1)
	for _, k := range []string{"app_key_set", "access_key_set", "secret_key_set"} {
		if one1[k] != true {
			t.Errorf("1.0 account %s = %v, want true", k, one1[k])
		}
	}
	if one1["client_secret_set"] != false || one1["initial_lookback_hours"] != float64(48) || one1["schedule"] != "*/5 * * * *" {
		t.Errorf("1.0 account = %v", one1)
	}

	var list []map[string]any
	c.json("GET", "/api/accounts", nil, http.StatusOK, &list)
	if len(list) != 2 || list[0]["name"] != "Acme EU" || list[1]["name"] != "Beta 1.0" {
		t.Fatalf("list = %v", list)
	}

	var got map[string]any
	c.json("GET", fmt.Sprintf("/api/accounts/%d", id), nil, http.StatusOK, &got)
	if got["name"] != "Acme EU" {
		t.Errorf("get = %v", got)
	}

	var updated map[string]any
	c.json("PUT", fmt.Sprintf("/api/accounts/%d", id), map[string]any{"name": "Acme Europe", "enabled": false,
		"streams": []string{"audit", "siem", "audit"}}, http.StatusOK, &updated)
	if updated["name"] != "Acme Europe" || updated["enabled"] != false || fmt.Sprint(updated["streams"]) != "[siem audit]" ||
		updated["log_source_identifier"] != "mimecast-acme-eu" || updated["client_secret_set"] != true {
		t.Errorf("updated = %v", updated)
	}

	status, _ := c.do("DELETE", fmt.Sprintf("/api/accounts/%d", id), nil)
	if status != http.StatusNoContent {
		t.Errorf("DELETE status = %d, want 204", status)
	}
	c.json("GET", fmt.Sprintf("/api/accounts/%d", id), nil, http.StatusNotFound, nil)
	if _, err := env.store.Account(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("account still stored: %v", err)
	}

	wantSaved := []savedCall{{id, true}, {int64(one1["id"].(float64)), true}, {id, false}}
	if got := env.collector.savedCalls(); !slices.Equal(got, wantSaved) {
		t.Errorf("collector AccountSaved calls = %v, want %v", got, wantSaved)
	}
	if got := env.collector.deletedCalls(); !slices.Equal(got, []int64{id}) {
		t.Errorf("collector AccountDeleted calls = %v, want [%d]", got, id)
	}
}

func TestCreateAccount_ReportsEveryFieldProblemAtOnce(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.AllowedOrigins = []string{"http://127.0.0.1:9999"} })
	c := env.client()
	tests := []struct {
		name       string
		body       map[string]any
		wantFields []string
	}{
		{"empty object", map[string]any{},
			[]string{"name", "streams", "base_url", "client_id", "client_secret"}},
		{"everything wrong",
			map[string]any{"name": "", "schedule": "@every 5m", "streams": []string{"siem", "nope"},
				"base_url": "http://api.services.mimecast.com", "initial_lookback_hours": 0,
				"log_source_identifier": "has space"},
			[]string{"name", "schedule", "streams", "base_url", "initial_lookback_hours", "log_source_identifier", "client_id", "client_secret"}},
		{"API 1.0 needs four keys",
			map[string]any{"name": "X", "api_version": "1.0", "base_url": "https://eu-api.mimecast.com", "streams": []string{"siem"},
				"client_id": "ignored", "client_secret": "ignored"},
			[]string{"app_id", "app_key", "access_key", "secret_key"}},
		{"six-field cron and too long a lookback",
			map[string]any{"name": "X", "schedule": "0 */15 * * * *", "initial_lookback_hours": 169,
				"base_url": "https://api.services.mimecast.com", "client_id": "a", "client_secret": "b", "streams": []string{"audit"}},
			[]string{"schedule", "initial_lookback_hours"}},
		{"wrong JSON types",
			map[string]any{"name": 5, "enabled": "yes", "streams": "siem", "initial_lookback_hours": "24",
				"base_url": "https://api.services.mimecast.com", "client_id": "a", "client_secret": "b"},
			[]string{"name", "enabled", "streams", "initial_lookback_hours"}},
		{"unknown API version and a host outside mimecast.com",
			map[string]any{"name": "X", "api_version": "3.0", "base_url": "https://api.mimecast.com.evil.example",
				"streams": []string{"siem"}},
			[]string{"api_version", "base_url"}},
		{"descriptor schedule and invalid minute",
			map[string]any{"name": "X", "schedule": "61 * * * *", "base_url": "http://127.0.0.1:9999/path",
				"client_id": "a", "client_secret": "b", "streams": []string{"siem"}},
			[]string{"schedule", "base_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e errorBody
			c.in(t).json("POST", "/api/accounts", tt.body, http.StatusUnprocessableEntity, &e)
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
	if accounts, _ := env.store.ListAccounts(context.Background()); len(accounts) != 0 {
		t.Errorf("invalid requests stored %d accounts", len(accounts))
	}
}

func TestCreateAccount_AcceptsAllowedExtraOriginAndFillsDefaults(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.AllowedOrigins = []string{"http://127.0.0.1:9999"} })
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", map[string]any{"name": "  Sim  Test!  ", "base_url": "http://127.0.0.1:9999/",
		"client_id": " id ", "client_secret": " s ", "streams": []string{"dlp", "siem", "dlp"}}, http.StatusCreated, &a)
	want := map[string]any{"name": "Sim  Test!", "base_url": "http://127.0.0.1:9999", "client_id": "id",
		"schedule": defaultSchedule, "initial_lookback_hours": float64(24), "enabled": true, "api_version": "2.0",
		"log_source_identifier": "mimecast-sim-test", "streams": []any{"siem", "dlp"}}
	for k, v := range want {
		if fmt.Sprint(a[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, a[k], v)
		}
	}
}

func TestAccounts_TakenNameOrIdentifierNamesThatField(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	c.json("POST", "/api/accounts", account2("Acme EU"), http.StatusCreated, nil)
	var other map[string]any
	c.json("POST", "/api/accounts", account2("Other"), http.StatusCreated, &other)

	tests := []struct {
		name      string
		method    string
		path      string
		body      map[string]any
		wantField string
	}{
		{"create with a name differing only in case", "POST", "/api/accounts",
			merge(account2("ACME eu"), map[string]any{"log_source_identifier": "acme-2"}), "name"},
		{"create with a taken identifier", "POST", "/api/accounts",
			merge(account2("New"), map[string]any{"log_source_identifier": "MIMECAST-ACME-EU"}), "log_source_identifier"},
		{"rename onto a taken name", "PUT", fmt.Sprintf("/api/accounts/%v", other["id"]),
			map[string]any{"name": "Acme EU", "log_source_identifier": "x"}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e errorBody
			c.in(t).json(tt.method, tt.path, tt.body, http.StatusUnprocessableEntity, &e)
			if _, ok := e.Fields[tt.wantField]; !ok || len(e.Fields) != 1 {
				t.Errorf("fields = %v, want only %s", e.Fields, tt.wantField)
			}
		})
	}
}

func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func TestUpdateAccount_OmittedOrEmptySecretIsUnchanged(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account1("Legacy"), http.StatusCreated, &a)
	path := fmt.Sprintf("/api/accounts/%v", a["id"])
	id := int64(a["id"].(float64))

	secretsOf := func() [3]string {
		s, err := env.store.Account(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return [3]string{s.AppKey, s.AccessKey, s.SecretKey}
	}
	original := [3]string{secretApp, secretAccess, secretKey}

	c.json("PUT", path, map[string]any{"name": "Legacy 2"}, http.StatusOK, nil)
	if got := secretsOf(); got != original {
		t.Errorf("after PUT without secrets: %v, want unchanged", got)
	}
	c.json("PUT", path, map[string]any{"app_key": "", "access_key": nil, "secret_key": "  "}, http.StatusOK, nil)
	if got := secretsOf(); got != original {
		t.Errorf("after PUT with empty secrets: %v, want unchanged", got)
	}
	var out map[string]any
	c.json("PUT", path, map[string]any{"access_key": "new-access"}, http.StatusOK, &out)
	if got := secretsOf(); got != [3]string{secretApp, "new-access", secretKey} {
		t.Errorf("after replacing the access key: %v", got)
	}
	if out["access_key_set"] != true {
		t.Errorf("access_key_set = %v", out["access_key_set"])
	}

	// Switching to API 2.0 needs the 2.0 credentials, and then drops the
	// 1.0 keys.
	var e errorBody
	c.json("PUT", path, map[string]any{"api_version": "2.0", "base_url": "https://api.services.mimecast.com"}, http.StatusUnprocessableEntity, &e)
	if got := slices.Sorted(maps.Keys(e.Fields)); !slices.Equal(got, []string{"client_id", "client_secret"}) {
		t.Errorf("switch without 2.0 credentials: fields %v", e.Fields)
	}
	c.json("PUT", path, map[string]any{"api_version": "2.0", "base_url": "https://api.services.mimecast.com",
		"client_id": "cid", "client_secret": secretClient}, http.StatusOK, &out)
	if out["app_key_set"] != false || out["client_secret_set"] != true || out["app_id"] != "" {
		t.Errorf("after switching to 2.0: %v", out)
	}
	s, _ := env.store.Account(context.Background(), id)
	if s.AppKey != "" || s.AccessKey != "" || s.SecretKey != "" || s.ClientSecret != secretClient {
		t.Errorf("stored after switch: app_key %t access_key %t secret_key %t client_secret %t",
			s.AppKey != "", s.AccessKey != "", s.SecretKey != "", s.ClientSecret == secretClient)
	}
}

func TestAPI_SecretsNeverInAnyResponseOrLog(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a2, a1 map[string]any
	c.json("POST", "/api/accounts", account2("Two"), http.StatusCreated, &a2)
	c.json("POST", "/api/accounts", account1("One"), http.StatusCreated, &a1)
	for _, a := range []map[string]any{a2, a1} {
		p := fmt.Sprintf("/api/accounts/%v", a["id"])
		c.do("GET", p, nil)
		c.do("PUT", p, map[string]any{"enabled": true})
		c.do("POST", p+"/test", nil)
		c.do("POST", p+"/collect", nil)
		c.do("GET", p+"/runs", nil)
	}
	// A rejected update echoes no secret either.
	c.do("PUT", fmt.Sprintf("/api/accounts/%v", a2["id"]), map[string]any{"client_secret": secretClient, "schedule": "bad"})
	c.do("POST", "/api/accounts", merge(account2("Two"), map[string]any{"base_url": "x"}))
	c.do("GET", "/api/accounts", nil)
	c.do("GET", "/api/status", nil)
	c.do("GET", "/", nil)
	c.do("GET", "/index", nil)
	env.collector.wg.Wait()

	for _, body := range append(c.bodies, env.logs.String()) {
		for _, s := range allSecrets {
			if strings.Contains(body, s) {
				t.Errorf("secret %q found in %.200s", s, body)
			}
		}
	}
}

func TestCSRF_UnsafeRequestsWithoutValidTokenAreRefusedWithoutEffect(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	p := fmt.Sprintf("/api/accounts/%v", a["id"])
	other := env.client() // another session with its own token
	savedBefore := len(env.collector.savedCalls())

	requests := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/accounts", account2("Sneaky")},
		{"PUT", p, map[string]any{"name": "Renamed"}},
		{"DELETE", p, nil},
		{"POST", p + "/collect", nil},
		{"POST", p + "/test", nil},
		{"PUT", "/api/settings", map[string]any{"syslog_target": "udp://198.51.100.1:514"}},
		{"POST", "/api/qradar/setup", nil},
		{"PATCH", p, nil},
	}
	tokens := []struct {
		name   string
		header http.Header
		client *apiClient
	}{
		{"no token", http.Header{}, c},
		{"wrong token", http.Header{"X-Csrf-Token": {"x" + c.token}}, c},
		{"another session's token", http.Header{"X-Csrf-Token": {other.token}}, c},
		{"token without the session cookie", http.Header{"X-Csrf-Token": {c.token}}, nil},
	}
	for _, tok := range tokens {
		for _, r := range requests {
			t.Run(tok.name+" "+r.method+" "+r.path, func(t *testing.T) {
				cl := tok.client
				if cl == nil {
					cl = &apiClient{t: t, base: env.http.URL, hc: http.DefaultClient}
				}
				saved := cl.token
				cl.token = "" // send only what the case's header says
				defer func() { cl.token = saved }()
				resp := cl.send(r.method, r.path, r.body, tok.header)
				defer resp.Body.Close()
				var e errorBody
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(e.Error, "CSRF") {
					t.Errorf("status %d, error %q (%v); want 403 with a CSRF error", resp.StatusCode, e.Error, err)
				}
			})
		}
	}

	accounts, _ := env.store.ListAccounts(context.Background())
	if len(accounts) != 1 || accounts[0].Name != "Acme" {
		t.Errorf("accounts after refused requests: %v", accounts)
	}
	if _, ok, _ := env.store.Setting(context.Background(), SettingSyslogTarget); ok {
		t.Error("refused PUT /api/settings changed the setting")
	}
	env.collector.mu.Lock()
	defer env.collector.mu.Unlock()
	if len(env.collector.saved) != savedBefore || len(env.collector.deleted) != 0 || len(env.collector.tested) != 0 || len(env.collector.running) != 0 {
		t.Errorf("collector was called by refused requests: saved %v deleted %v tested %d", env.collector.saved, env.collector.deleted, len(env.collector.tested))
	}
}

func TestCollectNow_AnswersConflictsAndStarts(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	p := fmt.Sprintf("/api/accounts/%v/collect", a["id"])

	tests := []struct {
		err    error
		status int
	}{
		{model.ErrRunInProgress, http.StatusConflict},
		{model.ErrAccountDisabled, http.StatusConflict},
		{fmt.Errorf("starting run: %w", model.ErrRunInProgress), http.StatusConflict},
		{errors.New("scheduler stopped"), http.StatusInternalServerError},
		{nil, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			env.collector.mu.Lock()
			env.collector.collectErr = tt.err
			env.collector.mu.Unlock()
			var e errorBody
			c.in(t).json("POST", p, nil, tt.status, &e)
			if tt.status == http.StatusConflict && !strings.Contains(e.Error, "already in progress") && !strings.Contains(e.Error, "disabled") {
				t.Errorf("error = %q", e.Error)
			}
		})
	}
}

func TestCollectNow_RunningAccountThenStatusShowsCounts(t *testing.T) {
	env := newTestEnv(t, nil)
	gate := make(chan struct{})
	env.collector.gate = gate
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	p := fmt.Sprintf("/api/accounts/%v/collect", a["id"])

	c.json("POST", p, nil, http.StatusAccepted, nil)
	c.json("POST", p, nil, http.StatusConflict, nil)
	var st statusJSON
	c.json("GET", "/api/status", nil, http.StatusOK, &st)
	if len(st.Accounts) != 1 || st.Accounts[0].Streams[0].State != model.StateRunning {
		t.Fatalf("status while running = %+v", st)
	}
	close(gate)
	env.collector.wg.Wait()
	c.json("GET", "/api/status", nil, http.StatusOK, &st)
	s := st.Accounts[0].Streams[0]
	if s.State != model.StateIdle || s.EventsLastRun != 1234 || s.EventsLast24h != 1234 || s.LastSuccess == nil {
		t.Errorf("status after run = %+v", s)
	}
}

func TestAPI_UnknownAccountIs404(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	for _, id := range []string{"999", "abc", "0", "-1"} {
		for _, r := range []struct{ method, suffix string }{
			{"GET", ""}, {"PUT", ""}, {"DELETE", ""}, {"POST", "/test"}, {"POST", "/collect"}, {"GET", "/runs"},
		} {
			var e errorBody
			var body any
			if r.method == "PUT" {
				body = account2("X")
			}
			c.json(r.method, "/api/accounts/"+id+r.suffix, body, http.StatusNotFound, &e)
			if e.Error == "" {
				t.Errorf("%s %s: no error message", r.method, id)
			}
		}
	}
	c.json("GET", "/api/nothing-here", nil, http.StatusNotFound, nil)
}

func TestAPI_RefusesBadBodies(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	deep := strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20)
	big := `{"name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"not JSON", "name=acme", http.StatusBadRequest},
		{"truncated JSON", `{"name": "acme"`, http.StatusBadRequest},
		{"two values", `{} {}`, http.StatusBadRequest},
		{"empty body", "", http.StatusBadRequest},
		{"nested too deep", deep, http.StatusBadRequest},
		{"larger than the limit", big, http.StatusRequestEntityTooLarge},
		{"an array", `[1,2]`, http.StatusUnprocessableEntity},
		{"null", `null`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		for _, target := range []struct{ method, path string }{
			{"POST", "/api/accounts"}, {"PUT", fmt.Sprintf("/api/accounts/%v", a["id"])}, {"PUT", "/api/settings"},
		} {
			t.Run(tt.name+" "+target.method+" "+target.path, func(t *testing.T) {
				var e errorBody
				c.in(t).json(target.method, target.path, tt.body, tt.status, &e)
				if e.Error == "" {
					t.Error("no error message")
				}
			})
		}
	}
	if accounts, _ := env.store.ListAccounts(context.Background()); len(accounts) != 1 || accounts[0].Name != "Acme" {
		t.Errorf("accounts changed by refused bodies: %v", accounts)
	}
}

func TestAPI_RefusesOversizedBodyOfUnknownLength(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", maxBodyBytes)), strings.NewReader(`"}`))
	req, err := http.NewRequest("POST", env.http.URL+"/api/accounts", body) // chunked: no Content-Length
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF-Token", c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength > 0 {
		t.Errorf("status %d (content length %d), want 413", resp.StatusCode, req.ContentLength)
	}
}

func TestQRadar_OffAnswers(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	status, body := c.do("GET", "/api/qradar", nil)
	want := `{"authorised":false,"configured":false,"message":"QRadar set-up is off: no --qradar-api / QRADAR_API_URL configured","objects":[],"state":"off"}`
	if status != http.StatusOK || strings.TrimSpace(string(body)) != want {
		t.Errorf("GET /api/qradar = %d %s, want %s", status, body, want)
	}
	status, body = c.do("GET", "/api/searches", nil)
	if status != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("GET /api/searches = %d %s", status, body)
	}
	c.json("POST", "/api/qradar/setup", nil, http.StatusAccepted, nil)
	c.json("POST", "/api/qradar/deploy", nil, http.StatusConflict, nil)
	c.json("POST", "/api/searches/anything/run", map[string]any{"last_hours": 24}, http.StatusConflict, nil)
}

func TestQRadar_RoutesMountedBehindCSRFAndReconcileRequestedOnChanges(t *testing.T) {
	q := &fakeQRadar{}
	env := newTestEnv(t, func(o *Options) { o.QRadar = q })
	c := env.client()
	var state map[string]any
	c.json("GET", "/api/qradar", nil, http.StatusOK, &state)
	if state["configured"] != true {
		t.Errorf("GET /api/qradar not served by the QRadar component: %v", state)
	}
	c.json("POST", "/api/qradar/setup", nil, http.StatusAccepted, nil)
	noToken := &apiClient{t: t, base: env.http.URL, hc: c.hc}
	noToken.json("POST", "/api/qradar/setup", nil, http.StatusForbidden, nil)
	q.mu.Lock()
	setups := q.setups
	q.mu.Unlock()
	if setups != 1 {
		t.Errorf("setups = %d, want 1 (the refused one must not reach the component)", setups)
	}

	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	c.json("PUT", fmt.Sprintf("/api/accounts/%v", a["id"]), map[string]any{"name": "Acme 2"}, http.StatusOK, nil)
	c.json("POST", "/api/accounts", map[string]any{}, http.StatusUnprocessableEntity, nil)
	c.do("DELETE", fmt.Sprintf("/api/accounts/%v", a["id"]), nil)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reconciles != 3 {
		t.Errorf("reconciles = %d, want 3 (create, update, delete)", q.reconciles)
	}
}

func TestTestAccount_ReturnsPerStreamResult(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", merge(account2("Acme"), map[string]any{"streams": []string{"siem", "dlp"}}), http.StatusCreated, &a)
	p := fmt.Sprintf("/api/accounts/%v/test", a["id"])

	var res model.TestResult
	c.json("POST", p, nil, http.StatusOK, &res)
	want := model.TestResult{OK: false, Error: "some streams cannot be read", Streams: []model.StreamTestResult{
		{Stream: "siem", OK: true},
		{Stream: "dlp", Error: "not permitted: the API application's role cannot read DLP logs (HTTP 403)"},
	}}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	tested := env.collector.testedAccounts()[0]
	if tested.ClientSecret != secretClient {
		t.Error("the collector was not given the stored secret")
	}

	// Unsaved edits in the body are tested, not saved.
	c.json("POST", p, map[string]any{"streams": []string{"siem"}, "client_secret": "typed-but-not-saved"}, http.StatusOK, &res)
	if !res.OK || len(res.Streams) != 1 {
		t.Errorf("result of edited test = %+v", res)
	}
	if got := env.collector.testedAccounts()[1]; got.ClientSecret != "typed-but-not-saved" {
		t.Error("the typed secret was not tested")
	}
	stored, _ := env.store.Account(context.Background(), int64(a["id"].(float64)))
	if stored.ClientSecret != secretClient || len(stored.Streams) != 2 {
		t.Error("a test saved the edits")
	}
	var e errorBody
	c.json("POST", p, map[string]any{"schedule": "nope"}, http.StatusUnprocessableEntity, &e)
	if _, ok := e.Fields["schedule"]; !ok {
		t.Errorf("fields = %v", e.Fields)
	}
}

func TestAccounts_KeyChangeShowsCredentialsErrorAndTestDoesNotCallMimecast(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)

	// Reopen the same database with another sealing key.
	box, err := secrets.Open(t.TempDir(), "another-app-uuid")
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(context.Background(), env.dir, box)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	env2 := newTestEnvOnStore(t, st2)
	c2 := env2.client()
	var got map[string]any
	c2.json("GET", fmt.Sprintf("/api/accounts/%v", a["id"]), nil, http.StatusOK, &got)
	if got["client_secret_set"] != false || !strings.Contains(fmt.Sprint(got["credentials_error"]), "re-enter credentials") {
		t.Errorf("account after key change = %v", got)
	}
	var res model.TestResult
	c2.json("POST", fmt.Sprintf("/api/accounts/%v/test", a["id"]), nil, http.StatusOK, &res)
	if res.OK || !strings.Contains(res.Error, "re-enter credentials") || res.Streams == nil {
		t.Errorf("test after key change = %+v", res)
	}
	if len(env2.collector.testedAccounts()) != 0 {
		t.Error("the collector was asked to test unreadable credentials")
	}
	// Typing the secret again fixes it.
	var fixed map[string]any
	c2.json("PUT", fmt.Sprintf("/api/accounts/%v", a["id"]), map[string]any{"client_secret": "new"}, http.StatusOK, &fixed)
	if fixed["client_secret_set"] != true || fixed["credentials_error"] != nil {
		t.Errorf("after re-entering = %v", fixed)
	}
}

func newTestEnvOnStore(t *testing.T, st *store.Store) *testEnv {
	fc := newFakeCollector(st)
	t.Cleanup(fc.wg.Wait)
	srv, err := New(context.Background(), Options{Store: st, Collector: fc, WebDir: webDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testEnv{t: t, store: st, collector: fc, server: srv, http: hs, logs: &syncBuffer{}}
}

func TestStatus_AddsEventsOfTheLast24HoursAndUsesUTC(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	id := int64(a["id"].(float64))
	ctx := context.Background()
	now := time.Now().UTC()
	for _, r := range []model.Run{
		{AccountID: id, Stream: "siem", Started: now.Add(-30 * time.Hour), Ended: now.Add(-30 * time.Hour), Events: 1000, Outcome: "ok"},
		{AccountID: id, Stream: "siem", Started: now.Add(-2 * time.Hour), Ended: now.Add(-2 * time.Hour), Events: 20, Outcome: "ok"},
		{AccountID: id, Stream: "siem", Started: now.Add(-1 * time.Hour), Ended: now.Add(-1 * time.Hour), Events: 3, Outcome: "error", Error: "x"},
		{AccountID: id, Stream: "audit", Started: now.Add(-1 * time.Hour), Ended: now.Add(-1 * time.Hour), Events: 7, Outcome: "ok"},
	} {
		if err := env.store.AddRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	status, body := c.do("GET", "/api/status", nil)
	var st statusJSON
	if err := json.Unmarshal(body, &st); status != http.StatusOK || err != nil {
		t.Fatalf("GET /api/status = %d %s", status, body)
	}
	got := map[model.Stream]int64{}
	for _, s := range st.Accounts[0].Streams {
		got[s.Stream] = s.EventsLast24h
	}
	if got["siem"] != 23 || got["audit"] != 7 {
		t.Errorf("events_last_24h = %v, want siem 23, audit 7", got)
	}
	var raw struct {
		Accounts []struct {
			Streams []map[string]any `json:"streams"`
		} `json:"accounts"`
	}
	json.Unmarshal(body, &raw)
	next := fmt.Sprint(raw.Accounts[0].Streams[0]["next_run"])
	if !strings.HasSuffix(next, "Z") {
		t.Errorf("next_run = %s, want RFC 3339 UTC", next)
	}
	for _, k := range []string{"stream", "state", "last_run_started", "last_run_ended", "last_success", "events_last_run",
		"events_total", "last_error", "next_run", "events_last_24h"} {
		if _, ok := raw.Accounts[0].Streams[0][k]; !ok {
			t.Errorf("status stream lacks %q", k)
		}
	}
}

func TestRuns_NewestFirstAndLimited(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var a map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &a)
	id := int64(a["id"].(float64))
	var runs []model.Run
	c.json("GET", fmt.Sprintf("/api/accounts/%d/runs", id), nil, http.StatusOK, &runs)
	if runs == nil || len(runs) != 0 {
		t.Errorf("runs before any = %v, want []", runs)
	}
	base := time.Now().UTC().Add(-time.Hour)
	for i := range 5 {
		env.store.AddRun(context.Background(), model.Run{AccountID: id, Stream: "siem", Started: base.Add(time.Duration(i) * time.Minute),
			Ended: base.Add(time.Duration(i) * time.Minute), Events: int64(i), Outcome: "ok"})
	}
	c.json("GET", fmt.Sprintf("/api/accounts/%d/runs?limit=3", id), nil, http.StatusOK, &runs)
	if len(runs) != 3 || runs[0].Events != 4 || runs[2].Events != 2 {
		t.Errorf("runs = %+v", runs)
	}
	c.json("GET", fmt.Sprintf("/api/accounts/%d/runs?limit=x", id), nil, http.StatusBadRequest, nil)
}

func TestSettings_SyslogTarget(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	var sendErr error
	env := newTestEnv(t, func(o *Options) {
		o.SendTestEvent = func(ctx context.Context, target string) error {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, target)
			return sendErr
		}
	})
	c := env.client()
	var s settingsJSON
	c.json("GET", "/api/settings", nil, http.StatusOK, &s)
	if s != (settingsJSON{"tcp://192.0.2.10:514", "tcp://192.0.2.10:514"}) {
		t.Errorf("default settings = %+v", s)
	}
	c.json("PUT", "/api/settings", map[string]any{"syslog_target": "tls://qradar.example.com:6514?framing=octet"}, http.StatusOK, &s)
	if s.SyslogTarget != "tls://qradar.example.com:6514?framing=octet" {
		t.Errorf("after PUT = %+v", s)
	}
	c.json("GET", "/api/settings", nil, http.StatusOK, &s)
	if s.SyslogTarget != "tls://qradar.example.com:6514?framing=octet" || s.SyslogTargetDefault != "tcp://192.0.2.10:514" {
		t.Errorf("settings not kept: %+v", s)
	}
	for _, bad := range []any{"ftp://x:1", "tcp://no-port", 5, nil} {
		var e errorBody
		c.json("PUT", "/api/settings", map[string]any{"syslog_target": bad}, http.StatusUnprocessableEntity, &e)
		if e.Fields["syslog_target"] == "" {
			t.Errorf("PUT %v: fields %v", bad, e.Fields)
		}
	}

	c.json("POST", "/api/settings/test-syslog", nil, http.StatusOK, nil)
	c.json("POST", "/api/settings/test-syslog", map[string]any{"syslog_target": "udp://198.51.100.7:514"}, http.StatusOK, nil)
	c.json("POST", "/api/settings/test-syslog", map[string]any{"syslog_target": "bogus"}, http.StatusUnprocessableEntity, nil)
	mu.Lock()
	sendErr = errors.New("connection refused")
	mu.Unlock()
	var e errorBody
	c.json("POST", "/api/settings/test-syslog", nil, http.StatusBadGateway, &e)
	if !strings.Contains(e.Error, "connection refused") {
		t.Errorf("error = %q", e.Error)
	}
	wantSent := []string{"tls://qradar.example.com:6514?framing=octet", "udp://198.51.100.7:514", "tls://qradar.example.com:6514?framing=octet"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sent, wantSent) {
		t.Errorf("test events sent to %v, want %v", sent, wantSent)
	}

	c.json("PUT", "/api/settings", map[string]any{"syslog_target": ""}, http.StatusOK, &s)
	if s.SyslogTarget != "tcp://192.0.2.10:514" {
		t.Errorf("after restoring the default: %+v", s)
	}
}

func TestSettings_UsesDaemonValidator(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.ValidateSyslogTarget = func(s string) error {
			if strings.HasPrefix(s, "udp://") {
				return errors.New("UDP is switched off here")
			}
			return nil
		}
	})
	c := env.client()
	var e errorBody
	c.json("PUT", "/api/settings", map[string]any{"syslog_target": "udp://x:514"}, http.StatusUnprocessableEntity, &e)
	if e.Fields["syslog_target"] != "UDP is switched off here" {
		t.Errorf("fields = %v", e.Fields)
	}
	c.json("POST", "/api/settings/test-syslog", nil, http.StatusServiceUnavailable, nil)
}

func TestAPI_ResetStreamPositionForgetsTheCheckpoint(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client().in(t)
	var created map[string]any
	c.json("POST", "/api/accounts", account2("Acme"), http.StatusCreated, &created)
	id := int64(created["id"].(float64))
	ctx := context.Background()
	if err := env.store.SaveCheckpoint(ctx, id, model.StreamSIEM, []byte(`{"v":1,"token":"stale"}`)); err != nil {
		t.Fatal(err)
	}
	c.json("POST", fmt.Sprintf("/api/accounts/%d/streams/siem/reset", id), nil, http.StatusOK, nil)
	if cp, _ := env.store.Checkpoint(ctx, id, model.StreamSIEM); cp != nil {
		t.Fatalf("checkpoint after reset = %s", cp)
	}
	if code, _ := c.do("POST", fmt.Sprintf("/api/accounts/%d/streams/dlp_nope/reset", id), nil); code != http.StatusNotFound {
		t.Fatalf("reset of a stream the account does not collect = %d, want 404", code)
	}
	// Without the CSRF token nothing is reset.
	env.store.SaveCheckpoint(ctx, id, model.StreamSIEM, []byte(`{"v":1}`))
	resp := c.send("POST", fmt.Sprintf("/api/accounts/%d/streams/siem/reset", id), nil, http.Header{"X-CSRF-Token": {"wrong"}})
	resp.Body.Close()
	if cp, _ := env.store.Checkpoint(ctx, id, model.StreamSIEM); resp.StatusCode != http.StatusForbidden || cp == nil {
		t.Fatalf("reset without a valid token: %d, checkpoint kept %v", resp.StatusCode, cp != nil)
	}
}
