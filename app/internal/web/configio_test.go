package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"mimecast-qradar/app/internal/model"
)

// exportFrom returns the configuration file of env, checking the download
// headers.
func exportFrom(t *testing.T, c *apiClient) []byte {
	t.Helper()
	resp := c.send("GET", "/api/config/export", nil, nil)
	defer resp.Body.Close()
	var body json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/config/export: %d, %v", resp.StatusCode, err)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="mimecast-qradar-config-`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	c.bodies = append(c.bodies, string(body))
	return body
}

func withMembers(file []byte, extra map[string]any) map[string]any {
	var m map[string]any
	json.Unmarshal(file, &m)
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestConfig_ExportThenImportCreatesMissingAccountsDisabledAndSkipsExisting(t *testing.T) {
	src := newTestEnv(t, nil)
	sc := src.client()
	var acme, beta accountJSON
	sc.json("POST", "/api/accounts", account2("Acme EU"), http.StatusCreated, &acme)
	sc.json("POST", "/api/accounts", account1("Beta Legacy"), http.StatusCreated, &beta)
	sc.json("PUT", "/api/settings", map[string]any{"syslog_target": "tls://old-qradar.example.com:6514"}, http.StatusOK, nil)
	file := exportFrom(t, sc)

	var doc configFile
	if err := json.Unmarshal(file, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Format != configFormat || doc.Version != 1 || doc.AppVersion != "1.2.3" || len(doc.Accounts) != 2 ||
		doc.Settings.SyslogTarget != "tls://old-qradar.example.com:6514" {
		t.Fatalf("exported file = %s", file)
	}
	b := doc.Accounts[1]
	if b.Name != "Beta Legacy" || b.APIVersion != "1.0" || b.AppID != "app-id-1" || b.Schedule != "*/5 * * * *" ||
		b.InitialLookbackHours != 48 || fmt.Sprint(b.Streams) != "[siem ttp_url]" || b.LogSourceIdentifier != "mimecast-beta-legacy" {
		t.Errorf("exported 1.0 account = %+v", b)
	}
	for _, s := range allSecrets {
		if strings.Contains(string(file), s) {
			t.Errorf("the export contains the secret %q", s)
		}
	}
	for _, k := range []string{"client_secret", "app_key", "access_key", "secret_key", `"id"`} {
		if strings.Contains(string(file), k) {
			t.Errorf("the export names %s", k)
		}
	}

	// The destination already has an "ACME eu".
	dst := newTestEnv(t, nil)
	dc := dst.client()
	var existing accountJSON
	dc.json("POST", "/api/accounts", merge(account2("ACME eu"), map[string]any{"log_source_identifier": "acme-here"}), http.StatusCreated, &existing)
	ctx := context.Background()

	var res importResult
	dc.json("POST", "/api/config/import?dry_run=1", withMembers(file, nil), http.StatusOK, &res)
	if !res.DryRun || len(res.Created) != 1 || res.Created[0].Name != "Beta Legacy" || res.Created[0].ID != 0 ||
		len(res.Skipped) != 1 || res.Skipped[0].Name != "Acme EU" {
		t.Fatalf("dry run = %+v", res)
	}
	if list, _ := dst.store.ListAccounts(ctx); len(list) != 1 {
		t.Fatalf("a dry run created accounts: %d", len(list))
	}
	if n := len(auditTrail(t, dc)); n != 1 {
		t.Errorf("audit entries after a dry run = %d, want only the first account's creation", n)
	}

	dc.json("POST", "/api/config/import", withMembers(file, nil), http.StatusOK, &res)
	if res.DryRun || len(res.Created) != 1 || len(res.Skipped) != 1 || len(res.Failed) != 0 {
		t.Fatalf("import = %+v", res)
	}
	created := res.Created[0]
	if created.Enabled || !strings.Contains(created.Note, "enter credentials") ||
		!strings.Contains(created.Note, "application key, access key, secret key") {
		t.Errorf("created = %+v, want disabled with a note to enter the three keys", created)
	}
	if !strings.Contains(res.Skipped[0].Reason, "exists already") || res.SyslogTarget.Applied ||
		res.Message != "1 account created (1 disabled until credentials are entered), 1 skipped, 0 failed" {
		t.Errorf("skipped %+v, target %+v, message %q", res.Skipped, res.SyslogTarget, res.Message)
	}
	got, err := dst.store.Account(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Beta Legacy" || got.Enabled || got.AppKey != "" || got.AppID != "app-id-1" || got.Schedule != "*/5 * * * *" ||
		got.InitialLookbackHours != 48 || got.BaseURL != "https://eu-api.mimecast.com" || fmt.Sprint(got.Streams) != "[siem ttp_url]" {
		t.Errorf("imported account = %+v", got)
	}
	kept, _ := dst.store.Account(ctx, existing.ID)
	if kept.ClientSecret != secretClient || kept.LogSourceIdentifier != "acme-here" {
		t.Errorf("the existing account was changed: %+v", kept)
	}
	if target, _ := dst.server.SyslogTarget(ctx); target != "tcp://192.0.2.10:514" {
		t.Errorf("syslog target after import without apply = %q", target)
	}
	if calls := dst.collector.savedCalls(); !slices.Contains(calls, savedCall{created.ID, true}) {
		t.Errorf("collector not told of the imported account: %v", calls)
	}
	trail := auditTrail(t, dc)
	if len(trail) != 3 || trail[0].Action != auditConfigImport || trail[0].Details["created"] != "1" || trail[0].Details["skipped"] != "1" ||
		trail[1].Action != auditAccountCreate || trail[1].Details["source"] != "import" || trail[1].Target != "Beta Legacy" {
		t.Errorf("audit trail = %+v", trail)
	}

	// The panel's account list shows the account without credentials, and
	// entering them makes it usable.
	var list []accountJSON
	dc.json("GET", "/api/accounts", nil, http.StatusOK, &list)
	if list[1].Name != "Beta Legacy" || list[1].AppKeySet || list[1].Enabled {
		t.Errorf("listed = %+v", list[1])
	}
	dc.json("PUT", fmt.Sprintf("/api/accounts/%d", created.ID), map[string]any{"enabled": true}, http.StatusUnprocessableEntity, nil)
	dc.json("PUT", fmt.Sprintf("/api/accounts/%d", created.ID), map[string]any{"enabled": true, "app_key": secretApp,
		"access_key": secretAccess, "secret_key": secretKey}, http.StatusOK, nil)

	// A second import skips everything; with apply_syslog_target the
	// target moves.
	dc.json("POST", "/api/config/import", withMembers(file, map[string]any{"apply_syslog_target": true}), http.StatusOK, &res)
	if len(res.Created) != 0 || len(res.Skipped) != 2 || !res.SyslogTarget.Applied {
		t.Errorf("second import = %+v", res)
	}
	if target, _ := dst.server.SyslogTarget(ctx); target != "tls://old-qradar.example.com:6514" {
		t.Errorf("syslog target after import with apply = %q", target)
	}
	if d := auditTrail(t, dc)[0].Details; d["syslog_target"] != "default (tcp://192.0.2.10:514) → tls://old-qradar.example.com:6514" {
		t.Errorf("import audit details = %v", d)
	}
	for _, body := range append(dc.bodies, sc.bodies...) {
		for _, s := range allSecrets {
			if strings.Contains(body, s) {
				t.Errorf("secret %q in %.200s", s, body)
			}
		}
	}
}

func TestImport_ReportsEachProblemAndKeepsGoing(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	c.json("POST", "/api/accounts", merge(account2("Taken"), map[string]any{"log_source_identifier": "mimecast-taken"}), http.StatusCreated, nil)
	entry := func(name string, extra map[string]any) map[string]any {
		m := map[string]any{"name": name, "enabled": true, "api_version": "2.0", "base_url": "https://api.services.mimecast.com",
			"client_id": "cid", "streams": []string{"siem"}, "schedule": "*/15 * * * *"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	file := map[string]any{"format": configFormat, "version": 1, "accounts": []any{
		entry("Good", nil),
		entry("good", nil), // same name, other case
		"not an object",
		entry("Bad Schedule", map[string]any{"schedule": "often", "streams": []string{"nope"}}),
		entry("Clash", map[string]any{"log_source_identifier": "mimecast-taken"}),
		entry("Also Clash", map[string]any{"log_source_identifier": "mimecast-good"}), // Good's derived identifier
		entry("With Secret", map[string]any{"client_secret": secretClient}),
		entry("", nil),
	}}
	var res importResult
	c.json("POST", "/api/config/import", file, http.StatusOK, &res)
	names := func(ps []importProblem) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return strings.Join(out, "|")
	}
	var created []string
	for _, cr := range res.Created {
		created = append(created, fmt.Sprintf("%s enabled=%t", cr.Name, cr.Enabled))
	}
	if got := strings.Join(created, "|"); got != "Good enabled=false|With Secret enabled=true" {
		t.Errorf("created = %s", got)
	}
	if got := names(res.Skipped); got != "good" {
		t.Errorf("skipped = %s", got)
	}
	if got := names(res.Failed); got != "(entry 3)|Bad Schedule|Clash|Also Clash|(entry 8)" {
		t.Errorf("failed = %s (%+v)", got, res.Failed)
	}
	for _, f := range res.Failed {
		if f.Name == "Bad Schedule" && (f.Fields["schedule"] == "" || f.Fields["streams"] == "") {
			t.Errorf("Bad Schedule fields = %v", f.Fields)
		}
		if f.Name == "Clash" && f.Fields["log_source_identifier"] == "" {
			t.Errorf("Clash fields = %v", f.Fields)
		}
	}
	withSecret, _ := env.store.ListAccounts(context.Background())
	for _, a := range withSecret {
		if a.Name == "With Secret" && (a.ClientSecret != secretClient || !a.Enabled) {
			t.Errorf("account imported with its secret = %+v", a)
		}
	}
}

func TestImport_RefusesWhatIsNotAnExport(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"not JSON", "{nope", http.StatusBadRequest, ""},
		{"empty", "", http.StatusBadRequest, ""},
		{"another kind of file", map[string]any{"accounts": []any{}}, http.StatusUnprocessableEntity, "format"},
		{"a newer version", map[string]any{"format": configFormat, "version": 2, "accounts": []any{}}, http.StatusUnprocessableEntity, "version"},
		{"no accounts", map[string]any{"format": configFormat, "version": 1}, http.StatusUnprocessableEntity, "accounts"},
		{"larger than the limit", `{"format":"` + strings.Repeat("x", maxImportBytes) + `"}`, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.in(t)
			var e errorBody
			c.json("POST", "/api/config/import", tc.body, tc.status, &e)
			if tc.field != "" && e.Fields[tc.field] == "" {
				t.Errorf("fields = %v, want a problem with %s", e.Fields, tc.field)
			}
		})
	}

	// Without the CSRF token nothing is imported.
	file := map[string]any{"format": configFormat, "version": 1, "accounts": []any{account2("Sneaky")}}
	noToken := &apiClient{t: t, base: env.http.URL, hc: c.hc}
	noToken.json("POST", "/api/config/import", file, http.StatusForbidden, nil)
	if list, _ := env.store.ListAccounts(context.Background()); len(list) != 0 {
		t.Errorf("an import without the CSRF token created %d accounts", len(list))
	}

	// An MSSP's file is larger than other API bodies: 250 accounts fit.
	var many []any
	for i := range 250 {
		many = append(many, map[string]any{"name": fmt.Sprintf("Customer %03d with a long descriptive name", i), "api_version": "2.0",
			"base_url": "https://api.services.mimecast.com", "client_id": fmt.Sprintf("client-%03d-%s", i, strings.Repeat("x", 60)),
			"streams": []model.Stream{"siem", "audit", "ttp_url"}, "schedule": "*/15 * * * *", "initial_lookback_hours": 24})
	}
	body, _ := json.Marshal(map[string]any{"format": configFormat, "version": 1, "accounts": many})
	if len(body) <= maxBodyBytes {
		t.Fatalf("test file is only %d bytes", len(body))
	}
	var res importResult
	c.json("POST", "/api/config/import?dry_run=1", string(body), http.StatusOK, &res)
	if len(res.Created) != 250 || len(res.Failed) != 0 {
		t.Errorf("dry run of 250 accounts: %s", res.Message)
	}
}
