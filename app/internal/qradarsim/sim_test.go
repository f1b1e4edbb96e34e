package qradarsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type call struct {
	method, path, body string
	sec, version       string
	rng                string
}

func send(t *testing.T, srv *httptest.Server, c call) (*http.Response, map[string]any, []byte) {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.sec != "-" {
		req.Header.Set("SEC", "tok")
	}
	if c.version != "-" {
		v := c.version
		if v == "" {
			v = "20.0"
		}
		req.Header.Set("Version", v)
	}
	req.Header.Set("Accept", "application/json")
	if c.rng != "" {
		req.Header.Set("Range", c.rng)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	_ = json.Unmarshal(raw, &obj)
	return resp, obj, raw
}

func newSim(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "tok"
	}
	s := New(opts)
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func TestServer_ChecksSECAndVersion(t *testing.T) {
	_, srv := newSim(t, Options{})
	tests := []struct {
		name     string
		c        call
		want     int
		wantCode float64
	}{
		{"no SEC", call{method: "GET", path: "/api/help/versions", sec: "-"}, 401, 11},
		{"versions without Version", call{method: "GET", path: "/api/help/versions", version: "-"}, 200, 0},
		{"no Version", call{method: "GET", path: "/api/config/event_sources/event_collectors", version: "-"}, 422, 1005},
		{"removed version", call{method: "GET", path: "/api/config/event_sources/event_collectors", version: "11.0"}, 422, 1005},
		{"unknown version", call{method: "GET", path: "/api/config/event_sources/event_collectors", version: "99.0"}, 422, 1005},
		{"major only", call{method: "GET", path: "/api/config/event_sources/event_collectors", version: "26"}, 200, 0},
		{"unknown endpoint", call{method: "GET", path: "/api/nothing/here"}, 404, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, raw := send(t, srv, tt.c)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, raw, tt.want)
			}
			if tt.want >= 400 {
				hr, _ := body["http_response"].(map[string]any)
				if body["code"] != tt.wantCode || hr["code"] != float64(tt.want) || body["message"] == nil || body["description"] == nil {
					t.Errorf("error body %s", raw)
				}
			}
		})
	}
	resp, _, _ := send(t, srv, call{method: "GET", path: "/api/config/event_sources/event_collectors", version: "20.0"})
	if resp.Header.Get("Deprecated") == "" {
		t.Error("a deprecated version is not flagged")
	}
}

func TestServer_PagesListsWithContentRange(t *testing.T) {
	_, srv := newSim(t, Options{})
	const path = "/api/data_classification/low_level_categories"
	tests := []struct{ rng, want string }{
		{"items=0-4", "items 0-4/16"},
		{"items=10-40", "items 10-15/16"},
		{"items=16-20", "items */16"},
	}
	for _, tt := range tests {
		resp, _, raw := send(t, srv, call{method: "GET", path: path, rng: tt.rng})
		if got := resp.Header.Get("Content-Range"); got != tt.want {
			t.Errorf("Range %s: Content-Range %q, want %q (%s)", tt.rng, got, tt.want, raw)
		}
	}
	_, _, raw := send(t, srv, call{method: "GET", path: path + "?filter=" + url.QueryEscape(`name="Virus Detected" or id=9014`)})
	var items []Category
	_ = json.Unmarshal(raw, &items)
	if len(items) != 2 {
		t.Errorf("filtered list %s", raw)
	}
	resp, body, _ := send(t, srv, call{method: "GET", path: path + "?filter=" + url.QueryEscape(`name=unquoted`)})
	if resp.StatusCode != 422 || body["code"] != float64(1001) {
		t.Errorf("bad filter: %d %v", resp.StatusCode, body)
	}
}

const lsPath = "/api/config/event_sources/log_source_management/log_sources"

func logSourceBody(name, ident string) string {
	return fmt.Sprintf(`{"name":%q,"type_id":212,"protocol_type_id":0,"target_event_collector_id":7,
		"protocol_parameters":[{"id":0,"name":"identifier","value":%q},{"id":1,"name":"incomingPayloadEncoding","value":"UTF-8"}]}`, name, ident)
}

func TestServer_LogSourcesAreUniqueAndNeedADeploy(t *testing.T) {
	s, srv := newSim(t, Options{})
	resp, body, raw := send(t, srv, call{method: "POST", path: lsPath, body: logSourceBody("A", "host-a")})
	if resp.StatusCode != 201 || body["requires_deploy"] != true {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	tests := []struct {
		name, body string
		want, code int
	}{
		{"same name", logSourceBody("A", "host-b"), 409, 1001},
		{"same type, protocol and identifier", logSourceBody("B", "host-a"), 409, 1002},
		{"backslash", logSourceBody(`C\D`, "host-c"), 422, 1043},
		{"unknown type", strings.Replace(logSourceBody("E", "host-e"), `"type_id":212`, `"type_id":999`, 1), 422, 1007},
		{"root group", strings.Replace(logSourceBody("F", "host-f"), `"type_id"`, `"group_ids":[0],"type_id"`, 1), 422, 1031},
	}
	for _, tt := range tests {
		resp, body, raw := send(t, srv, call{method: "POST", path: lsPath, body: tt.body})
		if resp.StatusCode != tt.want || body["code"] != float64(tt.code) {
			t.Errorf("%s: %d %s, want %d/%d", tt.name, resp.StatusCode, raw, tt.want, tt.code)
		}
	}
	if s.StagedChanges() != 1 {
		t.Errorf("staged %d", s.StagedChanges())
	}
	const deploy = "/api/staged_config/deploy_status"
	if resp, _, raw := send(t, srv, call{method: "POST", path: deploy, body: `{"type":"INCREMENTAL"}`}); resp.StatusCode != 200 {
		t.Fatalf("deploy: %d %s", resp.StatusCode, raw)
	}
	resp, body, _ = send(t, srv, call{method: "POST", path: deploy, body: `{"type":"INCREMENTAL"}`})
	if resp.StatusCode != 409 || !strings.Contains(fmt.Sprint(body["message"]), "No changes to deploy") {
		t.Errorf("deploy with nothing staged: %d %v", resp.StatusCode, body)
	}
	if s.Deploys() != 1 || s.LogSources()[0].RequiresDeploy {
		t.Errorf("deploys %d, log source %+v", s.Deploys(), s.LogSources()[0])
	}
}

func TestServer_QIDRecordsAndMappingsCannotBeDeleted(t *testing.T) {
	_, srv := newSim(t, Options{})
	resp, body, raw := send(t, srv, call{method: "POST", path: "/api/data_classification/qid_records",
		body: `{"log_source_type_id":212,"name":"Mimecast: test","severity":5,"low_level_category_id":9014}`})
	if resp.StatusCode != 201 || body["log_source_type_id"] != nil {
		t.Fatalf("create QID: %d %s", resp.StatusCode, raw)
	}
	id := int64(body["id"].(float64))
	resp, _, _ = send(t, srv, call{method: "POST", path: "/api/data_classification/dsm_event_mappings",
		body: fmt.Sprintf(`{"log_source_type_id":212,"log_source_event_id":"receipt","log_source_event_category":"Rej","qid_record_id":%d}`, id)})
	if resp.StatusCode != 201 {
		t.Fatalf("create mapping: %d", resp.StatusCode)
	}
	resp, body, _ = send(t, srv, call{method: "POST", path: "/api/data_classification/dsm_event_mappings",
		body: fmt.Sprintf(`{"log_source_type_id":212,"log_source_event_id":"receipt","log_source_event_category":"Rej","qid_record_id":%d}`, id)})
	if resp.StatusCode != 409 || body["code"] != float64(1008) {
		t.Errorf("duplicate mapping: %d %v", resp.StatusCode, body)
	}
	for _, p := range []string{fmt.Sprintf("/api/data_classification/qid_records/%d", id), "/api/data_classification/dsm_event_mappings/1"} {
		if resp, _, _ := send(t, srv, call{method: "DELETE", path: p}); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE %s: %d, want 405", p, resp.StatusCode)
		}
	}
}

func TestServer_FaultsAreUsedUp(t *testing.T) {
	s, srv := newSim(t, Options{})
	s.AddFault(Fault{Method: "GET", Path: "/api/config/*", Status: 503, Code: 1020, Message: "busy", Times: 2})
	var got []int
	for range 3 {
		resp, _, _ := send(t, srv, call{method: "GET", path: "/api/config/event_sources/event_collectors"})
		got = append(got, resp.StatusCode)
	}
	if !slices.Equal(got, []int{503, 503, 200}) {
		t.Errorf("statuses %v", got)
	}
	if reqs := s.Requests(); len(reqs) != 3 || reqs[0].SEC != "tok" || reqs[0].Status != 503 {
		t.Errorf("recorded %+v", reqs)
	}
}

func TestServer_ArielSearchesReadTheLEEFSink(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.leef")
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s, srv := newSim(t, Options{EventsFile: events, Now: func() time.Time { return now }, SearchPolls: 2})
	// Set up the minimum: a log source, a property and its expression.
	if resp, _, raw := send(t, srv, call{method: "POST", path: lsPath, body: logSourceBody("Mimecast - Acme", "mimecast-acme")}); resp.StatusCode != 201 {
		t.Fatalf("%s", raw)
	}
	_, prop, _ := send(t, srv, call{method: "POST", path: "/api/config/event_sources/custom_properties/regex_properties",
		body: `{"name":"Mimecast Sender","property_type":"string"}`})
	for _, key := range []string{"senderEnvelope", "Sender"} {
		send(t, srv, call{method: "POST", path: "/api/config/event_sources/custom_properties/property_leef_expressions",
			body: fmt.Sprintf(`{"regex_property_identifier":%q,"expression":%q,"log_source_type_id":212}`, prop["identifier"], key)})
	}
	line := func(at time.Time, host, attrs string) string {
		return fmt.Sprintf("<14>1 %s %s mimecast-qradar - - - LEEF:2.0|Mimecast|Email Security|1.0|receipt|x09|%s\n", at.Format(time.RFC3339), host, attrs)
	}
	data := line(now.Add(-time.Hour), "mimecast-acme", "cat=Rej\tsenderEnvelope=a@x.example\tsrc=192.0.2.1") +
		line(now.Add(-2*time.Hour), "mimecast-acme", "cat=Acc\tSender=b@x.example") +
		line(now.Add(-48*time.Hour), "mimecast-acme", "cat=Rej\tsenderEnvelope=old@x.example") +
		line(now.Add(-time.Hour), "other-host", "cat=Rej\tsenderEnvelope=c@x.example")
	if err := os.WriteFile(events, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	aql := `SELECT "Mimecast Sender", sourceip, LOGSOURCENAME(logsourceid) AS "Log Source" FROM events WHERE "Mimecast Sender" IS NOT NULL ORDER BY devicetime DESC LIMIT 10 LAST 24 HOURS`
	resp, started, raw := send(t, srv, call{method: "POST", path: "/api/ariel/searches?query_expression=" + url.QueryEscape(aql)})
	if resp.StatusCode != 201 || started["status"] != "WAIT" {
		t.Fatalf("start: %d %s", resp.StatusCode, raw)
	}
	id := started["search_id"].(string)
	if resp, _, _ := send(t, srv, call{method: "GET", path: "/api/ariel/searches/" + id + "/results"}); resp.StatusCode != 404 {
		t.Errorf("results before completion: %d", resp.StatusCode)
	}
	var status string
	for range 2 {
		_, st, _ := send(t, srv, call{method: "GET", path: "/api/ariel/searches/" + id})
		status = fmt.Sprint(st["status"])
	}
	if status != "COMPLETED" {
		t.Fatalf("status after 2 polls %q", status)
	}
	_, res, raw := send(t, srv, call{method: "GET", path: "/api/ariel/searches/" + id + "/results"})
	rows, _ := res["events"].([]any)
	if len(rows) != 2 {
		t.Fatalf("rows %s", raw)
	}
	first := rows[0].(map[string]any)
	if first["Mimecast Sender"] != "a@x.example" || first["sourceip"] != "192.0.2.1" || first["Log Source"] != "Mimecast - Acme" {
		t.Errorf("first row %v", first)
	}
	if second := rows[1].(map[string]any); second["Mimecast Sender"] != "b@x.example" {
		t.Errorf("second row %v (the API 1.0 key)", second)
	}
	resp, body, _ := send(t, srv, call{method: "POST", path: "/api/ariel/searches?query_expression=" + url.QueryEscape(`SELECT "No Such Property" FROM events`)})
	if resp.StatusCode != 422 || !strings.Contains(fmt.Sprint(body["description"]), "No Such Property") {
		t.Errorf("unknown property: %d %v", resp.StatusCode, body)
	}
	if s.Searches() != 1 {
		t.Errorf("searches %d", s.Searches())
	}
}
