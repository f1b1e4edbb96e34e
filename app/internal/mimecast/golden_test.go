package mimecast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// expectedTime computes a record's own time with the standard library, as
// an oracle independent of the decoder's parser.
func expectedTime(t *testing.T, line []byte, field string, epochMillis bool) time.Time {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("sample is not JSON: %v", err)
	}
	v, ok := m[field]
	if !ok {
		return time.Time{}
	}
	if epochMillis {
		ms, err := v.(json.Number).Int64()
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		return time.UnixMilli(ms)
	}
	tm, err := time.Parse("2006-01-02T15:04:05-0700", v.(string))
	if err != nil {
		t.Fatalf("%s: %v", field, err)
	}
	return tm
}

// expectedPartitionOffset builds "p:o" with encoding/json, or "".
func expectedPartitionOffset(t *testing.T, line []byte) string {
	var m struct {
		P *int64 `json:"_partition"`
		O *int64 `json:"_offset"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if m.P == nil || m.O == nil {
		return ""
	}
	return fmt.Sprintf("%d:%d", *m.P, *m.O)
}

func checkRecords(t *testing.T, got []collected, lines [][]byte, check func(i int, line []byte, r collected)) {
	t.Helper()
	if len(got) != len(lines) {
		t.Fatalf("got %d records, want %d", len(got), len(lines))
	}
	for i, line := range lines {
		if !jsonEqual(t, got[i].Raw, string(line)) {
			t.Errorf("record %d: Raw differs from the sample\n got: %s\nwant: %s", i, got[i].Raw, line)
		}
		check(i, line, got[i])
	}
}

func TestGolden_SIEMv2SamplesDecodeFromBatchFiles(t *testing.T) {
	files := map[string]string{
		"siem-v2-attachment-protect.jsonl":     model.LogAttachmentProtect,
		"siem-v2-av.jsonl":                     model.LogAV,
		"siem-v2-delivery.jsonl":               model.LogDelivery,
		"siem-v2-impersonation-protect.jsonl":  model.LogImpersonationProt,
		"siem-v2-internal-email-protect.jsonl": model.LogInternalEmailProt,
		"siem-v2-journal.jsonl":                model.LogJournal,
		"siem-v2-process.jsonl":                model.LogProcess,
		"siem-v2-receipt.jsonl":                model.LogReceipt,
		"siem-v2-spam.jsonl":                   model.LogSpam,
		"siem-v2-url-protect.jsonl":            model.LogURLProtect,
	}
	for name, logType := range files {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			lines := sampleLines(t, name)
			body := gzipBytes(t, append(bytes.Join(lines, []byte("\n")), '\n'))
			e.mux.HandleFunc("GET /files/f.json.gz", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					t.Error("pre-signed file download carried an Authorization header")
				}
				w.Write(body)
			})
			fn, got := collector()
			// No LogType hint: the type must come from each record.
			stats, err := e.client.DownloadSIEMFile(t.Context(), BatchFile{URL: e.srv.URL + "/files/f.json.gz?X-Amz-Signature=abc"}, fn)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Records != len(lines) || stats.Malformed != 0 {
				t.Errorf("stats = %+v, want %d records", stats, len(lines))
			}
			checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
				if r.Raw != string(line) {
					t.Errorf("record %d: Raw is not the original line", i)
				}
				if r.Stream != model.StreamSIEM || r.LogType != logType {
					t.Errorf("record %d: stream/log type = %s/%s, want siem/%s", i, r.Stream, r.LogType, logType)
				}
				if want := expectedTime(t, line, "timestamp", true); !r.Time.Equal(want) {
					t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
				}
				if want := expectedPartitionOffset(t, line); r.ID != want {
					t.Errorf("record %d: ID = %q, want %q", i, r.ID, want)
				}
			})
		})
	}
}

func TestGolden_SIEMStreamPageRecordsUseEventType(t *testing.T) {
	var page struct{ Value []json.RawMessage }
	if err := json.Unmarshal(readFile(t, "testdata/responses/v2-siem-stream-page.json"), &page); err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, v := range page.Value {
		var buf bytes.Buffer
		json.Compact(&buf, v)
		lines = append(lines, buf.Bytes())
	}
	e := newEnv(t, model.APIVersion2, nil)
	body := gzipBytes(t, bytes.Join(lines, []byte("\n")))
	e.mux.HandleFunc("GET /f.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	fn, got := collector()
	if _, err := e.client.DownloadSIEMFile(t.Context(), BatchFile{URL: e.srv.URL + "/f.gz"}, fn); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
		if r.LogType != model.LogReceipt {
			t.Errorf("record %d: LogType = %q, want receipt", i, r.LogType)
		}
		if want := expectedTime(t, line, "timestamp", true); !r.Time.Equal(want) {
			t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
		}
	})
}

// v1Samples maps API 1.0 sample files to their file-name prefix and type.
var v1Samples = []struct{ file, prefix, logType string }{
	{"siem-v1-attachment-protect.jsonl", "ttp_ap", model.LogAttachmentProtect},
	{"siem-v1-av.jsonl", "av", model.LogAV},
	{"siem-v1-delivery.jsonl", "delivery", model.LogDelivery},
	{"siem-v1-impersonation-protect.jsonl", "impersonation", model.LogImpersonationProt},
	{"siem-v1-internal-email-protect.jsonl", "iep", model.LogInternalEmailProt},
	{"siem-v1-journal.jsonl", "jrnl", model.LogJournal},
	{"siem-v1-process.jsonl", "process", model.LogProcess},
	{"siem-v1-receipt.jsonl", "receipt", model.LogReceipt},
	{"siem-v1-spam.jsonl", "spameventthread", model.LogSpam},
	{"siem-v1-url-protect.jsonl", "ttp_url", model.LogURLProtect},
}

// serveSIEMv1 answers get-siem-logs with body as a file.
func serveSIEMv1(e *testEnv, fileName string, body []byte) {
	e.mux.HandleFunc("POST /api/audit/get-siem-logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+fileName+`"`)
		w.Header().Set("mc-siem-token", "next-token")
		w.Write(body)
	})
}

func TestGolden_SIEMv1SamplesDecodeFromZipMembers(t *testing.T) {
	for _, named := range []bool{true, false} {
		for _, s := range v1Samples {
			t.Run(fmt.Sprintf("%s/named=%v", s.file, named), func(t *testing.T) {
				lines := sampleLines(t, s.file)
				member := s.prefix + "_20211018093329655.json"
				if !named {
					// Without a telling name the type is inferred from the fields.
					member = "export.json"
				}
				doc := `{"type":"MTA","data":[` + string(bytes.Join(lines, []byte(",\n"))) + `]}`
				e := newEnv(t, model.APIVersion1, nil)
				serveSIEMv1(e, "MTA_20211018.zip", zipBytes(t, [2]string{member, doc}))
				fn, got := collector()
				res, err := e.client.SIEMLogsV1(t.Context(), "tok", time.Time{}, nil, fn)
				if err != nil {
					t.Fatal(err)
				}
				if res.NextToken != "next-token" || res.Done || res.FileName != "MTA_20211018.zip" {
					t.Errorf("result = %+v", res)
				}
				checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
					if r.Raw != string(line) {
						t.Errorf("record %d: Raw is not the original bytes", i)
					}
					if r.LogType != s.logType {
						t.Errorf("record %d: LogType = %q, want %q", i, r.LogType, s.logType)
					}
					if want := expectedTime(t, line, "datetime", false); !r.Time.Equal(want) {
						t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
					}
					if r.ID != "" {
						t.Errorf("record %d: ID = %q, want none", i, r.ID)
					}
				})
			})
		}
	}
}

func TestGolden_SIEMv1KeyValueMatchesJSONRecord(t *testing.T) {
	kv := readFile(t, "testdata/samples/siem-v1-receipt.key_value.log")
	e := newEnv(t, model.APIVersion1, nil)
	serveSIEMv1(e, "receipt_20170526164741000.log", kv)
	fn, got := collector()
	if _, err := e.client.SIEMLogsV1(t.Context(), "tok", time.Time{}, nil, fn); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 {
		t.Fatalf("got %d records, want 1", len(*got))
	}
	r := (*got)[0]
	if r.LogType != model.LogReceipt {
		t.Errorf("LogType = %q", r.LogType)
	}
	if want := time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC); !r.Time.Equal(want) {
		t.Errorf("Time = %v, want %v", r.Time, want)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(r.Raw), &fields); err != nil {
		t.Fatalf("Raw is not JSON: %v", err)
	}
	// Every field of the JSON form of the same record must be there with
	// the same text (key_value values are all strings).
	jsonForm := sampleLines(t, "siem-v1-receipt.jsonl")[0]
	var want map[string]any
	json.Unmarshal(jsonForm, &want)
	want["IP"] = "123.123.123.123"                       // the two documentation samples differ here
	want["MsgId"] = "<81ce15$8r2j59@mail01.example.com>" // and here
	if len(fields) != len(want) {
		t.Errorf("key_value record has %d fields, JSON form %d", len(fields), len(want))
	}
	for k, v := range want {
		var text string
		switch v := v.(type) {
		case string:
			text = v
		default:
			b, _ := json.Marshal(v)
			text = string(b)
		}
		got, _ := fields[k].(string)
		if k == "SpamProcessingDetail" {
			if !jsonEqual(t, got, text) {
				t.Errorf("%s = %q, want JSON text %s", k, got, text)
			}
			continue
		}
		if got != text {
			t.Errorf("%s = %q, want %q", k, got, text)
		}
	}
}

// apiSamples maps the /api sample files to their stream and wrapping.
var apiSamples = []struct {
	file, path, wrapper string
	stream              model.Stream
	logType, timeField  string
	idField             string
}{
	{"audit-events.jsonl", "/api/audit/get-audit-events", "", model.StreamAudit, model.LogAudit, "eventTime", "id"},
	{"ttp-url-logs.jsonl", "/api/ttp/url/get-logs", "clickLogs", model.StreamTTPURL, model.LogTTPURL, "date", ""},
	{"ttp-attachment-logs.jsonl", "/api/ttp/attachment/get-logs", "attachmentLogs", model.StreamTTPAttachment, model.LogTTPAttachment, "date", ""},
	{"ttp-impersonation-logs.jsonl", "/api/ttp/impersonation/get-logs", "impersonationLogs", model.StreamTTPImpersonation, model.LogTTPImpersonation, "eventTime", "id"},
	{"dlp-logs.jsonl", "/api/dlp/get-logs", "dlpLogs", model.StreamDLP, model.LogDLP, "eventTime", ""},
}

func TestGolden_APILogSamplesDecodeFromPages(t *testing.T) {
	for _, s := range apiSamples {
		for _, version := range []string{model.APIVersion1, model.APIVersion2} {
			t.Run(s.file+"/"+version, func(t *testing.T) {
				lines := sampleLines(t, s.file)
				records := "[" + string(bytes.Join(lines, []byte(",\n"))) + "]"
				data := records
				if s.wrapper != "" {
					data = `[{"` + s.wrapper + `":` + records + `,"resultCount":` + fmt.Sprint(len(lines)) + `}]`
				}
				// fail first and meta last: member order must not matter.
				page := `{"fail":[],"data":` + data + `,"meta":{"status":200,"pagination":{"pageSize":100,"next":"p2"}}}`
				e := newEnv(t, version, nil)
				e.serveToken(t, 1799)
				e.mux.HandleFunc("POST "+s.path, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(page))
				})
				fn, got := collector()
				res, err := e.client.Logs(t.Context(), LogQuery{Stream: s.stream, Start: e.clock.now().Add(-time.Hour)}, fn)
				if err != nil {
					t.Fatal(err)
				}
				if res.Next != "p2" || res.Stats.Records != len(lines) {
					t.Errorf("page = %+v", res)
				}
				checkRecords(t, *got, lines, func(i int, line []byte, r collected) {
					if r.Stream != s.stream || r.LogType != s.logType {
						t.Errorf("record %d: %s/%s", i, r.Stream, r.LogType)
					}
					if want := expectedTime(t, line, s.timeField, false); !r.Time.Equal(want) {
						t.Errorf("record %d: Time = %v, want %v", i, r.Time, want)
					}
					wantID := ""
					if s.idField != "" {
						var m map[string]any
						json.Unmarshal(line, &m)
						wantID = m[s.idField].(string)
					}
					if r.ID != wantID {
						t.Errorf("record %d: ID = %q, want %q", i, r.ID, wantID)
					}
				})
			})
		}
	}
}

func TestGolden_ResponseBodiesDecode(t *testing.T) {
	tests := []struct {
		file     string
		stream   model.Stream
		path     string
		records  int
		wantNext string
	}{
		{"v1-ttp-url-get-logs-page1.json", model.StreamTTPURL, "/api/ttp/url/get-logs", 1, "nextToken"},
		{"v1-ttp-url-get-logs-last-page.json", model.StreamTTPURL, "/api/ttp/url/get-logs", 0, ""},
		{"v1-ttp-attachment-get-logs.json", model.StreamTTPAttachment, "/api/ttp/attachment/get-logs", 1, "next"},
		{"v1-ttp-impersonation-get-logs.json", model.StreamTTPImpersonation, "/api/ttp/impersonation/get-logs", 1, ""},
		{"v1-audit-get-audit-events.json", model.StreamAudit, "/api/audit/get-audit-events", 1, ""},
		{"v1-dlp-get-logs.json", model.StreamDLP, "/api/dlp/get-logs", 1, ""},
		{"v2-ttp-attachment-last-page.json", model.StreamTTPAttachment, "/api/ttp/attachment/get-logs", 0, ""},
		{"v2-held-release-logs-page1.json", model.StreamMessageRelease, "/api/gateway/get-held-release-logs", 1, "nexttoken"},
		{"v2-held-release-logs-last-page.json", model.StreamMessageRelease, "/api/gateway/get-held-release-logs", 0, ""},
		{"v2-archive-search-logs-page1.json", model.StreamArchiveSearch, "/api/archive/get-archive-search-logs", 2, "nexttoken"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			body := readFile(t, "testdata/responses/"+tc.file)
			e.mux.HandleFunc("POST "+tc.path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
			})
			fn, got := collector()
			res, err := e.client.Logs(t.Context(), LogQuery{Stream: tc.stream}, fn)
			if err != nil {
				t.Fatal(err)
			}
			if len(*got) != tc.records || res.Next != tc.wantNext {
				t.Errorf("records=%d next=%q, want %d %q", len(*got), res.Next, tc.records, tc.wantNext)
			}
			for _, r := range *got {
				if r.Time.IsZero() || !strings.HasPrefix(r.Raw, "{") {
					t.Errorf("record %+v", r)
				}
			}
		})
	}
}

func TestGolden_PlainV1SIEMFileEnvelope(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	serveSIEMv1(e, "jrnl_20230501120000000.json", readFile(t, "testdata/responses/v1-siem-file-envelope.json"))
	fn, got := collector()
	res, err := e.client.SIEMLogsV1(t.Context(), "", time.Time{}, nil, fn)
	if err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 || res.Stats.Records != 1 {
		t.Fatalf("got %d records, stats %+v", len(*got), res.Stats)
	}
	r := (*got)[0]
	if r.LogType != model.LogJournal || !r.Time.Equal(time.Date(2023, 5, 1, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("record = %+v", r)
	}
	if !jsonEqual(t, r.Raw, `{"acc":"ABC123","datetime":"2023-05-01T12:00:00-0400","Sender":"user@example.com","Rcpt":"user1@example.com","aCode":"abcd123_abcd1234","Dir":"Internal","RcptHdrType":"To"}`) {
		t.Errorf("Raw = %s", r.Raw)
	}
}
