package mimecast

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

func TestLogs_SendsDocumentedRequestBody(t *testing.T) {
	start := time.Date(2024, 11, 17, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	end := time.Date(2024, 11, 18, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		stream model.Stream
		path   string
		data   string
	}{
		{model.StreamAudit, "/api/audit/get-audit-events", `{"startDateTime":"2024-11-17T09:00:00+0000","endDateTime":"2024-11-18T09:00:00+0000"}`},
		{model.StreamTTPURL, "/api/ttp/url/get-logs", `{"from":"2024-11-17T09:00:00+0000","to":"2024-11-18T09:00:00+0000","oldestFirst":true,"route":"all","scanResult":"all"}`},
		{model.StreamTTPAttachment, "/api/ttp/attachment/get-logs", `{"from":"2024-11-17T09:00:00+0000","to":"2024-11-18T09:00:00+0000","oldestFirst":true,"route":"all","result":"all"}`},
		{model.StreamTTPImpersonation, "/api/ttp/impersonation/get-logs", `{"from":"2024-11-17T09:00:00+0000","to":"2024-11-18T09:00:00+0000","oldestFirst":true}`},
		{model.StreamDLP, "/api/dlp/get-logs", `{"from":"2024-11-17T09:00:00+0000","to":"2024-11-18T09:00:00+0000","oldestFirst":true}`},
	}
	for _, tc := range tests {
		t.Run(string(tc.stream), func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			e.mux.HandleFunc("POST "+tc.path, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				want := `{"meta":{"pagination":{"pageSize":250,"pageToken":"tok-page-2"}},"data":[` + tc.data + `]}`
				if !jsonEqual(t, string(body), want) {
					t.Errorf("body = %s\nwant   %s", body, want)
				}
				if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tok-1" {
					t.Errorf("headers = %v", r.Header)
				}
				w.Write([]byte(`{"meta":{"status":200},"data":[],"fail":[]}`))
			})
			_, err := e.client.Logs(t.Context(), LogQuery{Stream: tc.stream, Start: start, End: end, PageToken: "tok-page-2", PageSize: 250},
				func(*model.Record) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLogs_FollowsPagesUntilLast(t *testing.T) {
	records := sampleLines(t, "ttp-url-logs.jsonl")
	page := func(recs [][]byte, next string) string {
		var parts []string
		for _, r := range recs {
			parts = append(parts, string(r))
		}
		p := `"pageSize":2`
		if next != "" {
			p += `,"next":"` + next + `"`
		}
		return `{"meta":{"status":200,"pagination":{` + p + `}},"data":[{"clickLogs":[` + strings.Join(parts, ",") + `]}],"fail":[]}`
	}
	pages := map[string]string{
		"":   page(records[0:2], "p2"),
		"p2": page(records[2:4], "p3"),
		"p3": page(nil, "p4"), // the empty last page that still carries next
	}
	e := newEnv(t, model.APIVersion1, nil)
	e.mux.HandleFunc("POST /api/ttp/url/get-logs", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Meta struct {
				Pagination struct{ PageToken string }
			}
		}
		json.NewDecoder(r.Body).Decode(&req)
		w.Write([]byte(pages[req.Meta.Pagination.PageToken]))
	})
	fn, got := collector()
	var tokens []string
	token := ""
	for range 10 {
		res, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamTTPURL, PageToken: token}, fn)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, res.Next)
		if res.Next == "" {
			break
		}
		token = res.Next
	}
	if strings.Join(tokens, ",") != "p2,p3," || len(*got) != 4 {
		t.Errorf("next tokens %q and %d records; want p2,p3 then end, 4 records", tokens, len(*got))
	}
}

func TestLogs_MalformedElementsAreSkipped(t *testing.T) {
	big := `{"date":"2024-11-17T00:52:30+0000","details":"` + strings.Repeat("x", 5000) + `"}`
	body := `{"meta":{"status":200,"pagination":{"next":"n"}},"data":[` +
		`{"attachmentLogs":[{"date":"2024-11-17T00:52:30+0000","result":"safe"},"a string",` + big + `,{"date":"bad date","n":[1,2,{"x":null}]},{"broken":tru}]},` +
		`42,{"resultCount":3}],"fail":[]}`
	e := newEnv(t, model.APIVersion1, func(o *Options) { o.Limits.MaxRecordBytes = 1024 })
	e.mux.HandleFunc("POST /api/ttp/attachment/get-logs", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
	fn, got := collector()
	res, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamTTPAttachment}, fn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats != (DecodeStats{Records: 2, Malformed: 4}) || res.Next != "n" {
		t.Fatalf("page = %+v, want 2 records, 4 malformed", res)
	}
	if !(*got)[1].Time.IsZero() {
		t.Errorf("unparseable date gave time %v, want zero", (*got)[1].Time)
	}
}

func TestLogs_DamagedPagesAreBadResponses(t *testing.T) {
	bodies := map[string]string{
		"truncated":       `{"meta":{"status":200},"data":[{"eventTime":"2021-10-18T08:45:02+0000","id":"a"},{"id":`,
		"not JSON":        `<html>Bad Gateway</html>`,
		"broken envelope": `{"meta" {"status":200}}`,
		"empty":           ``,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			e.mux.HandleFunc("POST /api/audit/get-audit-events", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
			_, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
		})
	}
}

func TestLogs_UnknownStreamIsRefused(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	if _, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamSIEM}, nil); err == nil {
		t.Error("Logs accepted the siem stream")
	}
}

func TestCheckAuth_V1(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
	}{
		{200, `{"meta":{"status":200},"data":[],"fail":[]}`, nil},
		{403, `{"fail":[{"errors":[{"code":"err_xdk_forbidden","message":"no"}]}]}`, nil}, // signed fine, just not allowed
		{401, string(readFile(t, "testdata/responses/v1-error-401-invalid-signature.json")), ErrAuth},
		{418, ``, ErrKeyExpired},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			e.mux.HandleFunc("POST /api/audit/get-audit-events", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			err := e.client.CheckAuth(t.Context())
			if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckStream(t *testing.T) {
	t.Run("api stream refused", func(t *testing.T) {
		e := newEnv(t, model.APIVersion2, nil)
		e.serveToken(t, 1799)
		e.mux.HandleFunc("POST /api/ttp/impersonation/get-logs", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			w.Write(readFile(t, "testdata/responses/v2-403-app-forbidden.json"))
		})
		e.mux.HandleFunc("POST /api/dlp/get-logs", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(body), `"pageSize":1`) {
				t.Errorf("check asked for more than one record: %s", body)
			}
			w.Write(readFile(t, "testdata/responses/v1-dlp-get-logs.json"))
		})
		if err := e.client.CheckStream(t.Context(), model.StreamTTPImpersonation); !errors.Is(err, ErrPermission) {
			t.Errorf("impersonation: %v, want ErrPermission", err)
		}
		if err := e.client.CheckStream(t.Context(), model.StreamDLP); err != nil {
			t.Errorf("dlp: %v", err)
		}
		if err := e.client.CheckStream(t.Context(), model.Stream("no_such_stream")); err == nil {
			t.Error("unsupported stream passed the check")
		}
	})
	t.Run("siem 2.0", func(t *testing.T) {
		e := newEnv(t, model.APIVersion2, nil)
		e.serveToken(t, 1799)
		e.mux.HandleFunc("GET /siem/v1/batch/events/cg", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("pageSize") != "1" {
				t.Errorf("query %s", r.URL.RawQuery)
			}
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"SIEM not enabled"}}`))
		})
		err := e.client.CheckStream(t.Context(), model.StreamSIEM)
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "SIEM not enabled") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("siem 1.0", func(t *testing.T) {
		e := newEnv(t, model.APIVersion1, nil)
		serveSIEMv1(e, "big.zip", make([]byte, 1<<20))
		if err := e.client.CheckStream(t.Context(), model.StreamSIEM); err != nil {
			t.Errorf("err = %v", err)
		}
	})
}
