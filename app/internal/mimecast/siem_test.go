package mimecast

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

func TestSIEMBatch_SendsQueryAndReadsPage(t *testing.T) {
	tests := []struct {
		name      string
		logType   string
		start     time.Time
		nextPage  string
		pageSize  int
		wantQuery string
		body      string
		wantPage  BatchPage
	}{
		{
			name: "first page", logType: model.LogURLProtect, start: time.Date(2024, 11, 17, 23, 30, 0, 0, time.UTC),
			wantQuery: "dateRangeStartsAt=2024-11-17&pageSize=100&type=url+protect",
			body:      string(readFile(t, "testdata/responses/v2-siem-batch-page.json")),
			wantPage: BatchPage{NextPage: "tokenNextPage1=", Files: []BatchFile{{
				URL: "https://s3-something.amazonaws.com/log1.json.gz", Size: 489,
				Expiry: time.Date(2024, 6, 5, 11, 50, 6, 389e6, time.UTC), LogType: model.LogURLProtect}}},
		},
		{
			name: "next page", logType: "internal email protect", nextPage: "tokenNextPage1=", pageSize: 10,
			wantQuery: "nextPage=tokenNextPage1%3D&pageSize=10&type=internal+email+protect",
			body:      string(readFile(t, "testdata/responses/v2-siem-batch-caught-up.json")),
			wantPage:  BatchPage{NextPage: "tokenNextPageLast==", CaughtUp: true},
		},
		{
			name: "start clamped to retention", logType: "jrnl", start: time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), pageSize: 5,
			wantQuery: "dateRangeStartsAt=2024-11-11&pageSize=5&type=journal",
			body:      `{"value":[],"@nextPage":"x","isCaughtUp":true}`,
			wantPage:  BatchPage{NextPage: "x", CaughtUp: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			e.mux.HandleFunc("GET /siem/v1/batch/events/cg", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.RawQuery != tc.wantQuery {
					t.Errorf("query = %s, want %s", r.URL.RawQuery, tc.wantQuery)
				}
				if r.Header.Get("Authorization") != "Bearer tok-1" || r.Header.Get("Accept") != "application/json" {
					t.Errorf("headers = %v", r.Header)
				}
				w.Write([]byte(tc.body))
			})
			page, err := e.client.SIEMBatch(t.Context(), tc.logType, tc.start, tc.nextPage, tc.pageSize)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(page) != fmt.Sprint(tc.wantPage) {
				t.Errorf("page = %+v\nwant   %+v", page, tc.wantPage)
			}
		})
	}
}

func TestSIEMBatch_Errors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"403 permission", 403, `{"error":{"code":"forbidden","message":"no SIEM access"}}`, ErrPermission},
		{"plain http file URL refused", 200, `{"value":[{"url":"http://files.example.com/a.gz","size":1,"expiry":""}],"@nextPage":"n","isCaughtUp":false}`, ErrBadResponse},
		{"metadata file URL refused", 200, `{"value":[{"url":"https://169.254.169.254/latest","size":1}],"@nextPage":"n"}`, ErrBadResponse},
		{"not JSON", 200, `<html>`, ErrBadResponse},
		{"empty", 200, ``, ErrBadResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			e.serveToken(t, 1799)
			e.mux.HandleFunc("GET /siem/v1/batch/events/cg", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			_, err := e.client.SIEMBatch(t.Context(), model.LogReceipt, time.Time{}, "", 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	e := newEnv(t, model.APIVersion2, nil)
	if _, err := e.client.SIEMBatch(t.Context(), "no such type", time.Time{}, "", 0); err == nil {
		t.Error("unknown log type accepted")
	}
	e1 := newEnv(t, model.APIVersion1, nil)
	if _, err := e1.client.SIEMBatch(t.Context(), model.LogReceipt, time.Time{}, "", 0); err == nil {
		t.Error("API 1.0 client listed 2.0 batch files")
	}
}

// serveFile serves body at /files/<name> and returns the file's BatchFile.
func serveFile(e *testEnv, name string, body []byte) BatchFile {
	e.mux.HandleFunc("GET /files/"+name, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(body)
	})
	return BatchFile{URL: e.srv.URL + "/files/" + name + "?X-Amz-Signature=sig", LogType: model.LogReceipt}
}

func TestDownloadSIEMFile_SkipsAndCountsMalformedLines(t *testing.T) {
	good := sampleLines(t, "siem-v2-receipt.jsonl")
	content := strings.Join([]string{
		string(good[0]),
		``,                     // blank: ignored, not malformed
		`{"type":"receipt",`,   // truncated object
		`not json`,             // garbage
		`["an","array"]`,       // not an object
		string(good[1]) + "\r", // CRLF line end
		`{"a":1} {"b":2}`,      // two values on one line
		`{"type":"receipt","x":"` + strings.Repeat("y", 3000) + `"}`, // over the record limit
		string(good[2]),
	}, "\n")
	e := newEnv(t, model.APIVersion2, func(o *Options) { o.Limits.MaxRecordBytes = 2048 })
	f := serveFile(e, "mixed.json.gz", gzipBytes(t, []byte(content)))
	fn, got := collector()
	stats, err := e.client.DownloadSIEMFile(t.Context(), f, fn)
	if err != nil {
		t.Fatal(err)
	}
	if stats != (DecodeStats{Records: 3, Malformed: 5}) {
		t.Errorf("stats = %+v, want 3 records and 5 malformed", stats)
	}
	for i, want := range [][]byte{good[0], good[1], good[2]} {
		if i < len(*got) && (*got)[i].Raw != string(want) {
			t.Errorf("record %d = %s", i, (*got)[i].Raw)
		}
	}
}

func TestDownloadSIEMFile_LongLineWithinLimitIsKept(t *testing.T) {
	long := `{"type":"process","timestamp":1731700055957,"subject":"` + strings.Repeat("x", 200<<10) + `"}`
	e := newEnv(t, model.APIVersion2, nil)
	f := serveFile(e, "long.json.gz", gzipBytes(t, []byte(long+"\n"+long)))
	fn, got := collector()
	stats, err := e.client.DownloadSIEMFile(t.Context(), f, fn)
	if err != nil || stats.Records != 2 {
		t.Fatalf("stats %+v, err %v", stats, err)
	}
	if (*got)[0].Raw != long || (*got)[1].Raw != long || (*got)[0].LogType != model.LogProcess {
		t.Error("long record damaged")
	}
}

func TestDownloadSIEMFile_CorruptOrTruncatedGzipIsBadResponse(t *testing.T) {
	lines := sampleLines(t, "siem-v2-delivery.jsonl")
	var content []byte
	for i := range 300 {
		content = append(content, lines[i%len(lines)]...)
		content = append(content, '\n')
	}
	full := gzipBytes(t, content)
	flipped := bytes.Clone(full)
	flipped[len(flipped)/2] ^= 0xff
	badCRC := bytes.Clone(full)
	badCRC[len(badCRC)-6] ^= 0xff
	tests := map[string][]byte{
		"truncated":    full[:len(full)*2/3],
		"flipped byte": flipped,
		"bad checksum": badCRC,
		"bad header":   append([]byte{0x1f, 0x8b, 0x99}, full[3:]...),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			f := serveFile(e, "f.gz", body)
			var n int
			stats, err := e.client.DownloadSIEMFile(t.Context(), f, func(*model.Record) error { n++; return nil })
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			// A bad checksum shows only at the end, after every record.
			if stats.Records != n || (n >= 300 && name != "bad checksum") {
				t.Errorf("delivered %d records (stats %+v) from a damaged file", n, stats)
			}
		})
	}
}

func TestDownloadSIEMFile_ExpiredURL(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			calls := &counter{}
			e.mux.HandleFunc("GET /files/old.gz", func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				w.WriteHeader(status)
				w.Write([]byte(`<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`))
			})
			_, err := e.client.DownloadSIEMFile(t.Context(), BatchFile{URL: e.srv.URL + "/files/old.gz?X-Amz-Expires=60"}, func(*model.Record) error { return nil })
			if !errors.Is(err, ErrFileExpired) {
				t.Fatalf("err = %v, want ErrFileExpired", err)
			}
			if calls.get() != 1 {
				t.Errorf("%d requests, want 1", calls.get())
			}
		})
	}
}

func TestDownloadSIEMFile_DecompressionBombIsRefused(t *testing.T) {
	// 16 MiB of one repeated record compresses to well under 1 MiB.
	line := append(sampleLines(t, "siem-v2-journal.jsonl")[0], '\n')
	bomb := gzipBytes(t, bytes.Repeat(line, (16<<20)/len(line)))
	e := newEnv(t, model.APIVersion2, func(o *Options) { o.Limits.MaxDecompressedBytes = 1 << 20 })
	f := serveFile(e, "bomb.gz", bomb)
	stats, err := e.client.DownloadSIEMFile(t.Context(), f, func(*model.Record) error { return nil })
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("err = %v, want a size-limit error", err)
	}
	if int64(stats.Records)*int64(len(line)) > 1<<20 {
		t.Errorf("%d records delivered past the limit", stats.Records)
	}
}

func TestDownloadSIEMFile_CallbackErrorAbortsUnchanged(t *testing.T) {
	lines := sampleLines(t, "siem-v2-spam.jsonl")
	e := newEnv(t, model.APIVersion2, nil)
	f := serveFile(e, "f.gz", gzipBytes(t, bytes.Join(lines, []byte("\n"))))
	stop := errors.New("syslog target unreachable")
	var n int
	stats, err := e.client.DownloadSIEMFile(t.Context(), f, func(*model.Record) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unchanged", err)
	}
	if n != 2 || stats.Records != 2 {
		t.Errorf("callback ran %d times, stats %+v; want to stop at 2", n, stats)
	}
}

func TestDownloadSIEMFile_AcceptsPlainAndMultiMemberGzip(t *testing.T) {
	a := sampleLines(t, "siem-v2-journal.jsonl")
	b := sampleLines(t, "siem-v2-process.jsonl")
	bodies := map[string][]byte{
		"plain NDJSON": bytes.Join(a, []byte("\n")),
		"two members":  append(gzipBytes(t, append(bytes.Join(a, []byte("\n")), '\n')), gzipBytes(t, bytes.Join(b, []byte("\n")))...),
		"empty file":   nil,
	}
	want := map[string]int{"plain NDJSON": len(a), "two members": len(a) + len(b), "empty file": 0}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion2, nil)
			f := serveFile(e, "f.gz", body)
			stats, err := e.client.DownloadSIEMFile(t.Context(), f, func(*model.Record) error { return nil })
			if err != nil || stats.Records != want[name] || stats.Malformed != 0 {
				t.Fatalf("stats %+v, err %v; want %d records", stats, err, want[name])
			}
		})
	}
}

func TestDownloadSIEMFile_RecordWithoutTypeUsesRequestedType(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	f := serveFile(e, "f.gz", gzipBytes(t, []byte(`{"timestamp":"1731451448010","_partition":"7","_offset":"42"}`+"\n"+`{"type":"Brand New Type"}`)))
	f.LogType = model.LogDelivery
	fn, got := collector()
	if _, err := e.client.DownloadSIEMFile(t.Context(), f, fn); err != nil {
		t.Fatal(err)
	}
	r := (*got)[0]
	if r.LogType != model.LogDelivery || r.ID != "7:42" || !r.Time.Equal(time.UnixMilli(1731451448010)) {
		t.Errorf("record = %+v", r)
	}
	if (*got)[1].LogType != model.LogDelivery {
		t.Errorf("unknown type mapped to %q, want the requested type", (*got)[1].LogType)
	}
	f.LogType = ""
	fn, got = collector()
	if _, err := e.client.DownloadSIEMFile(t.Context(), f, fn); err != nil {
		t.Fatal(err)
	}
	if (*got)[0].LogType != unknownLogType || (*got)[1].LogType != "brand_new_type" {
		t.Errorf("log types = %q, %q", (*got)[0].LogType, (*got)[1].LogType)
	}
}
