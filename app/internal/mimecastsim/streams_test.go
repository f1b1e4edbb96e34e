package mimecastsim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// stixObject is the part of a STIX object these tests look at.
type stixObject struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	SourceRef string `json:"source_ref"`
	TargetRef string `json:"target_ref"`
}

// feedPage asks for one threat intel page and returns its objects (nil
// for a fail reply), the next token header and the fail code.
func (e *env) feedPage(t *testing.T, tok string, item map[string]any) (objects []stixObject, next, failCode string) {
	t.Helper()
	resp := e.bearer(t, tok, http.MethodPost, "/api/ttp/threat-intel/get-feed", map[string]any{"data": []any{item}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get-feed: HTTP %d %s", resp.StatusCode, readAll(t, resp))
	}
	body := readAll(t, resp)
	var env envelope
	if json.Unmarshal(body, &env) == nil && env.failCode() != "" {
		return nil, resp.Header.Get("X-Mc-Threat-Feed-Next-Token"), env.failCode()
	}
	var bundle struct {
		Type        string       `json:"type"`
		SpecVersion string       `json:"spec_version"`
		Objects     []stixObject `json:"objects"`
	}
	if err := json.Unmarshal(body, &bundle); err != nil || bundle.Type != "bundle" || bundle.SpecVersion != "2.0" {
		t.Fatalf("reply is not a STIX 2.0 bundle (%v): %.200s", err, body)
	}
	return bundle.Objects, resp.Header.Get("X-Mc-Threat-Feed-Next-Token"), ""
}

func TestThreatIntel_PagesByHeaderAndCarriesTheLastRelationshipOver(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{ThreatIntelPageSize: 100})
	e.sim.Generate("Acme", model.StreamThreatIntelCustomer, 250)
	e.sim.Generate("Acme", model.StreamThreatIntelGrid, 30) // another feed, not to be mixed in
	tok := e.token(t, acme)
	now := e.clock.Now()
	item := map[string]any{"feedType": "malware_customer", "fileType": "stix",
		"start": now.Add(-24 * time.Hour).Format(time.RFC3339), "end": now.Format("2006-01-02T15:04:05-0700")}
	seen := map[string]int{}
	links := map[string]string{}
	var lastIndicator string
	pages := 0
	for {
		objects, next, code := e.feedPage(t, tok, item)
		if code != "" {
			t.Fatalf("page %d: fail %s", pages+1, code)
		}
		pages++
		if pages > 1 {
			// The relationship of the previous page's last indicator.
			if objects[0].Type != "relationship" || objects[0].SourceRef != lastIndicator {
				t.Errorf("page %d starts with %+v, want the relationship of %s", pages, objects[0], lastIndicator)
			}
		}
		for _, o := range objects {
			seen[o.ID]++
			if o.Type == "indicator" {
				lastIndicator = o.ID
			}
			if o.Type == "relationship" {
				links[o.SourceRef] = o.TargetRef
			}
		}
		if next == "" {
			break
		}
		// elastic sends the token without the window.
		item = map[string]any{"feedType": "malware_customer", "fileType": "stix", "token": next}
	}
	if pages != 3 {
		t.Errorf("%d pages for 250 indicators of 100, want 3", pages)
	}
	truth := e.sim.Records("Acme", model.StreamThreatIntelCustomer)
	for _, r := range truth {
		if seen[r.ID] != 1 || links[r.ID] == "" || seen[links[r.ID]] != 1 {
			t.Fatalf("indicator %s seen %d times, malware %q", r.ID, seen[r.ID], links[r.ID])
		}
	}
	if len(seen) != 3*len(truth) {
		t.Errorf("%d distinct objects, want %d (indicator, malware, relationship each)", len(seen), 3*len(truth))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("object %s served %d times", id, n)
		}
	}
}

func TestThreatIntel_EmptyWindowAndBadRequests(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamThreatIntelGrid, 10)
	tok := e.token(t, acme)
	future := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		item map[string]any
		want string
	}{
		{"window without indicators", map[string]any{"feedType": "malware_grid", "fileType": "stix", "start": future}, "err_threat_intel_feed_no_result_found"},
		{"feed without indicators", map[string]any{"feedType": "malware_customer", "fileType": "stix"}, "err_threat_intel_feed_no_result_found"},
		{"unknown feed", map[string]any{"feedType": "malware_everywhere"}, "err_validation_invalid_value"},
		{"csv", map[string]any{"feedType": "malware_grid", "fileType": "csv"}, "err_validation_invalid_value"},
		{"compressed", map[string]any{"feedType": "malware_grid", "fileType": "stix", "compress": true}, "err_validation_invalid_value"},
		{"forged token", map[string]any{"feedType": "malware_grid", "fileType": "stix", "token": "abc.def"}, "err_threat_intel_invalid_token"},
		{"bad date", map[string]any{"feedType": "malware_grid", "start": "yesterday"}, "err_validation_invalid_value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects, next, code := e.feedPage(t, tok, tc.item)
			if code != tc.want || objects != nil || next != "" {
				t.Errorf("fail %q, %d objects, next %q; want fail %s", code, len(objects), next, tc.want)
			}
		})
	}
	objects, _, code := e.feedPage(t, tok, map[string]any{"feedType": "malware_grid", "fileType": "stix"})
	if code != "" || len(objects) != 30 {
		t.Errorf("default window: fail %q, %d objects; want 10 indicators with malware and relationships", code, len(objects))
	}
}

func TestCIBatch_ListsOnlyCloudIntegratedFilesOfTheType(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 40})
	e.sim.Generate("Acme", model.StreamSIEMCI, 600)
	e.sim.Generate("Acme", model.StreamSIEM, 200)
	tok := e.token(t, acme)
	got := map[string]int{}
	for _, typ := range []string{"entities", "mailflow", "urlclick"} {
		q := url.Values{"type": {typ}, "pageSize": {"3"}}
		for range 1000 {
			resp := e.bearer(t, tok, http.MethodGet, "/siem/v1/batch/events/ci?"+q.Encode(), nil)
			var p batchPage
			decode(t, resp, &p)
			for _, v := range p.Value {
				if !strings.Contains(v.URL, "/ci-") {
					t.Errorf("CI file URL %s", v.URL)
				}
				for _, line := range ndjsonLines(t, readAll(t, e.download(t, v.URL))) {
					var m struct{ Type string }
					json.Unmarshal(line, &m)
					if m.Type != typ {
						t.Fatalf("a %s record in a %s listing", m.Type, typ)
					}
					got[mimecastsim.RecordID(model.StreamSIEMCI, line)]++
				}
			}
			if p.IsCaughtUp {
				break
			}
			q = url.Values{"nextPage": {p.NextPage}, "type": {typ}, "pageSize": {"3"}}
		}
	}
	want := map[string]int{}
	for _, r := range e.sim.Records("Acme", model.StreamSIEMCI) {
		want[r.ID]++
	}
	diffIDs(t, want, got)

	// A Cloud Gateway cursor is not a Cloud Integrated one, and the CI
	// endpoint knows only its own types.
	cg, _ := e.batch(t, tok, url.Values{"type": {"receipt"}})
	resp := e.bearer(t, tok, http.MethodGet, "/siem/v1/batch/events/ci?nextPage="+url.QueryEscape(cg.NextPage), nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("CG cursor at the CI endpoint: HTTP %d", resp.StatusCode)
	}
	resp = e.bearer(t, tok, http.MethodGet, "/siem/v1/batch/events/ci?type=receipt", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("CG type at the CI endpoint: HTTP %d", resp.StatusCode)
	}
}

func TestAwareness_PagesRowsAndCampaignUserData(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamAwarenessTraining, 25)
	e.sim.Generate("Acme", model.StreamAwarenessTraining, 10)
	tok := e.token(t, acme)
	rowsOf := func(path string, data []any, listKey string) []json.RawMessage {
		var out []json.RawMessage
		body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 10}}}
		if data != nil {
			body["data"] = data
		}
		for range 100 {
			env := e.page(t, false, tok, path, body)
			if len(env.Fail) > 0 {
				t.Fatalf("%s: fail %s", path, env.failCode())
			}
			if listKey == "" {
				out = append(out, env.Data...)
			} else {
				out = append(out, logEndpoint{listKey: listKey}.records(t, env)...)
			}
			if env.Meta.Pagination.Next == "" {
				return out
			}
			// Later pages: the token alone.
			body = map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 10, "pageToken": env.Meta.Pagination.Next}}}
		}
		t.Fatal("paging never ended")
		return nil
	}
	got := map[string]int{}
	for _, path := range []string{"company/get-safe-score-details", "company/get-performance-details", "company/get-watchlist-details"} {
		rows := rowsOf("/api/awareness-training/"+path, []any{map[string]any{"includeUserDetails": true}}, "")
		if len(rows) != 35 {
			t.Errorf("%s: %d rows, want 35", path, len(rows))
		}
		for _, r := range rows {
			got[mimecastsim.RecordID(model.StreamAwarenessTraining, r)]++
		}
	}
	campaigns := rowsOf("/api/awareness-training/phishing/campaign/get-campaign", nil, "")
	if len(campaigns) != 2 {
		t.Fatalf("%d campaigns, want one per Generate", len(campaigns))
	}
	for _, c := range campaigns {
		var camp struct {
			ID         string `json:"id"`
			LaunchDate string `json:"launchDate"`
		}
		json.Unmarshal(c, &camp)
		if _, err := time.Parse("2006-01-02T15:04:05-0700", camp.LaunchDate); err != nil || camp.ID == "" {
			t.Errorf("campaign %s", c)
		}
		for _, r := range rowsOf("/api/awareness-training/phishing/campaign/get-user-data", []any{map[string]any{"id": camp.ID}}, "items") {
			// What the client adds, so that the row can be identified.
			var m map[string]any
			json.Unmarshal(r, &m)
			m["campaignId"] = camp.ID
			withCampaign, _ := json.Marshal(m)
			got[mimecastsim.RecordID(model.StreamAwarenessTraining, withCampaign)]++
		}
	}
	want := map[string]int{}
	for _, r := range e.sim.Records("Acme", model.StreamAwarenessTraining) {
		want[r.ID]++
	}
	diffIDs(t, want, got)

	env := e.page(t, false, tok, "/api/awareness-training/phishing/campaign/get-user-data", map[string]any{"data": []any{map[string]any{"id": "no-such-campaign"}}})
	if env.failCode() != "err_validation_invalid_value" {
		t.Errorf("unknown campaign: fail %q", env.failCode())
	}
}

func TestStreamPaths_MakeAStreamUnlicensed(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	limited := acme
	limited.Forbidden = append(mimecastsim.StreamPaths(model.StreamThreatIntelGrid), mimecastsim.StreamPaths(model.StreamAwarenessTraining)...)
	e.sim.AddAccount(limited)
	tok := e.token(t, acme)
	for path, want := range map[string]int{
		"/api/ttp/threat-intel/get-feed":                          http.StatusForbidden,
		"/api/awareness-training/company/get-watchlist-details":   http.StatusForbidden,
		"/api/awareness-training/phishing/campaign/get-user-data": http.StatusForbidden,
		"/api/gateway/get-held-release-logs":                      http.StatusOK,
	} {
		resp := e.bearer(t, tok, http.MethodPost, path, map[string]any{"data": []any{map[string]any{"feedType": "malware_grid"}}})
		if resp.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
	for _, s := range []model.Stream{model.StreamSIEM, model.StreamSIEMCI, model.StreamMessageRelease, model.StreamArchiveSearch,
		model.StreamThreatIntelCustomer, model.StreamAwarenessTraining, model.StreamDLP} {
		if len(mimecastsim.StreamPaths(s)) == 0 {
			t.Errorf("no paths for %s", s)
		}
	}
}
