package mimecastsim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// wantIDs returns the ids of the account's SIEM records (optionally of one
// log type) as a multiset.
func wantIDs(sim *mimecastsim.Sim, account string, logType string) map[string]int {
	out := map[string]int{}
	for _, r := range sim.Records(account, model.StreamSIEM) {
		if logType == "" || r.LogType == logType {
			out[r.ID]++
		}
	}
	return out
}

func diffIDs(t *testing.T, want, got map[string]int) {
	t.Helper()
	missing, extra := 0, 0
	for id, n := range want {
		if got[id] < n {
			missing++
		}
	}
	for id, n := range got {
		if n > want[id] {
			extra++
		}
	}
	if missing > 0 || extra > 0 {
		t.Errorf("received %d distinct records; %d missing, %d unexpected or repeated (want %d)", len(got), missing, extra, len(want))
	}
}

func TestBatch_PagesUntilCaughtUpAndFilesHoldEveryRecordOnce(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 40})
	e.sim.Generate("Acme", model.StreamSIEM, 1000)
	e.sim.Generate("Globex", model.StreamSIEM, 77) // must not leak into Acme's files
	tok := e.token(t, acme)

	var pages []batchPage
	q := url.Values{"pageSize": {"7"}}
	for {
		p, resp := e.batch(t, tok, q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		pages = append(pages, p)
		if p.IsCaughtUp {
			break
		}
		q = url.Values{"nextPage": {p.NextPage}, "pageSize": {"7"}}
	}
	got := map[string]int{}
	files := 0
	for i, p := range pages {
		last := i == len(pages)-1
		if last != (len(p.Value) == 0) {
			t.Errorf("page %d: %d files, isCaughtUp %v: by default only the empty last page is caught up", i, len(p.Value), p.IsCaughtUp)
		}
		if p.NextPage == "" {
			t.Errorf("page %d has no @nextPage", i)
		}
		for _, v := range p.Value {
			files++
			if !strings.HasPrefix(v.URL, e.srv.URL+"/storage/") {
				t.Fatalf("url %q does not point at the simulator", v.URL)
			}
			if exp, err := time.Parse(time.RFC3339, v.Expiry); err != nil || !exp.After(e.clock.Now()) {
				t.Errorf("expiry %q (err %v) not in the future", v.Expiry, err)
			}
			resp := e.download(t, v.URL)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK || len(body) != v.Size {
				t.Fatalf("download: HTTP %d, %d bytes, listed size %d", resp.StatusCode, len(body), v.Size)
			}
			for _, line := range ndjsonLines(t, body) {
				got[mimecastsim.RecordID(model.StreamSIEM, line)]++
			}
		}
	}
	if files < 25 || len(pages) < 4 {
		t.Errorf("%d files on %d pages; want the backlog split into files of 40, pages of 7", files, len(pages))
	}
	diffIDs(t, wantIDs(e.sim, "Acme", ""), got)
}

func TestBatch_NextPageResumesWithOnlyNewFiles(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 50})
	e.sim.Generate("Acme", model.StreamSIEM, 300)
	tok := e.token(t, acme)
	first, next := e.batchAll(t, tok, url.Values{"pageSize": {"100"}})
	before := wantIDs(e.sim, "Acme", "")

	// Nothing new: the saved cursor yields nothing.
	if p, _ := e.batch(t, tok, url.Values{"nextPage": {next}}); len(p.Value) != 0 || !p.IsCaughtUp {
		t.Fatalf("nothing new: %d files, caught up %v", len(p.Value), p.IsCaughtUp)
	}
	e.clock.Advance(time.Minute)
	e.sim.Generate("Acme", model.StreamSIEM, 120)
	second, _ := e.batchAll(t, tok, url.Values{"nextPage": {next}})
	got := map[string]int{}
	for _, u := range second {
		if slices.Contains(first, u) {
			t.Fatalf("file %s listed again after resuming", u)
		}
		for _, line := range ndjsonLines(t, readAll(t, e.download(t, u))) {
			got[mimecastsim.RecordID(model.StreamSIEM, line)]++
		}
	}
	want := wantIDs(e.sim, "Acme", "")
	for id := range before {
		delete(want, id)
	}
	diffIDs(t, want, got)
}

func TestBatch_FiltersByTypeAndDate(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 30})
	e.sim.Generate("Acme", model.StreamSIEM, 600)
	tok := e.token(t, acme)
	today := e.clock.Now().Format("2006-01-02")
	yesterday := e.clock.Now().AddDate(0, 0, -1).Format("2006-01-02")

	collect := func(q url.Values) map[string]int {
		urls, _ := e.batchAll(t, tok, q)
		got := map[string]int{}
		for _, u := range urls {
			for _, line := range ndjsonLines(t, readAll(t, e.download(t, u))) {
				got[mimecastsim.RecordID(model.StreamSIEM, line)]++
			}
		}
		return got
	}
	t.Run("one type with a space in its name", func(t *testing.T) {
		diffIDs(t, wantIDs(e.sim, "Acme", model.LogURLProtect), collect(url.Values{"type": {"url protect"}, "dateRangeStartsAt": {today}}))
	})
	t.Run("comma-separated types", func(t *testing.T) {
		want := wantIDs(e.sim, "Acme", model.LogReceipt)
		for id, n := range wantIDs(e.sim, "Acme", model.LogJournal) {
			want[id] = n
		}
		diffIDs(t, want, collect(url.Values{"type": {"receipt,journal"}}))
	})
	t.Run("a day without data", func(t *testing.T) {
		got := collect(url.Values{"dateRangeStartsAt": {yesterday}, "dateRangeEndsAt": {yesterday}})
		if len(got) != 0 {
			t.Errorf("%d records for a day without data", len(got))
		}
	})
	for _, tc := range []struct {
		name string
		q    url.Values
	}{
		{"1.0 type spelling", url.Values{"type": {"ttp_url"}}},
		{"underscore spelling", url.Values{"type": {"url_protect"}}},
		{"date with time", url.Values{"dateRangeStartsAt": {today + "T00:00:00Z"}}},
		{"zero page size", url.Values{"pageSize": {"0"}}},
		{"forged nextPage", url.Values{"nextPage": {"eyJwIjoxfQ.AAAA"}}},
	} {
		t.Run("400 for "+tc.name, func(t *testing.T) {
			_, resp := e.batch(t, tok, tc.q)
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			decode(t, resp, &body)
			if resp.StatusCode != http.StatusBadRequest || body.Error.Code == "" {
				t.Errorf("HTTP %d %+v, want 400 with error.code", resp.StatusCode, body)
			}
		})
	}
}

func TestBatch_CaughtUpWithLastFilesOption(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 100, CaughtUpWithLastFiles: true})
	e.sim.GenerateSIEM("Acme", model.LogDelivery, 250)
	tok := e.token(t, acme)
	p, _ := e.batch(t, tok, url.Values{"pageSize": {"2"}})
	if len(p.Value) != 2 || p.IsCaughtUp {
		t.Fatalf("first page: %d files, caught up %v; want 2, false", len(p.Value), p.IsCaughtUp)
	}
	p, _ = e.batch(t, tok, url.Values{"pageSize": {"2"}, "nextPage": {p.NextPage}})
	if len(p.Value) != 1 || !p.IsCaughtUp {
		t.Errorf("last page: %d files, caught up %v; want 1, true", len(p.Value), p.IsCaughtUp)
	}
}

func TestStorage_BehavesLikePreSignedURLs(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 100, URLTTL: 10 * time.Minute})
	e.sim.GenerateSIEM("Acme", model.LogReceipt, 100)
	tok := e.token(t, acme)
	urls, _ := e.batchAll(t, tok, url.Values{})
	if len(urls) != 1 {
		t.Fatalf("%d files, want 1", len(urls))
	}
	u := urls[0]
	s3Code := func(resp *http.Response) string {
		m := regexp.MustCompile(`<Code>([^<]+)</Code>`).FindSubmatch(readAll(t, resp))
		if m == nil {
			return ""
		}
		return string(m[1])
	}
	t.Run("Authorization header is refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp := e.do(t, req); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("HTTP %d, want 400", resp.StatusCode)
		}
	})
	t.Run("tampered expiry", func(t *testing.T) {
		pu, _ := url.Parse(u)
		q := pu.Query()
		exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
		q.Set("expires", strconv.FormatInt(exp+3600, 10))
		pu.RawQuery = q.Encode()
		resp := e.download(t, pu.String())
		if resp.StatusCode != http.StatusForbidden || s3Code(resp) != "SignatureDoesNotMatch" {
			t.Errorf("HTTP %d, want 403 SignatureDoesNotMatch", resp.StatusCode)
		}
	})
	t.Run("expired after the TTL", func(t *testing.T) {
		e.clock.Advance(9 * time.Minute)
		if resp := e.download(t, u); resp.StatusCode != http.StatusOK {
			t.Fatalf("before expiry: HTTP %d", resp.StatusCode)
		}
		e.clock.Advance(2 * time.Minute)
		resp := e.download(t, u)
		if resp.StatusCode != http.StatusForbidden || s3Code(resp) != "AccessDenied" {
			t.Errorf("after expiry: HTTP %d, want 403 AccessDenied", resp.StatusCode)
		}
		fresh, _ := e.batchAll(t, tok, url.Values{})
		if resp := e.download(t, fresh[0]); resp.StatusCode != http.StatusOK {
			t.Errorf("relisted URL: HTTP %d, want 200", resp.StatusCode)
		}
	})
	t.Run("purged after seven days", func(t *testing.T) {
		e.clock.Advance(8 * 24 * time.Hour)
		if urls, _ := e.batchAll(t, e.token(t, acme), url.Values{}); len(urls) != 0 {
			t.Errorf("%d files listed after retention", len(urls))
		}
	})
}

// v1Reply is one get-siem-logs answer.
type v1Reply struct {
	status      int
	contentType string
	fileName    string
	token       string
	body        []byte
}

func (e *env) siemV1(t *testing.T, a mimecastsim.Account, item map[string]any) v1Reply {
	t.Helper()
	resp := e.signed(t, a, "/api/audit/get-siem-logs", map[string]any{"data": []any{item}})
	r := v1Reply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), token: resp.Header.Get("mc-siem-token"), body: readAll(t, resp)}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		r.fileName = params["filename"]
	}
	return r
}

var v1MemberName = regexp.MustCompile(`^(receipt|process|delivery|jrnl|av|spameventthread|iep|impersonation|ttp_url|ttp_ap)_\d{17}\.(json|log)$`)

// v1Records extracts the records of one file (a JSON document or key_value
// lines) as maps.
func v1Records(t *testing.T, name string, file []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if strings.HasSuffix(name, ".json") {
		var doc struct {
			Type string           `json:"type"`
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(file, &doc); err != nil || doc.Type != "MTA" {
			t.Fatalf("%s: not a {\"type\":\"MTA\",\"data\":[...]} document: %v", name, err)
		}
		return doc.Data
	}
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := map[string]any{}
		for _, f := range strings.Split(sc.Text(), "|") {
			k, v, _ := strings.Cut(f, "=")
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

func TestSIEMV1_ServesEveryFileOnceUntilEndOfData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		item     map[string]any
		zipped   bool
		ext      string
		perReply int
	}{
		{"json zip", map[string]any{"type": "MTA", "fileFormat": "json", "compress": true}, true, "json", 1},
		{"JSON upper-case, plain", map[string]any{"type": "MTA", "fileFormat": "JSON"}, false, "json", 1},
		{"key_value zip", map[string]any{"type": "MTA", "fileFormat": "key_value", "compress": true}, true, "log", 1},
		{"no fileFormat means key_value, plain", map[string]any{"type": "MTA"}, false, "log", 1},
		{"three files per zip", map[string]any{"type": "MTA", "fileFormat": "json", "compress": true}, true, "json", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, mimecastsim.Options{RecordsPerFile: 60, V1FilesPerZip: tc.perReply})
			e.sim.Generate("Acme", model.StreamSIEM, 700)
			got := map[string]int{}
			token, calls := "", 0
			for {
				item := map[string]any{}
				for k, v := range tc.item {
					item[k] = v
				}
				if token != "" {
					item["token"] = token
				}
				r := e.siemV1(t, acme, item)
				calls++
				if r.status != http.StatusOK {
					t.Fatalf("HTTP %d %s", r.status, r.body)
				}
				if strings.HasPrefix(r.contentType, "application/json") {
					var env envelope
					if err := json.Unmarshal(r.body, &env); err != nil || !env.Meta.IsLastToken || len(env.Fail) != 0 || len(env.Data) != 0 {
						t.Fatalf("end of data reply %s", r.body)
					}
					break
				}
				if r.contentType != "application/octet-stream" || r.token == "" || r.token == token {
					t.Fatalf("file reply: content type %q, token %q (previous %q)", r.contentType, r.token, token)
				}
				token = r.token
				members := map[string][]byte{r.fileName: r.body}
				if tc.zipped {
					if !strings.HasSuffix(r.fileName, ".zip") {
						t.Fatalf("zip named %q", r.fileName)
					}
					members = unzipAll(t, r.body)
					if len(members) > tc.perReply {
						t.Fatalf("%d members, want at most %d", len(members), tc.perReply)
					}
				}
				for name, file := range members {
					if !v1MemberName.MatchString(name) || !strings.HasSuffix(name, "."+tc.ext) {
						t.Fatalf("file name %q does not follow <type>_<yyyyMMddHHmmssSSS>.%s", name, tc.ext)
					}
					for _, rec := range v1Records(t, name, file) {
						id, _ := rec["aCode"].(string)
						got[id]++
						if _, ok := rec["datetime"]; !ok {
							t.Fatalf("%s: record without datetime: %v", name, rec)
						}
					}
				}
			}
			diffIDs(t, wantIDs(e.sim, "Acme", ""), got)
			if e.sim.Requests()[0].Account != "Acme" {
				t.Errorf("request log account %q, want Acme", e.sim.Requests()[0].Account)
			}
			// The drained reply keeps the cursor: more data later is served
			// from the same token.
			e.clock.Advance(time.Minute)
			e.sim.GenerateSIEM("Acme", model.LogAV, 5)
			item := map[string]any{"token": token}
			for k, v := range tc.item {
				item[k] = v
			}
			if r := e.siemV1(t, acme, item); r.contentType != "application/octet-stream" {
				t.Errorf("after new data: content type %q, want a file", r.contentType)
			}
		})
	}
}

func TestSIEMV1_RefusesInvalidAndStaleTokens(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 100})
	e.sim.Generate("Acme", model.StreamSIEM, 300)
	e.sim.Generate("Globex", model.StreamSIEM, 300)
	first := e.siemV1(t, globex, map[string]any{"fileFormat": "json", "compress": true})
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"garbage", "not-a-token"},
		{"another account's token", first.token},
		{"truncated", first.token[:len(first.token)-3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.siemV1(t, acme, map[string]any{"fileFormat": "json", "compress": true, "token": tc.token})
			var env envelope
			if err := json.Unmarshal(r.body, &env); err != nil || r.status != http.StatusOK || env.failCode() != "err_audit_siem_invalid_token" {
				t.Errorf("HTTP %d %s, want 200 with err_audit_siem_invalid_token", r.status, r.body)
			}
		})
	}
	t.Run("token older than the retention", func(t *testing.T) {
		own := e.siemV1(t, acme, map[string]any{"fileFormat": "json", "compress": true})
		e.clock.Advance(8 * 24 * time.Hour)
		e.sim.GenerateSIEM("Acme", model.LogReceipt, 10)
		r := e.siemV1(t, acme, map[string]any{"fileFormat": "json", "compress": true, "token": own.token})
		var env envelope
		json.Unmarshal(r.body, &env)
		if env.failCode() != "err_audit_siem_invalid_token" {
			t.Errorf("stale token: %s", r.body)
		}
		r = e.siemV1(t, acme, map[string]any{"fileFormat": "json", "compress": true})
		recs := v1Records(t, "x.json", unzipAll(t, r.body)[strings.TrimSuffix(r.fileName, ".zip")+".json"])
		if len(recs) != 10 {
			t.Errorf("without a token: %d records, want only the 10 retained", len(recs))
		}
	})
	t.Run("bad fileFormat", func(t *testing.T) {
		r := e.siemV1(t, acme, map[string]any{"fileFormat": "csv"})
		var env envelope
		json.Unmarshal(r.body, &env)
		if env.failCode() == "" || len(env.Fail[0].Key) == 0 {
			t.Errorf("bad fileFormat: %s, want fail[] echoing the request", r.body)
		}
	})
}

func TestSIEM_OneQueueServesBothGenerations(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 25})
	e.sim.GenerateSIEM("Acme", model.LogSpam, 50)
	tok := e.token(t, acme)
	urls, _ := e.batchAll(t, tok, url.Values{})
	v2 := map[string]map[string]any{}
	for _, u := range urls {
		for _, line := range ndjsonLines(t, readAll(t, e.download(t, u))) {
			var m map[string]any
			json.Unmarshal(line, &m)
			v2[m["aggregateId"].(string)] = m
		}
	}
	r := e.siemV1(t, acme, map[string]any{"fileFormat": "json"})
	recs := v1Records(t, r.fileName, r.body)
	if !strings.HasPrefix(r.fileName, "spameventthread_") || len(recs) != 25 {
		t.Fatalf("1.0 file %q with %d records", r.fileName, len(recs))
	}
	for _, rec := range recs {
		m := v2[rec["aCode"].(string)]
		if m == nil || m["type"] != "spam" || m["senderEnvelope"] != rec["Sender"] || m["recipients"] != rec["Recipient"] {
			t.Fatalf("1.0 record %v does not match its 2.0 form %v", rec, m)
		}
	}
}

func TestRenderOnDemandServesTheSameBytes(t *testing.T) {
	files := func(opts mimecastsim.Options) [][]byte {
		e := newEnv(t, opts)
		e.sim.Generate("Acme", model.StreamSIEM, 300)
		p, _ := e.batch(t, e.token(t, acme), url.Values{"pageSize": {"100"}})
		var out [][]byte
		for _, v := range p.Value {
			body := readAll(t, e.download(t, v.URL))
			if len(body) != v.Size {
				t.Fatalf("listed size %d, downloaded %d bytes", v.Size, len(body))
			}
			out = append(out, body)
		}
		return out
	}
	kept := files(mimecastsim.Options{RecordsPerFile: 40})
	onDemand := files(mimecastsim.Options{RecordsPerFile: 40, RenderOnDemand: true})
	if len(kept) == 0 || len(kept) != len(onDemand) {
		t.Fatalf("%d and %d files", len(kept), len(onDemand))
	}
	for i := range kept {
		if !bytes.Equal(kept[i], onDemand[i]) {
			t.Fatalf("file %d differs when rendered on demand", i)
		}
	}
}
