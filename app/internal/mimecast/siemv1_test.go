package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

func TestSIEMLogsV1_SendsDocumentedRequest(t *testing.T) {
	tests := []struct {
		token, format string
		want          string
	}{
		{"", "", `{"data":[{"compress":true,"fileFormat":"json","type":"MTA"}]}`},
		{"tok-9", "key_value", `{"data":[{"compress":true,"fileFormat":"key_value","token":"tok-9","type":"MTA"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, func(o *Options) { o.SIEMFormat = tc.format })
			e.mux.HandleFunc("POST /api/audit/get-siem-logs", func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if !jsonEqual(t, string(body), tc.want) {
					t.Errorf("body = %s, want %s", body, tc.want)
				}
				if !strings.HasPrefix(r.Header.Get("Authorization"), "MC "+testAccessKey+":") {
					t.Errorf("request not signed")
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write(readFile(t, "testdata/responses/v1-siem-no-more-logs.json"))
			})
			if _, err := e.client.SIEMLogsV1(t.Context(), tc.token, time.Time{}, nil, func(*model.Record) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSIEMLogsV1_NoMoreDataReply(t *testing.T) {
	for _, header := range []string{"", "tok-from-header"} {
		t.Run("header="+header, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			e.mux.HandleFunc("POST /api/audit/get-siem-logs", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				if header != "" {
					w.Header().Set("mc-siem-token", header)
				}
				w.Write(readFile(t, "testdata/responses/v1-siem-no-more-logs.json"))
			})
			res, err := e.client.SIEMLogsV1(t.Context(), "tok-saved", time.Time{}, nil, func(*model.Record) error {
				t.Error("callback called for a no-data reply")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := header
			if want == "" {
				want = "tok-saved"
			}
			if !res.Done || res.NextToken != want || res.Stats != (DecodeStats{}) {
				t.Errorf("result = %+v, want Done with token %q", res, want)
			}
		})
	}
}

func TestSIEMLogsV1_InvalidToken(t *testing.T) {
	fail := `{"meta":{"status":200},"data":[],"fail":[{"key":{"token":"x"},"errors":[{"code":"err_audit_siem_invalid_token","message":"The SIEM token is invalid","retryable":false}]}]}`
	for _, status := range []int{200, 400} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			e.mux.HandleFunc("POST /api/audit/get-siem-logs", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				w.Write([]byte(fail))
			})
			_, err := e.client.SIEMLogsV1(t.Context(), "stale", time.Time{}, nil, func(*model.Record) error { return nil })
			if !errors.Is(err, ErrInvalidSIEMToken) {
				t.Fatalf("err = %v, want ErrInvalidSIEMToken", err)
			}
		})
	}
}

func TestSIEMLogsV1_ZipWithSeveralMembersAndFormats(t *testing.T) {
	receipt := sampleLines(t, "siem-v1-receipt.jsonl")
	journal := sampleLines(t, "siem-v1-journal.jsonl")
	kv := strings.TrimSpace(string(readFile(t, "testdata/samples/siem-v1-receipt.key_value.log")))
	z := zipBytes(t,
		[2]string{"receipt_20211108121019000.json", `{"type":"MTA","data":[` + string(bytes.Join(receipt, []byte(","))) + `]}`},
		[2]string{"logs/", ""}, // a directory entry is ignored
		[2]string{"jrnl_20211108120918000.json", "\ufeff" + `[` + string(journal[0]) + `]`},
		[2]string{"receipt_20170526164741000.log", kv + "\r\n\r\n" + kv + "\n"},
	)
	e := newEnv(t, model.APIVersion1, nil)
	serveSIEMv1(e, "siem.zip", z)
	fn, got := collector()
	res, err := e.client.SIEMLogsV1(t.Context(), "t1", time.Time{}, nil, fn)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range *got {
		types = append(types, r.LogType)
	}
	want := "receipt,receipt,journal,receipt,receipt"
	if strings.Join(types, ",") != want || res.Stats.Records != 5 || res.NextToken != "next-token" {
		t.Errorf("types %v, result %+v; want %s", types, res, want)
	}
	if entries, _ := os.ReadDir(e.client.tempDir); len(entries) != 0 {
		t.Errorf("spooled zip left behind: %v", entries)
	}
}

func TestSIEMLogsV1_PlainKeyValueFile(t *testing.T) {
	lines := []string{
		`datetime=2021-10-19T07:06:40+0100|aCode=a1|acc=ABC123|Delivered=false|Subject=\Re: a|b test\|Rcpt=x@example.com|RejInfo=\5.4.1 rejected\`,
		`datetime=2021-10-19T07:06:41+0100|aCode=a2|Subject=plain|pipe|Rcpt=y@example.com|Empty=`,
		`no equals sign here`,
		`datetime=2021-10-19T07:06:42+0100|aCode=a3|aCode=dup|Info=tab	and "quotes" and \back`,
	}
	e := newEnv(t, model.APIVersion1, nil)
	serveSIEMv1(e, "delivery_20211019070640000.log", []byte(strings.Join(lines, "\n")))
	fn, got := collector()
	res, err := e.client.SIEMLogsV1(t.Context(), "t", time.Time{}, nil, fn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Records != 3 || res.Stats.Malformed != 1 {
		t.Fatalf("stats = %+v, want 3 records and 1 malformed", res.Stats)
	}
	want := []map[string]string{
		{"datetime": "2021-10-19T07:06:40+0100", "aCode": "a1", "acc": "ABC123", "Delivered": "false",
			"Subject": "Re: a|b test", "Rcpt": "x@example.com", "RejInfo": "5.4.1 rejected"},
		{"datetime": "2021-10-19T07:06:41+0100", "aCode": "a2", "Subject": "plain|pipe", "Rcpt": "y@example.com", "Empty": ""},
		{"datetime": "2021-10-19T07:06:42+0100", "aCode": "a3", "Info": "tab\tand \"quotes\" and \\back"},
	}
	for i, r := range *got {
		var fields map[string]string
		if err := json.Unmarshal([]byte(r.Raw), &fields); err != nil {
			t.Fatalf("record %d Raw is not a JSON object of strings: %v: %s", i, err, r.Raw)
		}
		if fmt.Sprint(fields) != fmt.Sprint(want[i]) {
			t.Errorf("record %d = %v\nwant %v", i, fields, want[i])
		}
		if r.LogType != model.LogDelivery || r.Time.IsZero() {
			t.Errorf("record %d: type %q time %v", i, r.LogType, r.Time)
		}
	}
}

func TestSIEMLogsV1_StartSkipsOlderRecords(t *testing.T) {
	lines := sampleLines(t, "siem-v1-delivery.jsonl") // 2017-05-26, then three on 2021-10-19
	doc := `{"type":"MTA","data":[` + string(bytes.Join(lines, []byte(","))) + `]}`
	e := newEnv(t, model.APIVersion1, nil)
	serveSIEMv1(e, "delivery_1.zip", zipBytes(t, [2]string{"delivery_1.json", doc}))
	start := time.Date(2021, 10, 19, 6, 4, 56, 0, time.UTC) // 07:04:56+0100
	fn, got := collector()
	res, err := e.client.SIEMLogsV1(t.Context(), "", start, nil, fn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats != (DecodeStats{Records: 2, Skipped: 2}) || len(*got) != 2 {
		t.Fatalf("stats = %+v", res.Stats)
	}
	for _, r := range *got {
		if r.Time.Before(start) {
			t.Errorf("record at %v delivered, before start %v", r.Time, start)
		}
	}
}

func TestSIEMLogsV1_BadFiles(t *testing.T) {
	record := string(sampleLines(t, "siem-v1-journal.jsonl")[0])
	many := make([][2]string, 12)
	for i := range many {
		many[i] = [2]string{fmt.Sprintf("jrnl_%d.json", i), "[" + record + "]"}
	}
	bomb := `{"type":"MTA","data":[` + strings.Repeat(record+",", (4<<20)/len(record)) + record + `]}`
	good := zipBytes(t, [2]string{"jrnl_1.json", "[" + record + "]"})
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"too many members", zipBytes(t, many...), "members"},
		{"zip bomb", zipBytes(t, [2]string{"jrnl_1.json", bomb}), "limit"},
		{"truncated zip", good[:len(good)-30], "zip"},
		{"corrupt member", corruptZipMember(good), ""},
		{"truncated JSON", []byte(`{"type":"MTA","data":[` + record), "truncated"},
		{"JSON syntax", []byte(`{"type":"MTA","data":[` + record + `}`), "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, func(o *Options) {
				o.Limits.MaxZipMembers = 10
				o.Limits.MaxDecompressedBytes = 1 << 20
			})
			name := "file.zip"
			if strings.Contains(tc.name, "JSON") {
				name = "jrnl_1.json"
			}
			serveSIEMv1(e, name, tc.body)
			_, err := e.client.SIEMLogsV1(t.Context(), "t", time.Time{}, nil, func(*model.Record) error { return nil })
			if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrBadResponse mentioning %q", err, tc.want)
			}
		})
	}
}

// corruptZipMember damages the compressed data of the first member.
func corruptZipMember(z []byte) []byte {
	b := bytes.Clone(z)
	// Local header is 30 bytes plus the name; damage the data after it.
	nameLen := int(b[26]) | int(b[27])<<8
	for i := 30 + nameLen; i < 30+nameLen+8 && i < len(b); i++ {
		b[i] ^= 0x55
	}
	return b
}

func TestSIEMLogsV1_FileWithoutTokenIsRefused(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	e.mux.HandleFunc("POST /api/audit/get-siem-logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="jrnl_1.json"`)
		w.Write(readFile(t, "testdata/responses/v1-siem-file-envelope.json"))
	})
	_, err := e.client.SIEMLogsV1(t.Context(), "t", time.Time{}, nil, func(*model.Record) error {
		t.Error("records delivered from a file that cannot be checkpointed")
		return nil
	})
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("err = %v", err)
	}
}

func TestDispositionFileName(t *testing.T) {
	tests := map[string]string{
		`attachment; filename="delivery_20211018093329655.json"`: "delivery_20211018093329655.json",
		`attachment; filename=ttp_url_1.json`:                    "ttp_url_1.json",
		`attachment; filename="broken; x=`:                       "broken; x=",
		``:                                                       "",
	}
	for in, want := range tests {
		if got := dispositionFileName(in); got != want {
			t.Errorf("dispositionFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
