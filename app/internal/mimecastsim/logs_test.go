package mimecastsim_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

type logEndpoint struct {
	path       string
	stream     model.Stream
	start, end string // window fields
	listKey    string // "" = records are data[]
	timeKey    string
	oldestOpt  bool
}

var logEndpoints = []logEndpoint{
	{"/api/audit/get-audit-events", model.StreamAudit, "startDateTime", "endDateTime", "", "eventTime", false},
	{"/api/ttp/url/get-logs", model.StreamTTPURL, "from", "to", "clickLogs", "date", true},
	{"/api/ttp/attachment/get-logs", model.StreamTTPAttachment, "from", "to", "attachmentLogs", "date", true},
	{"/api/ttp/impersonation/get-logs", model.StreamTTPImpersonation, "from", "to", "impersonationLogs", "eventTime", true},
	{"/api/dlp/get-logs", model.StreamDLP, "from", "to", "dlpLogs", "eventTime", true},
}

// records returns the records of a page, whatever the endpoint's layout.
func (le logEndpoint) records(t *testing.T, env envelope) []json.RawMessage {
	t.Helper()
	if le.listKey == "" {
		return env.Data
	}
	var out []json.RawMessage
	for _, d := range env.Data {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatalf("data element is not an object: %s", d)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(m[le.listKey], &list); err != nil {
			t.Fatalf("data[0].%s missing: %s", le.listKey, d)
		}
		out = append(out, list...)
	}
	return out
}

// page sends one request of a paged endpoint with either generation's auth.
func (e *env) page(t *testing.T, v1 bool, tok, path string, body any) envelope {
	t.Helper()
	var resp *http.Response
	if v1 {
		resp = e.signed(t, acme, path, body)
	} else {
		resp = e.bearer(t, tok, http.MethodPost, path, body)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", path, resp.StatusCode, readAll(t, resp))
	}
	var env envelope
	decode(t, resp, &env)
	return env
}

func recordTime(t *testing.T, raw json.RawMessage, key string) time.Time {
	t.Helper()
	var m map[string]any
	json.Unmarshal(raw, &m)
	s, _ := m[key].(string)
	ts, err := time.Parse("2006-01-02T15:04:05-0700", s)
	if err != nil {
		t.Fatalf("record time %q: %v", s, err)
	}
	return ts
}

func TestLogs_PagesEveryRecordOnceInBothGenerations(t *testing.T) {
	for _, le := range logEndpoints {
		for _, v1 := range []bool{false, true} {
			name := string(le.stream) + "/2.0"
			if v1 {
				name = string(le.stream) + "/1.0"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, mimecastsim.Options{})
				e.sim.Generate("Acme", le.stream, 95)
				e.sim.Generate("Globex", le.stream, 20)
				tok := ""
				if !v1 {
					tok = e.token(t, acme)
				}
				now := e.clock.Now()
				window := map[string]any{le.start: now.Add(-24 * time.Hour).Format("2006-01-02T15:04:05-0700"), le.end: now.Format(time.RFC3339)}
				// First page: pageSize as a numeric string (elastic).
				body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": "10"}}, "data": []any{window}}
				got := map[string]int{}
				var last time.Time
				pages := 0
				for {
					env := e.page(t, v1, tok, le.path, body)
					pages++
					recs := le.records(t, env)
					if env.Meta.Status != 200 || len(env.Fail) != 0 {
						t.Fatalf("page %d: meta %+v fail %+v", pages, env.Meta, env.Fail)
					}
					for _, r := range recs {
						got[mimecastsim.RecordID(le.stream, r)]++
						ts := recordTime(t, r, le.timeKey)
						if !last.IsZero() && ts.After(last) {
							t.Fatalf("records not newest first: %v after %v", ts, last)
						}
						last = ts
					}
					next := env.Meta.Pagination.Next
					if next == "" {
						if len(recs) == 0 {
							t.Error("last page is empty although the quirk is off")
						}
						break
					}
					if len(recs) != 10 {
						t.Fatalf("page %d has %d records and a next token", pages, len(recs))
					}
					// Follow-up pages alternate between the token alone
					// (elastic) and the token plus data (Sentinel, XSOAR).
					body = map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 10, "pageToken": next}}}
					if pages%2 == 0 {
						body["data"] = []any{window}
					}
				}
				if pages != 10 {
					t.Errorf("%d pages for 95 records of 10, want 10", pages)
				}
				want := map[string]int{}
				for _, r := range e.sim.Records("Acme", le.stream) {
					want[r.ID]++
				}
				diffIDs(t, want, got)
			})
		}
	}
}

func TestLogs_WindowIsInclusiveAndOrderFollowsOldestFirst(t *testing.T) {
	for _, le := range logEndpoints {
		t.Run(string(le.stream), func(t *testing.T) {
			e := newEnv(t, mimecastsim.Options{MaxPageSize: 1000})
			e.sim.Generate("Acme", le.stream, 200)
			tok := e.token(t, acme)
			recs := e.sim.Records("Acme", le.stream)
			from, to := recs[50].Time, recs[149].Time // inclusive bounds
			want := 0
			for _, r := range recs {
				if !r.Time.Before(from) && !r.Time.After(to) {
					want++
				}
			}
			body := map[string]any{
				"meta": map[string]any{"pagination": map[string]any{"pageSize": 1000}},
				"data": []any{map[string]any{le.start: from.Format("2006-01-02T15:04:05Z"), le.end: to.Format("2006-01-02T15:04:05+00:00"), "oldestFirst": true}},
			}
			env := e.page(t, false, tok, le.path, body)
			page := le.records(t, env)
			if len(page) != want || env.Meta.Pagination.TotalCount != want {
				t.Fatalf("%d records (totalCount %d), want %d in [%v, %v]", len(page), env.Meta.Pagination.TotalCount, want, from, to)
			}
			first, lastT := recordTime(t, page[0], le.timeKey), recordTime(t, page[len(page)-1], le.timeKey)
			if le.oldestOpt && first.After(lastT) {
				t.Errorf("oldestFirst: first %v after last %v", first, lastT)
			}
			if !le.oldestOpt && first.Before(lastT) {
				t.Errorf("audit ignores oldestFirst and answers newest first; got %v before %v", first, lastT)
			}
		})
	}
}

func TestLogs_EmptyLastPageQuirk(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{EmptyLastPage: true})
	e.sim.Generate("Acme", model.StreamTTPURL, 25)
	tok := e.token(t, acme)
	body := map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 10}}, "data": []any{map[string]any{"from": "2026-11-21T00:00:00Z"}}}
	var sizes []int
	var next string
	for range 4 {
		env := e.page(t, false, tok, "/api/ttp/url/get-logs", body)
		recs := len(logEndpoints[1].records(t, env))
		sizes = append(sizes, recs)
		if env.Meta.Pagination.Next == "" {
			t.Fatalf("page %d has no next; the quirk keeps next on every page", len(sizes))
		}
		next = env.Meta.Pagination.Next
		if recs == 0 {
			if len(env.Data) != 0 {
				t.Errorf("empty page data = %d elements, want [] as in the fixture", len(env.Data))
			}
			break
		}
		body = map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageToken": next}}}
	}
	if want := []int{10, 10, 5, 0}; len(sizes) != 4 || sizes[2] != 5 || sizes[3] != 0 {
		t.Errorf("page sizes %v, want %v", sizes, want)
	}
	// A collector that ignored empty data would loop: the empty page's
	// next leads to the same empty page.
	env := e.page(t, false, tok, "/api/ttp/url/get-logs", map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageToken": next}}})
	if len(env.Data) != 0 || env.Meta.Pagination.Next == "" {
		t.Errorf("following the empty page's next: %d data, next %q", len(env.Data), env.Meta.Pagination.Next)
	}
}

func TestLogs_RequestValidation(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamDLP, 30)
	tok := e.token(t, acme)
	for _, tc := range []struct {
		name     string
		path     string
		body     any
		wantCode string
	}{
		{"audit needs startDateTime", "/api/audit/get-audit-events", map[string]any{"data": []any{map[string]any{"endDateTime": "2026-11-22T10:00:00Z"}}}, "err_validation_null"},
		{"audit with no body at all", "/api/audit/get-audit-events", nil, "err_validation_null"},
		{"unparseable date", "/api/dlp/get-logs", map[string]any{"data": []any{map[string]any{"from": "yesterday"}}}, "err_validation_invalid_value"},
		{"non-numeric pageSize", "/api/dlp/get-logs", map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": "ten"}}}, "err_validation_invalid_value"},
		{"forged pageToken", "/api/dlp/get-logs", map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageToken": "abc.def"}}}, "err_invalid_page_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := e.page(t, false, tok, tc.path, tc.body)
			if env.failCode() != tc.wantCode {
				t.Errorf("fail code %q, want %q", env.failCode(), tc.wantCode)
			}
		})
	}
	t.Run("a DLP token cannot page audit events", func(t *testing.T) {
		env := e.page(t, false, tok, "/api/dlp/get-logs", map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 5}}})
		if env.Meta.Pagination.Next == "" {
			t.Fatal("no next token")
		}
		env = e.page(t, false, tok, "/api/audit/get-audit-events", map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageToken": env.Meta.Pagination.Next}}})
		if env.failCode() != "err_invalid_page_token" {
			t.Errorf("fail code %q", env.failCode())
		}
	})
	t.Run("TTP without a window defaults to today", func(t *testing.T) {
		env := e.page(t, false, tok, "/api/dlp/get-logs", map[string]any{"meta": map[string]any{"pagination": map[string]any{"pageSize": 500}}})
		want := 0
		midnight := e.clock.Now().Truncate(24 * time.Hour)
		for _, r := range e.sim.Records("Acme", model.StreamDLP) {
			if !r.Time.Before(midnight) {
				want++
			}
		}
		if got := env.Meta.Pagination.TotalCount; got != want || want == 0 {
			t.Errorf("totalCount %d, want %d records since midnight", got, want)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		if resp := e.bearer(t, tok, http.MethodGet, "/api/dlp/get-logs", nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("HTTP %d, want 405", resp.StatusCode)
		}
	})
}
