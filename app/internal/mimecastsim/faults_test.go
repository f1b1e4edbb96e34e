package mimecastsim_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

func auditBody() map[string]any {
	return map[string]any{"data": []any{map[string]any{"startDateTime": "2026-11-21T00:00:00Z", "endDateTime": "2026-11-22T10:00:00Z"}}}
}

func TestFaults_ReplaceTheWholeReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault mimecastsim.Fault
		check func(t *testing.T, resp *http.Response)
	}{
		{"429 with rate-limit headers in ms and Retry-After", mimecastsim.Fault{Kind: mimecastsim.Fault429, Delay: 1500 * time.Millisecond, RetryAfter: 1200 * time.Millisecond},
			func(t *testing.T, resp *http.Response) {
				h := resp.Header
				if resp.StatusCode != http.StatusTooManyRequests || h.Get("X-RateLimit-Reset") != "1500" ||
					h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Limit") == "" || h.Get("Retry-After") != "2" {
					t.Errorf("HTTP %d headers %v", resp.StatusCode, h)
				}
			}},
		{"429 without Retry-After", mimecastsim.Fault{Kind: mimecastsim.Fault429},
			func(t *testing.T, resp *http.Response) {
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-RateLimit-Reset") != "1000" || resp.Header.Get("Retry-After") != "" {
					t.Errorf("HTTP %d headers %v", resp.StatusCode, resp.Header)
				}
			}},
		{"5xx defaults to 503", mimecastsim.Fault{Kind: mimecastsim.Fault5xx},
			func(t *testing.T, resp *http.Response) {
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("HTTP %d", resp.StatusCode)
				}
			}},
		{"5xx with a status", mimecastsim.Fault{Kind: mimecastsim.Fault5xx, Status: http.StatusBadGateway},
			func(t *testing.T, resp *http.Response) {
				if resp.StatusCode != http.StatusBadGateway {
					t.Errorf("HTTP %d", resp.StatusCode)
				}
			}},
		{"fail[] on HTTP 200", mimecastsim.Fault{Kind: mimecastsim.FaultFail200, Code: "err_validation_blank"},
			func(t *testing.T, resp *http.Response) {
				var env envelope
				decode(t, resp, &env)
				if resp.StatusCode != http.StatusOK || env.failCode() != "err_validation_blank" {
					t.Errorf("HTTP %d %q", resp.StatusCode, env.failCode())
				}
			}},
		{"401", mimecastsim.Fault{Kind: mimecastsim.FaultUnauthorized},
			func(t *testing.T, resp *http.Response) {
				var body v2Fail
				decode(t, resp, &body)
				if resp.StatusCode != http.StatusUnauthorized || len(body.Fail) == 0 {
					t.Errorf("HTTP %d %+v", resp.StatusCode, body)
				}
			}},
		{"403", mimecastsim.Fault{Kind: mimecastsim.FaultForbidden},
			func(t *testing.T, resp *http.Response) {
				var body v2Fail
				decode(t, resp, &body)
				if resp.StatusCode != http.StatusForbidden || len(body.Fail) == 0 || body.Fail[0].Code != "app_forbidden" {
					t.Errorf("HTTP %d %+v", resp.StatusCode, body)
				}
			}},
		{"418", mimecastsim.Fault{Kind: mimecastsim.FaultBindingExpired},
			func(t *testing.T, resp *http.Response) {
				var env envelope
				decode(t, resp, &env)
				if resp.StatusCode != http.StatusTeapot || env.failCode() != "err_xdk_binding_expired" {
					t.Errorf("HTTP %d %q", resp.StatusCode, env.failCode())
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, mimecastsim.Options{})
			e.sim.Generate("Acme", model.StreamAudit, 5)
			// Path "" would match the token request too, but these kinds
			// (except 429/5xx) do not apply there; tokens come first.
			tok := e.token(t, acme)
			e.sim.Inject(tc.fault)
			tc.check(t, e.bearer(t, tok, http.MethodPost, "/api/audit/get-audit-events", auditBody()))
			if n := e.sim.PendingFaults(); n != 0 {
				t.Errorf("%d faults still pending", n)
			}
			if resp := e.bearer(t, tok, http.MethodPost, "/api/audit/get-audit-events", auditBody()); resp.StatusCode != http.StatusOK {
				t.Errorf("after the fault: HTTP %d, want 200", resp.StatusCode)
			}
			reqs := e.sim.Requests()
			if got := reqs[len(reqs)-2]; got.Fault != tc.fault.Kind || got.Account != "Acme" {
				t.Errorf("request log %+v, want fault %s for Acme", got, tc.fault.Kind)
			}
		})
	}
}

func TestFaults_SlowRepliesStillAnswer(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamAudit, 5)
	tok := e.token(t, acme)
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultSlow, Delay: 20 * time.Millisecond})
	env := e.page(t, false, tok, "/api/audit/get-audit-events", auditBody())
	if len(env.Data) != 5 {
		t.Errorf("%d records, want 5", len(env.Data))
	}
	if reqs := e.sim.Requests(); reqs[len(reqs)-1].Fault != mimecastsim.FaultSlow {
		t.Errorf("request log %+v, want the slow fault", reqs[len(reqs)-1])
	}
}

func TestFaults_MatchPathAccountSkipAndCount(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamAudit, 5)
	acmeTok, globexTok := e.token(t, acme), e.token(t, globex)
	status := func(tok, path string) int {
		return e.bearer(t, tok, http.MethodPost, path, auditBody()).StatusCode
	}
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault5xx, Path: "/api/audit/", Account: "Globex", Skip: 1, Count: 2})
	got := []int{
		status(acmeTok, "/api/audit/get-audit-events"), // other account
		status(globexTok, "/api/dlp/get-logs"),         // other path
		status(globexTok, "/api/audit/get-audit-events"),
		status(globexTok, "/api/audit/get-audit-events"),
		status(globexTok, "/api/audit/get-audit-events"),
		status(globexTok, "/api/audit/get-audit-events"),
	}
	want := []int{200, 200, 200, 503, 503, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Count: -1})
	for range 3 {
		if s := status(acmeTok, "/api/dlp/get-logs"); s != http.StatusTooManyRequests {
			t.Fatalf("unlimited fault: HTTP %d", s)
		}
	}
	e.sim.ClearFaults()
	if s := status(acmeTok, "/api/dlp/get-logs"); s != http.StatusOK {
		t.Errorf("after ClearFaults: HTTP %d", s)
	}
}

func TestFaults_OnSIEMFiles(t *testing.T) {
	setup := func(t *testing.T, f mimecastsim.Fault) (*env, string, []string) {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 40})
		e.sim.GenerateSIEM("Acme", model.LogReceipt, 120)
		tok := e.token(t, acme)
		e.sim.Inject(f)
		urls, _ := e.batchAll(t, tok, url.Values{"pageSize": {"1"}})
		return e, tok, urls
	}
	t.Run("truncated gzip", func(t *testing.T) {
		e, _, urls := setup(t, mimecastsim.Fault{Kind: mimecastsim.FaultTruncated, Path: "/storage/", Skip: 1})
		for i, u := range urls {
			body := readAll(t, e.download(t, u))
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				_, err = io.ReadAll(zr)
			}
			if (err != nil) != (i == 1) {
				t.Errorf("file %d: gunzip error %v; only the second file is truncated", i, err)
			}
		}
	})
	t.Run("malformed line in NDJSON", func(t *testing.T) {
		e, _, urls := setup(t, mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord})
		bad, good := 0, 0
		for _, u := range urls {
			for _, line := range ndjsonLines(t, readAll(t, e.download(t, u))) {
				var m map[string]any
				if json.Unmarshal(line, &m) != nil {
					bad++
				} else {
					good++
				}
			}
		}
		if bad != 1 || good != 120 {
			t.Errorf("%d malformed and %d good lines, want 1 and 120", bad, good)
		}
	})
	t.Run("expired URL", func(t *testing.T) {
		e, _, urls := setup(t, mimecastsim.Fault{Kind: mimecastsim.FaultExpiredURL})
		if resp := e.download(t, urls[0]); resp.StatusCode != http.StatusForbidden {
			t.Errorf("first download: HTTP %d, want 403", resp.StatusCode)
		}
		if resp := e.download(t, urls[0]); resp.StatusCode != http.StatusOK {
			t.Errorf("second download: HTTP %d, want 200", resp.StatusCode)
		}
	})
	t.Run("duplicate file on the next batch page", func(t *testing.T) {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 40})
		e.sim.GenerateSIEM("Acme", model.LogReceipt, 120)
		tok := e.token(t, acme)
		p1, _ := e.batch(t, tok, url.Values{"pageSize": {"2"}})
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile})
		p2, _ := e.batch(t, tok, url.Values{"pageSize": {"2"}, "nextPage": {p1.NextPage}})
		path := func(u string) string { pu, _ := url.Parse(u); return pu.Path }
		if len(p2.Value) != 2 || path(p2.Value[0].URL) != path(p1.Value[1].URL) {
			t.Fatalf("page 2 %+v does not start with page 1's last file %s", p2.Value, p1.Value[1].URL)
		}
		p3, _ := e.batch(t, tok, url.Values{"pageSize": {"2"}, "nextPage": {p2.NextPage}})
		if len(p3.Value) != 0 || !p3.IsCaughtUp {
			t.Errorf("page 3 has %d files; the duplicate must not hide a file", len(p3.Value))
		}
	})
}

func TestFaults_OnSIEMV1Replies(t *testing.T) {
	setup := func(t *testing.T) *env {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 40})
		e.sim.GenerateSIEM("Acme", model.LogDelivery, 80)
		return e
	}
	item := map[string]any{"type": "MTA", "fileFormat": "json", "compress": true}
	t.Run("truncated zip", func(t *testing.T) {
		e := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated})
		r := e.siemV1(t, acme, item)
		if _, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body))); err == nil {
			t.Error("truncated zip opened without error")
		}
	})
	t.Run("malformed element in a JSON file", func(t *testing.T) {
		e := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord})
		r := e.siemV1(t, acme, item)
		for _, file := range unzipAll(t, r.body) {
			var doc struct{ Data []json.RawMessage }
			if err := json.Unmarshal(file, &doc); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for _, d := range doc.Data {
				if d[0] != '{' {
					bad++
				}
			}
			if bad != 1 || len(doc.Data) != 41 {
				t.Errorf("%d elements, %d not objects; want 41 and 1", len(doc.Data), bad)
			}
		}
	})
	t.Run("malformed line in a key_value file", func(t *testing.T) {
		e := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord})
		r := e.siemV1(t, acme, map[string]any{"fileFormat": "key_value"})
		bad, good := 0, 0
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "datetime=") {
				good++
			} else {
				bad++
			}
		}
		if bad != 1 || good != 40 {
			t.Errorf("%d bad and %d good lines, want 1 and 40", bad, good)
		}
	})
	t.Run("duplicate file keeps the token", func(t *testing.T) {
		e := setup(t)
		first := e.siemV1(t, acme, item)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile})
		item2 := map[string]any{"fileFormat": "json", "compress": true, "token": first.token}
		again := e.siemV1(t, acme, item2)
		if again.fileName != first.fileName || again.token != first.token {
			t.Fatalf("duplicate reply %q/%q, want %q/%q", again.fileName, again.token, first.fileName, first.token)
		}
		next := e.siemV1(t, acme, item2)
		if next.fileName == first.fileName || next.contentType != "application/octet-stream" {
			t.Errorf("after the duplicate: %q %q, want the second file", next.fileName, next.contentType)
		}
	})
	t.Run("duplicate does not apply to the first call", func(t *testing.T) {
		e := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile})
		e.siemV1(t, acme, item)
		if e.sim.PendingFaults() != 1 {
			t.Error("the fault was used although there was no previous file")
		}
	})
}

func TestFaults_OnLogPages(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamTTPAttachment, 12)
	tok := e.token(t, acme)
	body := map[string]any{"data": []any{map[string]any{"from": "2026-11-21T00:00:00Z"}}}

	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord})
	env := e.page(t, false, tok, "/api/ttp/attachment/get-logs", body)
	recs := logEndpoints[2].records(t, env)
	bad := 0
	for _, r := range recs {
		if r[0] != '{' {
			bad++
		}
	}
	if len(recs) != 13 || bad != 1 {
		t.Errorf("%d elements with %d non-objects; want 13 and 1", len(recs), bad)
	}

	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated})
	resp := e.bearer(t, tok, http.MethodPost, "/api/ttp/attachment/get-logs", body)
	var v any
	if err := json.Unmarshal(readAll(t, resp), &v); err == nil {
		t.Error("truncated page parsed as JSON")
	}
}

func TestRateLimit_EnforcedPerAccountWithHeaders(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RateLimit: 3})
	acmeTok, globexTok := e.token(t, acme), e.token(t, globex)
	var last *http.Response
	for i := range 4 {
		last = e.bearer(t, acmeTok, http.MethodPost, "/api/dlp/get-logs", nil)
		if remaining := last.Header.Get("X-RateLimit-Remaining"); i < 3 && remaining != []string{"2", "1", "0"}[i] {
			t.Errorf("request %d: X-RateLimit-Remaining %q", i, remaining)
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("X-RateLimit-Limit") != "3" || last.Header.Get("X-RateLimit-Reset") != "60000" {
		t.Errorf("4th request: HTTP %d headers %v", last.StatusCode, last.Header)
	}
	if resp := e.bearer(t, globexTok, http.MethodPost, "/api/dlp/get-logs", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("other account: HTTP %d, want 200", resp.StatusCode)
	}
	e.clock.Advance(time.Minute)
	if resp := e.bearer(t, acmeTok, http.MethodPost, "/api/dlp/get-logs", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("next minute: HTTP %d, want 200", resp.StatusCode)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	tok := e.token(t, acme)
	for _, tc := range []struct {
		method, path string
		auth         bool
		want         int
	}{
		{http.MethodGet, "/nothing", false, http.StatusNotFound},
		{http.MethodPost, "/api/unknown/thing", true, http.StatusNotFound},
		{http.MethodPost, "/api/unknown/thing", false, http.StatusUnauthorized},
		{http.MethodPost, "/siem/v1/batch/events/cg", true, http.StatusMethodNotAllowed},
		{http.MethodPost, "/storage/x/1.json.gz", false, http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		if tc.auth {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if resp := e.do(t, req); resp.StatusCode != tc.want {
			t.Errorf("%s %s: HTTP %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}
