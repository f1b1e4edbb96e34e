package mimecast

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// anyTime parses a sample time with the standard library, as an oracle
// independent of the decoder: +0000, +00:00 and Z forms.
func anyTime(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339Nano} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm
		}
	}
	t.Fatalf("unparseable sample time %q", s)
	return time.Time{}
}

// strMember returns a top-level string member of a JSON object, or "".
func strMember(t *testing.T, raw []byte, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	s, _ := m[key].(string)
	return s
}

// apiPageBody wraps records as data[0].<wrapper>[] of an /api response.
func apiPageBody(wrapper string, records [][]byte, next string) string {
	p := `"pageSize":100`
	if next != "" {
		p += `,"next":` + strconv.Quote(next)
	}
	return `{"meta":{"status":200,"pagination":{` + p + `}},"data":[{"` + wrapper + `":[` +
		string(bytes.Join(records, []byte(","))) + `]}],"fail":[]}`
}

// blinkOpsShapeRelease is a held release record in the third shape the
// reference describes (BlinkOps v2 doc): operator {email}, senders
// {address, domain}, a top-level verdict. No public fixture exists.
const blinkOpsShapeRelease = `{"id":"eNpVj0FLw0AQhf-K7NUWkjSp2JsIoiAqeBA8SJnuTNrFZDfsbmyK-N-dbLRub_u-N-_Nzpfo","status":"released","released":"2025-03-04T09:10:11+0000","operator":{"email":"secops@example.com"},"fromEnv":{"address":"news@shop.example.net","domain":"shop.example.net"},"fromHdr":{"address":"news@shop.example.net","domain":"shop.example.net"},"to":[{"address":"ann@example.com","domain":"example.com"}],"subject":"Spring sale","attachments":false,"route":"inbound","size":10240,"policy":"Default Spam Scanning Definition","heldReason":"Spam Policy","verdict":{"spamScore":7,"decision":"spam","risk":"low","categories":[]}}`

func TestGolden_MessageReleaseRecordsInEveryShape(t *testing.T) {
	lines := sampleLines(t, "message-release-logs.jsonl")
	lines = append(lines, []byte(blinkOpsShapeRelease))
	// One elastic fixture record has no released member.
	lines = append(lines, []byte(`{"id":"eNoNjt0KgjAYQN9l10HTDCvow-no-time","status":"released","operator":"admin@example.com","subject":"no time"}`))
	e := newEnv(t, model.APIVersion2, nil)
	e.serveToken(t, 1799)
	e.mux.HandleFunc("POST /api/gateway/get-held-release-logs", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(apiPageBody("heldReleaseLogs", lines, "p2")))
	})
	fn, got := collector()
	page, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamMessageRelease, Start: e.clock.now().Add(-time.Hour)}, fn)
	if err != nil {
		t.Fatal(err)
	}
	if page.Next != "p2" || page.Stats != (DecodeStats{Records: len(lines)}) {
		t.Errorf("page = %+v", page)
	}
	checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
		if r.Raw != string(line) {
			t.Errorf("record %d: Raw is not the original bytes", i)
		}
		if r.Stream != model.StreamMessageRelease || r.LogType != model.LogMessageRelease {
			t.Errorf("record %d: %s/%s", i, r.Stream, r.LogType)
		}
		want := time.Time{}
		if s := strMember(t, line, "released"); s != "" {
			want = anyTime(t, s)
		}
		if !r.Time.Equal(want) {
			t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
		}
		if wantID := strMember(t, line, "id"); r.ID != wantID || wantID == "" {
			t.Errorf("record %d: ID = %q, want %q", i, r.ID, wantID)
		}
	})
}

func TestGolden_ArchiveSearchDeliversIdenticalTwins(t *testing.T) {
	lines := sampleLines(t, "archive-search-logs.jsonl")
	// Two identical searches in the same second (as in elastic's fixture).
	lines = append(lines[:1], append([][]byte{lines[0]}, lines[1:]...)...)
	e := newEnv(t, model.APIVersion1, nil)
	e.mux.HandleFunc("POST /api/archive/get-archive-search-logs", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(apiPageBody("logs", lines, "")))
	})
	fn, got := collector()
	page, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamArchiveSearch, Start: e.clock.now().Add(-time.Hour)}, fn)
	if err != nil {
		t.Fatal(err)
	}
	if page.Next != "" || page.Stats.Records != 4 {
		t.Errorf("page = %+v, want 4 records and no next", page)
	}
	checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
		if r.Stream != model.StreamArchiveSearch || r.LogType != model.LogArchiveSearch || r.ID != "" {
			t.Errorf("record %d: %s/%s id %q", i, r.Stream, r.LogType, r.ID)
		}
		if want := anyTime(t, strMember(t, line, "createTime")); !r.Time.Equal(want) {
			t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
		}
	})
	if (*got)[0] != (*got)[1] {
		t.Errorf("the twins differ: %+v / %+v", (*got)[0], (*got)[1])
	}
}

func TestLogs_NewStreamsSendStartAndEnd(t *testing.T) {
	start := time.Date(2024, 11, 17, 10, 0, 0, 0, time.UTC)
	end := time.Date(2024, 11, 18, 9, 0, 0, 0, time.UTC)
	for stream, path := range map[model.Stream]string{
		model.StreamMessageRelease: "/api/gateway/get-held-release-logs",
		model.StreamArchiveSearch:  "/api/archive/get-archive-search-logs",
	} {
		t.Run(string(stream), func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			e.mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				want := `{"meta":{"pagination":{"pageSize":50}},"data":[{"start":"2024-11-17T10:00:00+0000","end":"2024-11-18T09:00:00+0000"}]}`
				if !jsonEqual(t, string(body), want) {
					t.Errorf("body = %s\nwant   %s", body, want)
				}
				w.Write([]byte(`{"meta":{"status":200},"data":[],"fail":[]}`))
			})
			if _, err := e.client.Logs(t.Context(), LogQuery{Stream: stream, Start: start, End: end, PageSize: 50}, func(*model.Record) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// stixIndicator is an indicator of a sample bundle, read with encoding/json.
type stixIndicator struct {
	raw      map[string]any
	id       string
	modified time.Time
	sha256   string
}

var patternHash = regexp.MustCompile(`'SHA-256' = '([0-9a-f]{64})'`)

// sampleIndicators lists a bundle's indicators and, per indicator id, the
// name of the malware its relationship points at (when the bundle has one).
func sampleIndicators(t *testing.T, bundle []byte) ([]stixIndicator, map[string]string) {
	t.Helper()
	var b struct{ Objects []map[string]any }
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	names, links := map[string]string{}, map[string]string{}
	var inds []stixIndicator
	for _, o := range b.Objects {
		switch o["type"] {
		case "malware":
			names[o["id"].(string)] = o["name"].(string)
		case "relationship":
			links[o["source_ref"].(string)] = o["target_ref"].(string)
		case "indicator":
			m := patternHash.FindStringSubmatch(o["pattern"].(string))
			if m == nil {
				t.Fatalf("sample pattern %q", o["pattern"])
			}
			inds = append(inds, stixIndicator{raw: o, id: o["id"].(string), modified: anyTime(t, o["modified"].(string)), sha256: m[1]})
		}
	}
	malware := map[string]string{}
	for ind, mal := range links {
		if name, ok := names[mal]; ok {
			malware[ind] = name
		}
	}
	return inds, malware
}

// serveThreatIntel answers get-feed with body and, if next is set, the
// next-token header; it records the request bodies.
func serveThreatIntel(t *testing.T, e *testEnv, status int, body []byte, next string) *[]string {
	var requests []string
	e.mux.HandleFunc("POST /api/ttp/threat-intel/get-feed", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		requests = append(requests, string(b))
		if next != "" {
			w.Header().Set("X-Mc-Threat-Feed-Next-Token", next)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	})
	return &requests
}

func TestGolden_ThreatIntelBundlesGiveOneRecordPerIndicator(t *testing.T) {
	for _, tc := range []struct {
		file     string
		feed     model.Stream
		feedType string
		named    int // indicators whose relationship is in the bundle
	}{
		{"threat-intel-malware-customer.json", model.StreamThreatIntelCustomer, "malware_customer", 2},
		// The grid sample's last relationship arrives on the next page.
		{"threat-intel-malware-grid.json", model.StreamThreatIntelGrid, "malware_grid", 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			bundle := readFile(t, "testdata/responses/"+tc.file)
			inds, malware := sampleIndicators(t, bundle)
			if len(malware) != tc.named {
				t.Fatalf("sample has %d linked indicators, test expects %d", len(malware), tc.named)
			}
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			serveThreatIntel(t, e, 200, bundle, "nexttoken")
			fn, got := collector()
			next, stats, err := e.client.ThreatIntel(t.Context(), tc.feed, e.clock.now().Add(-time.Hour), time.Time{}, "", fn)
			if err != nil {
				t.Fatal(err)
			}
			if next != "nexttoken" || stats != (DecodeStats{Records: len(inds)}) {
				t.Errorf("next %q, stats %+v; want nexttoken and %d records", next, stats, len(inds))
			}
			if len(*got) != len(inds) {
				t.Fatalf("%d records, want %d", len(*got), len(inds))
			}
			for i, ind := range inds {
				r := (*got)[i]
				if r.Stream != tc.feed || r.LogType != model.LogThreatIntelMalware || r.ID != ind.id || !r.Time.Equal(ind.modified) {
					t.Errorf("record %d: %s/%s id %q time %v; want id %q time %v", i, r.Stream, r.LogType, r.ID, r.Time, ind.id, ind.modified)
				}
				want := map[string]any{"sha256": ind.sha256, "feed_type": tc.feedType}
				for k, v := range ind.raw {
					want[k] = v
				}
				if name, ok := malware[ind.id]; ok {
					want["malware_name"] = name
				}
				wantJSON, _ := json.Marshal(want)
				if !jsonEqual(t, r.Raw, string(wantJSON)) {
					t.Errorf("record %d: Raw\n got %s\nwant %s", i, r.Raw, wantJSON)
				}
			}
		})
	}
}

func TestThreatIntel_RequestsAndPaging(t *testing.T) {
	start := time.Date(2024, 11, 17, 10, 0, 0, 0, time.UTC)
	end := time.Date(2024, 11, 18, 9, 0, 0, 0, time.UTC)
	bundle := readFile(t, "testdata/responses/threat-intel-malware-customer.json")
	tests := []struct {
		name        string
		start, end  time.Time
		token       string
		status      int
		body        []byte
		header      string
		wantRequest string
		wantNext    string
		wantRecords int
		wantErr     error
	}{
		{name: "first page sends the window", start: start, end: end, status: 200, body: bundle, header: "t2",
			wantRequest: `{"data":[{"feedType":"malware_customer","fileType":"stix","start":"2024-11-17T10:00:00+0000","end":"2024-11-18T09:00:00+0000"}]}`,
			wantNext:    "t2", wantRecords: 2},
		{name: "zero end means now, zero start is left to Mimecast", status: 200, body: bundle,
			wantRequest: `{"data":[{"feedType":"malware_customer","fileType":"stix","end":"2024-11-18T10:00:00+0000"}]}`,
			wantRecords: 2},
		{name: "next page sends only the token", start: start, end: end, token: "t2", status: 200, body: bundle, header: "t3",
			wantRequest: `{"data":[{"feedType":"malware_customer","fileType":"stix","token":"t2"}]}`,
			wantNext:    "t3", wantRecords: 2},
		{name: "a header repeating the token ends the listing", token: "t2", status: 200, body: bundle, header: "t2",
			wantRequest: `{"data":[{"feedType":"malware_customer","fileType":"stix","token":"t2"}]}`, wantRecords: 2},
		{name: "no results on HTTP 200 is an empty last page", start: start, status: 200, header: "stale",
			body:        readFile(t, "testdata/responses/v2-threat-intel-no-result.json"),
			wantRequest: `{"data":[{"feedType":"malware_customer","fileType":"stix","start":"2024-11-17T10:00:00+0000","end":"2024-11-18T10:00:00+0000"}]}`},
		{name: "an empty bundle ends the listing", start: start, status: 200, header: "t9",
			body:        []byte(`{"type":"bundle","id":"bundle--1","spec_version":"2.0","objects":[]}`),
			wantRequest: `{"data":[{"feedType":"malware_customer","fileType":"stix","start":"2024-11-17T10:00:00+0000","end":"2024-11-18T10:00:00+0000"}]}`},
		{name: "another fail[] on HTTP 200 is an error", status: 200,
			body:    []byte(`{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_validation_invalid_value","message":"bad date","retryable":false}]}]}`),
			wantErr: ErrRejected},
		{name: "403 is a licence or permission error", status: 403, body: readFile(t, "testdata/responses/v2-403-app-forbidden.json"), wantErr: ErrPermission},
		{name: "a zip instead of JSON is a bad response", status: 200, body: []byte("PK\x03\x04 compressed feed"), wantErr: ErrBadResponse},
		{name: "a truncated bundle is a bad response", status: 200, body: bundle[:len(bundle)/2], wantErr: ErrBadResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			reqs := serveThreatIntel(t, e, tc.status, tc.body, tc.header)
			fn, got := collector()
			next, stats, err := e.client.ThreatIntel(t.Context(), model.StreamThreatIntelCustomer, tc.start, tc.end, tc.token, fn)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if errors.Is(err, ErrPermission) && !strings.Contains(err.Error(), "not licensed or no permission for the Threat Intel feed") {
					t.Errorf("403 wording: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next != tc.wantNext || len(*got) != tc.wantRecords || stats.Records != tc.wantRecords {
				t.Errorf("next %q, %d records (stats %+v); want %q, %d", next, len(*got), stats, tc.wantNext, tc.wantRecords)
			}
			if len(*reqs) != 1 || !jsonEqual(t, (*reqs)[0], tc.wantRequest) {
				t.Errorf("requests %q\nwant %s", *reqs, tc.wantRequest)
			}
		})
	}
	e := newEnv(t, model.APIVersion2, nil)
	if _, _, err := e.client.ThreatIntel(t.Context(), model.StreamAudit, start, end, "", nil); err == nil {
		t.Error("ThreatIntel accepted the audit stream")
	}
}

// stixObj renders a STIX object for hand-made bundles.
func stixObj(typ, id string, kv ...string) string {
	m := map[string]string{"type": typ, "id": id, "created": "2024-11-18T16:08:27.231Z", "modified": "2024-11-18T16:08:27.231Z"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func indicatorObj(id string, hash byte) string {
	return stixObj("indicator", id, "pattern", fmt.Sprintf("[file:hashes.'SHA-256' = '%s']", strings.Repeat(string(hash), 64)))
}

func relObj(id, from, to string) string {
	return stixObj("relationship", id, "relationship_type", "indicates", "source_ref", from, "target_ref", to)
}

func TestThreatIntel_LinksIndicatorsWhateverTheObjectOrder(t *testing.T) {
	objects := []string{
		relObj("relationship--1", "indicator--a", "malware--a"), // link first
		indicatorObj("indicator--a", 'a'),
		stixObj("malware", "malware--a", "name", "invoice.html"), // malware last
		stixObj("malware", "malware--b", "name", "dropper.exe"),
		indicatorObj("indicator--b", 'B'), // upper-case hex is normalised
		relObj("relationship--2", "indicator--b", "malware--b"),
		indicatorObj("indicator--c", 'c'), // never linked
		stixObj("identity", "identity--x", "name", "not a record"),
		`"not an object"`,
		stixObj("indicator", "indicator--d", "pattern", "[url:value = 'http://x.example']", "modified", "bad", "created", "2024-11-19T00:00:00Z"),
	}
	bundle := `{"objects":[` + strings.Join(objects, ",") + `],"type":"bundle"}`
	e := newEnv(t, model.APIVersion2, nil)
	e.serveToken(t, 1799)
	serveThreatIntel(t, e, 200, []byte(bundle), "")
	fn, got := collector()
	_, stats, err := e.client.ThreatIntel(t.Context(), model.StreamThreatIntelGrid, time.Time{}, time.Time{}, "", fn)
	if err != nil {
		t.Fatal(err)
	}
	if stats != (DecodeStats{Records: 4, Malformed: 1}) {
		t.Errorf("stats %+v, want 4 records and 1 malformed", stats)
	}
	want := []struct{ id, sha, malware string }{
		{"indicator--a", strings.Repeat("a", 64), "invoice.html"},
		{"indicator--b", strings.Repeat("b", 64), "dropper.exe"},
		{"indicator--c", strings.Repeat("c", 64), "-"},
		{"indicator--d", "-", "-"},
	}
	if len(*got) != len(want) {
		t.Fatalf("%d records, want %d", len(*got), len(want))
	}
	for i, w := range want {
		var m map[string]any
		if err := json.Unmarshal([]byte((*got)[i].Raw), &m); err != nil {
			t.Fatal(err)
		}
		str := func(k string) string {
			if v, ok := m[k].(string); ok {
				return v
			}
			return "-"
		}
		if (*got)[i].ID != w.id || str("sha256") != w.sha || str("malware_name") != w.malware || str("feed_type") != "malware_grid" {
			t.Errorf("record %d: id %q %s", i, (*got)[i].ID, (*got)[i].Raw)
		}
	}
	if d := (*got)[3].Time; !d.Equal(time.Date(2024, 11, 19, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("unreadable modified: Time = %v, want created", d)
	}
}

func TestThreatIntel_ManyUnlinkedIndicatorsStreamInOrder(t *testing.T) {
	const n = maxPendingIndicators*2 + 7
	var first, rest strings.Builder
	first.WriteString(`{"type":"bundle","objects":[`)
	for i := range n {
		b := &first
		if i >= n-5 {
			b = &rest
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(indicatorObj(fmt.Sprintf("indicator--%05d", i), 'e'))
	}
	rest.WriteString(`]}`)
	e := newEnv(t, model.APIVersion2, nil)
	e.serveToken(t, 1799)
	delivered := make(chan struct{})
	streamed := true
	e.mux.HandleFunc("POST /api/ttp/threat-intel/get-feed", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(first.String()))
		w.(http.Flusher).Flush()
		// The end of the bundle is held back until records were delivered:
		// indicators without relationships must not wait for it.
		select {
		case <-delivered:
		case <-time.After(10 * time.Second):
			streamed = false
		}
		w.Write([]byte(rest.String()))
	})
	var ids []string
	_, _, err := e.client.ThreatIntel(t.Context(), model.StreamThreatIntelCustomer, time.Time{}, time.Time{}, "", func(r *model.Record) error {
		if len(ids) == 0 {
			close(delivered)
		}
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !streamed {
		t.Error("no record was delivered before the whole bundle arrived")
	}
	if len(ids) != n {
		t.Fatalf("%d records, want %d", len(ids), n)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("indicator--%05d", i); id != want {
			t.Fatalf("record %d is %s, want %s", i, id, want)
		}
	}
}

func TestThreatIntel_CallbackErrorStopsAndIsReturned(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	e.serveToken(t, 1799)
	serveThreatIntel(t, e, 200, readFile(t, "testdata/responses/threat-intel-malware-customer.json"), "n")
	stop := errors.New("stop")
	calls := 0
	_, _, err := e.client.ThreatIntel(t.Context(), model.StreamThreatIntelCustomer, time.Time{}, time.Time{}, "", func(*model.Record) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("err = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestPatternSHA256(t *testing.T) {
	h := strings.Repeat("0123456789abcdef", 4)
	for pattern, want := range map[string]string{
		"[file:hashes.'SHA-256' = '" + h + "']":                              h,
		`[file:hashes."SHA-256"='` + strings.ToUpper(h) + `']`:               h,
		"[file:hashes.SHA256 = '" + h + "']":                                 h,
		"[file:hashes.MD5 = 'abc'] OR [file:hashes.'SHA-256' = '" + h + "']": h,
		"[file:hashes.'SHA-256' = '" + h[:63] + "']":                         "",
		"[file:hashes.'SHA-256' = '" + h[:63] + "g']":                        "",
		"[url:value = 'http://example.com']":                                 "",
		"":                                                                   "",
		"[file:hashes.'SHA-256' = ":                                          "",
		"[file:hashes.'SHA-256' = '" + h + "' AND file:name = 'a.exe']":      h,
	} {
		if got := patternSHA256(pattern); got != want {
			t.Errorf("patternSHA256(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// ciIdentityOracle computes the Cloud Integrated identity with
// encoding/json, independently of the decoder's field scanner.
func ciIdentityOracle(t *testing.T, line []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, k := range []string{"messageId", "processingId", "aggregateId", "accountId", "timestamp", "action", "type", "subtype"} {
		v, ok := m[k]
		var s string
		switch {
		case !ok:
			b = append(b, 0)
		case v[0] == '"' && json.Unmarshal(v, &s) == nil:
			b = append(append(b, 's'), s...)
		default:
			b = append(append(b, 'r'), v...)
		}
		b = append(b, 0xff)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func TestGolden_CISamplesDecodeFromBatchFiles(t *testing.T) {
	for _, tc := range []struct{ file, logType string }{
		{"siem-ci-entities.jsonl", model.LogCIEntities},
		{"siem-ci-mailflow.jsonl", model.LogCIMailflow},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			lines := sampleLines(t, tc.file)
			f := serveFile(e, "ci.json.gz", gzipBytes(t, append(bytes.Join(lines, []byte("\n")), '\n')))
			// The requested type is only a fallback: the records say theirs.
			f.LogType = model.LogCIURLClick
			fn, got := collector()
			stats, err := e.client.DownloadSIEMFile(t.Context(), f, fn)
			if err != nil || stats != (DecodeStats{Records: len(lines)}) {
				t.Fatalf("DownloadSIEMFile: %+v, %v", stats, err)
			}
			ids := map[string]bool{}
			checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
				if r.Raw != string(line) {
					t.Errorf("record %d: Raw is not the original line", i)
				}
				if r.Stream != model.StreamSIEMCI || r.LogType != tc.logType {
					t.Errorf("record %d: %s/%s, want siem_ci/%s", i, r.Stream, r.LogType, tc.logType)
				}
				if want := expectedTime(t, line, "timestamp", true); !r.Time.Equal(want) {
					t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
				}
				if want := ciIdentityOracle(t, line); r.ID != want || ids[r.ID] {
					t.Errorf("record %d: ID = %q, want %q, distinct", i, r.ID, want)
				}
				ids[r.ID] = true
			})
		})
	}
}

func TestCIIdentity_StableAcrossSpellingsAndSensitiveToEachMember(t *testing.T) {
	base := `{"accountId":"AUS2474","aggregateId":"agg_1","messageId":"<m/1@x>","processingId":"p_1","timestamp":1732660000405,"type":"urlclick","subtype":null,"action":"BLOCK","originalUrl":"https://a.example"}`
	id := func(rec string) string {
		d, _ := testDecoder(kindCI, 1<<20)
		if err := scanRecord([]byte(rec), &d.fields); err != nil {
			t.Fatal(err)
		}
		return d.ciIdentity([]byte(rec))
	}
	want := id(base)
	same := []string{
		// other key order, escaped slash, other non-identity members
		`{"type":"urlclick","action":"BLOCK","subtype":null,"timestamp":1732660000405,"processingId":"p_1","messageId":"<m\/1@x>","aggregateId":"agg_1","accountId":"AUS2474","originalUrl":"https://b.example"}`,
	}
	for _, rec := range same {
		if got := id(rec); got != want {
			t.Errorf("ID of %s = %s, want %s", rec, got, want)
		}
	}
	for _, change := range [][2]string{
		{`"accountId":"AUS2474"`, `"accountId":"AUS2475"`},
		{`"aggregateId":"agg_1"`, `"aggregateId":"agg_2"`},
		{`"messageId":"<m/1@x>"`, `"messageId":"<m/2@x>"`},
		{`"processingId":"p_1"`, `"processingId":"p_2"`},
		{`1732660000405`, `1732660000406`},
		{`"type":"urlclick"`, `"type":"entities"`},
		{`"subtype":null`, `"subtype":"null"`},
		{`"subtype":null,`, ``},
		{`"action":"BLOCK"`, `"action":"ALLOW"`},
	} {
		rec := strings.Replace(base, change[0], change[1], 1)
		if got := id(rec); got == want {
			t.Errorf("changing %s to %s kept the ID", change[0], change[1])
		}
	}
}

func TestSIEMBatchCI_SendsQueryAndReadsPage(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	e.serveToken(t, 1799)
	page1 := strings.Replace(string(readFile(t, "testdata/responses/v2-siem-ci-batch-page.json")), "http://svc-mimecast:8080", e.srv.URL, 1)
	var queries []string
	e.mux.HandleFunc("GET /siem/v1/batch/events/ci", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		if r.URL.Query().Get("nextPage") == "" {
			w.Write([]byte(page1))
			return
		}
		w.Write(readFile(t, "testdata/responses/v2-siem-ci-batch-caught-up.json"))
	})
	page, err := e.client.SIEMBatchCI(t.Context(), "entities", time.Date(2024, 11, 17, 23, 0, 0, 0, time.UTC), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantFile := BatchFile{URL: e.srv.URL + "/siemblob/ent", Size: 629, Expiry: time.Date(2024, 11, 19, 2, 14, 4, 839e6, time.UTC), LogType: model.LogCIEntities}
	if len(page.Files) != 1 || page.Files[0] != wantFile || page.NextPage != "nexttoken" || page.CaughtUp {
		t.Errorf("page = %+v", page)
	}
	last, err := e.client.SIEMBatchCI(t.Context(), "ci_mailflow", time.Time{}, "nexttoken", 10)
	if err != nil || !last.CaughtUp || len(last.Files) != 0 {
		t.Errorf("last page = %+v, %v", last, err)
	}
	want := []string{"dateRangeStartsAt=2024-11-17&pageSize=100&type=entities", "nextPage=nexttoken&pageSize=10&type=mailflow"}
	if strings.Join(queries, " ") != strings.Join(want, " ") {
		t.Errorf("queries %q, want %q", queries, want)
	}
	if _, err := e.client.SIEMBatchCI(t.Context(), "receipt", time.Time{}, "", 0); err == nil {
		t.Error("a CG type was accepted as a CI type")
	}
	e1 := newEnv(t, model.APIVersion1, nil)
	if _, err := e1.client.SIEMBatchCI(t.Context(), "entities", time.Time{}, "", 0); err == nil {
		t.Error("API 1.0 client listed CI batch files")
	}
}

func TestSIEMBatchCI_403IsALicenceError(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	e.serveToken(t, 1799)
	e.mux.HandleFunc("GET /siem/v1/batch/events/ci", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write(readFile(t, "testdata/responses/v2-403-app-forbidden.json"))
	})
	err := e.client.CheckStream(t.Context(), model.StreamSIEMCI)
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "not licensed or no permission for Cloud Integrated SIEM logs") {
		t.Errorf("err = %v", err)
	}
}

// awarenessServer serves the Awareness Training endpoints from fixed rows,
// pageSize rows per page, and records the request bodies per path.
type awarenessServer struct {
	t        *testing.T
	pageSize int
	rows     map[string][]string // path (or user-data path + "#" + campaign id) -> rows
	requests map[string][]string
}

func (a *awarenessServer) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.requests[r.URL.Path] = append(a.requests[r.URL.Path], string(body))
	var req struct {
		Meta struct {
			Pagination struct {
				PageSize  int    `json:"pageSize"`
				PageToken string `json:"pageToken"`
			} `json:"pagination"`
		} `json:"meta"`
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		a.t.Errorf("%s: body %s: %v", r.URL.Path, body, err)
	}
	key := r.URL.Path
	userData := strings.HasSuffix(key, "/get-user-data")
	if userData {
		key += "#" + req.Data[0].ID
	}
	rows := a.rows[key]
	off, _ := strconv.Atoi(req.Meta.Pagination.PageToken)
	end := min(off+a.pageSize, len(rows))
	page := rows[off:end]
	next := ""
	if end < len(rows) {
		next = `,"next":"` + strconv.Itoa(end) + `"`
	}
	data := "[" + strings.Join(page, ",") + "]"
	if userData {
		data = `[{"items":` + data + `}]`
	}
	w.Write([]byte(`{"meta":{"status":200,"pagination":{"pageSize":` + strconv.Itoa(a.pageSize) + next + `}},"data":` + data + `,"fail":[]}`))
}

func TestAwareness_PagesThroughEveryKind(t *testing.T) {
	const base = "/api/awareness-training/"
	safe := []string{
		`{"emailAddress":"ann@example.com","name":"Ann","department":"Sales","risk":"A","humanError":"Low","sentiment":"Positive","engagement":"B","knowledge":"A","userState":"active"}`,
		`{"emailAddress":"bob@example.com","name":"Bob","department":"IT","risk":"F","humanError":"High","sentiment":"Negative","engagement":"D","knowledge":"C","userState":"active"}`,
		`{"emailAddress":"cy@example.com","name":"Cy","department":"HR","risk":"C","humanError":"Medium","sentiment":"Neutral","engagement":"C","knowledge":"B","userState":"inactive"}`,
	}
	perf := []string{`{"email":"ann@example.com","name":"Ann","department":"Sales","numCorrect":4,"numIncorrect":1,"numNotWatched":0,"userDetails":{"title":"Rep"},"userState":"active"}`}
	watch := []string{`{"email":"bob@example.com","name":"Bob","department":"IT","watchlistCount":3,"userState":"active"}`}
	campaigns := []string{`{"id":"c1","name":"Invoice lure","launchDate":"2025-01-02T10:00:00+0000"}`, `{"id":"c2","name":"Parcel lure","launchDate":"2025-02-02T10:00:00+0000"}`, `{"id":"c3","name":"Empty","launchDate":"2025-03-02T10:00:00+0000"}`}
	user := func(email, status string) string {
		return `{"name":"X","email":"` + email + `","department":"D","templateName":"T","status":"` + status + `","userState":"active","clickedIp":"198.51.100.7","numCampaignsSent":1,"timeClicked":"2025-01-02T11:00:00+0000"}`
	}
	srv := &awarenessServer{t: t, pageSize: 2, requests: map[string][]string{}, rows: map[string][]string{
		base + "company/get-safe-score-details":     safe,
		base + "company/get-performance-details":    perf,
		base + "company/get-watchlist-details":      watch,
		base + "phishing/campaign/get-campaign":     campaigns,
		base + "phishing/campaign/get-user-data#c1": {user("ann@example.com", "clicked"), user("bob@example.com", "reported"), user("cy@example.com", "sent")},
		base + "phishing/campaign/get-user-data#c2": {user("ann@example.com", "sent")},
	}}
	e := newEnv(t, model.APIVersion1, nil)
	e.mux.HandleFunc("POST "+base, srv.handle)

	for _, tc := range []struct {
		kind    string
		logType string
		rows    []string
		ids     []string
	}{
		{"safe_score", model.LogAwarenessSafeScore, safe, []string{"ann@example.com", "bob@example.com", "cy@example.com"}},
		{"performance", model.LogAwarenessPerf, perf, []string{"ann@example.com"}},
		{"watchlist", model.LogAwarenessWatchlist, watch, []string{"bob@example.com"}},
	} {
		fn, got := collector()
		stats, err := e.client.Awareness(t.Context(), tc.kind, fn)
		if err != nil || stats.Records != len(tc.rows) {
			t.Fatalf("%s: %+v, %v", tc.kind, stats, err)
		}
		for i, r := range *got {
			if r.Stream != model.StreamAwarenessTraining || r.LogType != tc.logType || !r.Time.IsZero() || r.ID != tc.ids[i] || r.Raw != tc.rows[i] {
				t.Errorf("%s row %d: %+v", tc.kind, i, r)
			}
		}
	}
	fn, got := collector()
	stats, err := e.client.Awareness(t.Context(), "phishing_user", fn)
	if err != nil || stats.Records != 4 {
		t.Fatalf("phishing_user: %+v, %v", stats, err)
	}
	wantIDs := []string{"ann@example.com|c1", "bob@example.com|c1", "cy@example.com|c1", "ann@example.com|c2"}
	for i, r := range *got {
		var m map[string]any
		json.Unmarshal([]byte(r.Raw), &m)
		camp := strings.Split(wantIDs[i], "|")[1]
		wantName := map[string]string{"c1": "Invoice lure", "c2": "Parcel lure"}[camp]
		if r.LogType != model.LogAwarenessPhishing || r.ID != wantIDs[i] || m["campaignId"] != camp || m["campaignName"] != wantName || m["clickedIp"] != "198.51.100.7" {
			t.Errorf("phishing row %d: %+v", i, r)
		}
	}

	// Request bodies: Sentinel's page size, the performance flag, the
	// campaign id, the page token on later pages.
	for path, want := range map[string][]string{
		base + "company/get-safe-score-details":  {`{"meta":{"pagination":{"pageSize":500}}}`, `{"meta":{"pagination":{"pageSize":500,"pageToken":"2"}}}`},
		base + "company/get-performance-details": {`{"meta":{"pagination":{"pageSize":500}},"data":[{"includeUserDetails":true}]}`},
		base + "phishing/campaign/get-user-data": {`{"meta":{"pagination":{"pageSize":500}},"data":[{"id":"c1"}]}`, `{"meta":{"pagination":{"pageSize":500,"pageToken":"2"}},"data":[{"id":"c1"}]}`,
			`{"meta":{"pagination":{"pageSize":500}},"data":[{"id":"c2"}]}`, `{"meta":{"pagination":{"pageSize":500}},"data":[{"id":"c3"}]}`},
	} {
		reqs := srv.requests[path]
		if len(reqs) != len(want) {
			t.Errorf("%s: %d requests %q, want %d", path, len(reqs), reqs, len(want))
			continue
		}
		for i := range want {
			if !jsonEqual(t, reqs[i], want[i]) {
				t.Errorf("%s request %d = %s, want %s", path, i, reqs[i], want[i])
			}
		}
	}
	if _, err := e.client.Awareness(t.Context(), "quiz", nil); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestAwareness_RefusalAndBrokenPages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"403 is a licence or permission error", 403, string(readFile(t, "testdata/responses/v2-403-app-forbidden.json")), ErrPermission},
		{"fail on HTTP 200", 200, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"app_forbidden","message":"no"}]}]}`, ErrPermission},
		{"truncated page", 200, `{"meta":{"status":200},"data":[{"emailAddress":"a@b"},`, ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			e.mux.HandleFunc("POST /api/awareness-training/", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			for _, kind := range []string{"safe_score", "phishing_user"} {
				_, err := e.client.Awareness(t.Context(), kind, func(*model.Record) error { return nil })
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: err = %v, want %v", kind, err, tc.want)
				}
				if tc.want == ErrPermission && !strings.Contains(err.Error(), "not licensed or no permission for Awareness Training") {
					t.Errorf("%s: 403 wording: %v", kind, err)
				}
			}
			err := e.client.CheckStream(t.Context(), model.StreamAwarenessTraining)
			if !errors.Is(err, tc.want) {
				t.Errorf("CheckStream: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("a listing that never ends", func(t *testing.T) {
		e := newEnv(t, model.APIVersion1, nil)
		requests := 0
		e.mux.HandleFunc("POST /api/awareness-training/", func(w http.ResponseWriter, r *http.Request) {
			requests++
			w.Write([]byte(`{"meta":{"pagination":{"next":"same"}},"data":[{"email":"a@example.com"}],"fail":[]}`))
		})
		_, err := e.client.Awareness(t.Context(), "watchlist", func(*model.Record) error { return nil })
		if !errors.Is(err, ErrBadResponse) || requests != maxAwarenessPages {
			t.Errorf("err = %v after %d requests", err, requests)
		}
	})
}

func TestCheckStream_NewStreams(t *testing.T) {
	forbidden := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write(readFile(t, "testdata/responses/v2-403-app-forbidden.json"))
	}
	empty := func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"meta":{"status":200},"data":[],"fail":[]}`))
	}
	tests := []struct {
		stream  model.Stream
		pattern string
		feature string
	}{
		{model.StreamMessageRelease, "POST /api/gateway/get-held-release-logs", "held message release logs"},
		{model.StreamArchiveSearch, "POST /api/archive/get-archive-search-logs", "archive search logs"},
		{model.StreamThreatIntelCustomer, "POST /api/ttp/threat-intel/get-feed", "the Threat Intel feed"},
		{model.StreamThreatIntelGrid, "POST /api/ttp/threat-intel/get-feed", "the Threat Intel feed"},
		{model.StreamAwarenessTraining, "POST /api/awareness-training/company/get-safe-score-details", "Awareness Training"},
		{model.StreamSIEMCI, "GET /siem/v1/batch/events/ci", "Cloud Integrated SIEM logs"},
	}
	for _, tc := range tests {
		t.Run(string(tc.stream), func(t *testing.T) {
			ok := newEnv(t, model.APIVersion2, nil)
			ok.serveToken(t, 1799)
			var body string
			ok.mux.HandleFunc(tc.pattern, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				body = string(b) + r.URL.RawQuery
				if tc.stream == model.StreamSIEMCI {
					w.Write([]byte(`{"value":[],"@nextPage":"x","isCaughtUp":true}`))
					return
				}
				if strings.Contains(tc.pattern, "threat-intel") {
					w.Write(readFile(t, "testdata/responses/v2-threat-intel-no-result.json"))
					return
				}
				empty(w, r)
			})
			if err := ok.client.CheckStream(t.Context(), tc.stream); err != nil {
				t.Errorf("allowed: %v", err)
			}
			if !strings.Contains(tc.pattern, "threat-intel") && !strings.Contains(body, `"pageSize":1`) && !strings.Contains(body, "pageSize=1") {
				t.Errorf("check asked for more than one record: %s", body)
			}
			refused := newEnv(t, model.APIVersion2, nil)
			refused.serveToken(t, 1799)
			refused.mux.HandleFunc(tc.pattern, forbidden)
			err := refused.client.CheckStream(t.Context(), tc.stream)
			if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "not licensed or no permission for "+tc.feature) {
				t.Errorf("refused: %v", err)
			}
		})
	}
}
