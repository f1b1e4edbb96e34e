package leef

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"mimecast-qradar/app/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and the table in docs/leef-fields.md")

var (
	testAccount  = Account{Name: "Acme EU", LogSourceIdentifier: "mimecast-acme-eu"}
	testVersion  = "1.4.0"
	collectedAt  = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	newFormatter = func() *Formatter {
		return &Formatter{AppVersion: testVersion, Now: func() time.Time { return collectedAt }}
	}
)

func TestAppendRecord_MatchesGoldenFiles(t *testing.T) {
	f := newFormatter()
	for _, sf := range sampleFiles(t) {
		t.Run(sf.Name, func(t *testing.T) {
			var got []byte
			for _, rec := range sf.records(t) {
				var err error
				if got, err = f.AppendRecord(got, testAccount, &rec); err != nil {
					t.Fatalf("AppendRecord: %v", err)
				}
				got = append(got, '\n')
			}
			golden := filepath.Join("testdata", sf.Name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := range max(len(gotLines), len(wantLines)) {
					var g, w string
					if i < len(gotLines) {
						g = gotLines[i]
					}
					if i < len(wantLines) {
						w = wantLines[i]
					}
					if g != w {
						t.Errorf("line %d differs:\n got: %q\nwant: %q", i+1, g, w)
					}
				}
			}
		})
	}
}

func TestAppendRecord_EveryFieldOfEverySampleReadsBack(t *testing.T) {
	f := newFormatter()
	seen := map[string]bool{}
	for _, sf := range sampleFiles(t) {
		for i, rec := range sf.records(t) {
			t.Run(sf.Name+"/"+strconv.Itoa(i+1), func(t *testing.T) {
				out, err := f.AppendRecord(nil, testAccount, &rec)
				if err != nil {
					t.Fatal(err)
				}
				checkEvent(t, string(out), testAccount, rec, testVersion)
			})
			seen[rec.LogType] = true
		}
	}
	for _, lt := range LogTypes() {
		if !seen[lt] {
			t.Errorf("no sample covers log type %s", lt)
		}
	}
}

func TestAppendRecord_SanitisesFlattensAndRenames(t *testing.T) {
	recTime := time.Date(2024, 5, 1, 9, 59, 58, 123456789, time.FixedZone("", 3600))
	cases := []struct {
		name string
		raw  string
		want map[string]string // attributes that must have these values
	}{
		{"escaped tab, CR and LF become spaces", `{"Subject":"a\tb\r\nc"}`, map[string]string{"Subject": "a b  c"}},
		{"raw tab, CR and LF become spaces", "{\"Subject\":\"a\tb\r\nc\"}", map[string]string{"Subject": "a b  c"}},
		{"each invalid UTF-8 byte becomes U+FFFD", "{\"s\":\"x\xff\xfey\xe2\x82\"}", map[string]string{"s": "x\uFFFD\uFFFDy\uFFFD\uFFFD"}},
		{"valid UTF-8 and escapes are decoded", `{"s":"caf\u00e9 \ud83d\ude00 \/ \"q\" \\ é"}`, map[string]string{"s": "café 😀 / \"q\" \\ é"}},
		{"a lone surrogate becomes U+FFFD", `{"s":"a\ud800b"}`, map[string]string{"s": "a\uFFFDb"}},
		{"nested objects are flattened with _", `{"SpamProcessingDetail":{"spf":{"info":"SPF_FAIL","allow":true},"dkim":{"allow":false}}}`,
			map[string]string{"SpamProcessingDetail_spf_info": "SPF_FAIL", "SpamProcessingDetail_spf_allow": "true", "SpamProcessingDetail_dkim_allow": "false"}},
		{"an empty object stays present as {}", `{"tagMap":{}}`, map[string]string{"tagMap": "{}"}},
		{"arrays are compact JSON text", `{"ids":[ "a\tb" , 1, {"k" : [true,null]} ], "e":[ ]}`, map[string]string{"ids": `["a\tb",1,{"k":[true,null]}]`, "e": "[]"}},
		{"JSON inside a string stays that string", `{"spamProcessingDetail":"{\"spf\":{\"allow\":true}}"}`, map[string]string{"spamProcessingDetail": `{"spf":{"allow":true}}`}},
		{"null is empty, numbers as written", `{"n":null,"i":-12,"f":1.5E+3,"z":0,"_offset":71203}`, map[string]string{"n": "", "i": "-12", "f": "1.5E+3", "z": "0", "_offset": "71203"}},
		{"fields colliding with added keys are renamed mc_", `{"cat":"c","sev":"9","src":"x","dst":"y","usrName":"u","devTime":"t","devTimeFormat":"f","mcStream":"s","mcLogType":"l","mcAccount":"a","mcTruncated":"m"}`,
			map[string]string{"mc_cat": "c", "mc_sev": "9", "mc_src": "x", "mc_dst": "y", "mc_usrName": "u", "mc_devTime": "t", "mc_devTimeFormat": "f",
				"mc_mcStream": "s", "mc_mcLogType": "l", "mc_mcAccount": "a", "mc_mcTruncated": "m", "cat": "dlp", "mcStream": "dlp", "mcLogType": "dlp"}},
		{"names keep Mimecast's spelling; space, = and controls become _", `{"Content-Disposition":"x","a b=c\td":1}`, map[string]string{"Content-Disposition": "x", "a_b_c_d": "1"}},
		{"whitespace around the object is allowed", " \n{ \"a\" : \"b\" }\r\n ", map[string]string{"a": "b"}},
	}
	// Input encoding/json rejects, or names it would not sanitise: the
	// independent check does not apply.
	notJSON := map[string]bool{"raw tab, CR and LF become spaces": true, "names keep Mimecast's spelling; space, = and controls become _": true}
	f := newFormatter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := model.Record{Stream: model.StreamDLP, LogType: model.LogDLP, Raw: []byte(tc.raw), Time: recTime}
			out, err := f.AppendRecord(nil, testAccount, &rec)
			if err != nil {
				t.Fatalf("AppendRecord: %v", err)
			}
			ev, err := parseEvent(string(out))
			if err != nil {
				t.Fatalf("parsing %q: %v", out, err)
			}
			for k, v := range tc.want {
				if got, ok := ev.Attrs[k]; !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if ev.Attrs["devTime"] != "2024-05-01T08:59:58.123+0000" {
				t.Errorf("devTime = %q, want the record time in UTC to the millisecond", ev.Attrs["devTime"])
			}
			if !notJSON[tc.name] {
				checkEvent(t, string(out), testAccount, rec, testVersion)
			}
		})
	}
}

func TestAppendRecord_AddedKeysFollowTheLogTypeTable(t *testing.T) {
	cases := []struct {
		name    string
		logType string
		stream  model.Stream
		raw     string
		want    map[string]string
		absent  []string
	}{
		{"rejected receipt is sev 5 with sender IP", model.LogReceipt, model.StreamSIEM,
			`{"action":"Rej","senderIp":"81.2.69.144","recipients":"a@example.com"}`,
			map[string]string{"cat": "Rej", "sev": "5", "src": "81.2.69.144", "usrName": "a@example.com"}, []string{"dst"}},
		{"API 1.0 receipt uses Act, IP and Rcpt", model.LogReceipt, model.StreamSIEM,
			`{"Act":"Acc","IP":"2001:db8::1","Rcpt":"b@example.com"}`,
			map[string]string{"cat": "Acc", "sev": "1", "src": "2001:db8::1", "usrName": "b@example.com"}, nil},
		{"receipt with a virus is sev 8", model.LogReceipt, model.StreamSIEM,
			`{"action":"Acc","virusFound":"Eicar"}`, map[string]string{"sev": "8"}, nil},
		{"a value that is not an IP is no src", model.LogTTPURL, model.StreamTTPURL,
			`{"action":"warn","sendingIp":"Internal IP","scanResult":"malicious","userEmailAddress":"u@example.com"}`,
			map[string]string{"cat": "warn", "sev": "8", "usrName": "u@example.com"}, []string{"src"}},
		{"0.0.0.0 is no src", model.LogAV, model.StreamSIEM, `{"IP":"0.0.0.0"}`, map[string]string{"cat": "av", "sev": "8"}, []string{"src"}},
		{"delivery feeds dst", model.LogDelivery, model.StreamSIEM, `{"delivered":"false","destinationIp":"192.0.2.7"}`,
			map[string]string{"cat": "false", "sev": "4", "dst": "192.0.2.7"}, []string{"src", "usrName"}},
		{"empty and null candidates fall through", model.LogURLProtect, model.StreamSIEM,
			`{"action":"","reason":"malicious","recipients":null,"recipient":"r@example.com"}`,
			map[string]string{"cat": "malicious", "sev": "8", "usrName": "r@example.com"}, nil},
		{"known categories match case-insensitively", model.LogTTPURL, model.StreamTTPURL, `{"action":"BLOCK"}`,
			map[string]string{"cat": "BLOCK", "sev": "7"}, nil},
		{"without a cat field cat is the log type", model.LogJournal, model.StreamSIEM, `{"direction":"Internal"}`,
			map[string]string{"cat": "journal", "sev": "1"}, []string{"usrName"}},
		{"failed administrator logon", model.LogAudit, model.StreamAudit,
			`{"auditType":"Logon Authentication Failed","user":"admin@example.com","category":"authentication_logs"}`,
			map[string]string{"cat": "Logon Authentication Failed", "sev": "6", "usrName": "admin@example.com"}, nil},
		{"unknown log type falls back to action and sev 3", "held_release", model.StreamMessageRelease, `{"action":"release"}`,
			map[string]string{"cat": "release", "sev": "3", "mcLogType": "held_release"}, nil},
	}
	f := newFormatter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := model.Record{Stream: tc.stream, LogType: tc.logType, Raw: []byte(tc.raw), Time: collectedAt}
			out, err := f.AppendRecord(nil, testAccount, &rec)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := parseEvent(string(out))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if ev.Attrs[k] != v {
					t.Errorf("%s = %q, want %q", k, ev.Attrs[k], v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := ev.Attrs[k]; ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
		})
	}
}

func TestAppendRecord_TimeWhenRecordTimeIsNotSet(t *testing.T) {
	cases := []struct {
		name, logType, raw, want string
	}{
		{"API 2.0 epoch milliseconds", model.LogReceipt, `{"timestamp":1731454605992}`, "2024-11-12T23:36:45.992+0000"},
		{"API 1.0 datetime with offset", model.LogReceipt, `{"datetime":"2017-05-26T16:47:41+0100"}`, "2017-05-26T15:47:41.000+0000"},
		{"TTP date", model.LogTTPURL, `{"date":"2021-10-16T14:45:34+0000"}`, "2021-10-16T14:45:34.000+0000"},
		{"no time field: the collection time", model.LogDLP, `{"action":"hold"}`, "2026-11-22T10:00:00.000+0000"},
		{"unparsable time: the collection time", model.LogAudit, `{"eventTime":"yesterday"}`, "2026-11-22T10:00:00.000+0000"},
	}
	f := newFormatter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := model.Record{LogType: tc.logType, Raw: []byte(tc.raw)}
			out, err := f.AppendRecord(nil, testAccount, &rec)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := parseEvent(string(out))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Attrs["devTime"] != tc.want {
				t.Errorf("devTime = %q, want %q", ev.Attrs["devTime"], tc.want)
			}
			if got := ev.Time.UTC().Format("2006-01-02T15:04:05.000-0700"); got != tc.want {
				t.Errorf("header time = %s, want %s", ev.rawTime, tc.want)
			}
		})
	}
}

func TestAppendRecord_RejectsRawThatIsNotAJSONObject(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 600) + strings.Repeat(`]}`, 600)
	for _, raw := range []string{
		``, ` `, `[]`, `"x"`, `42`, `null`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `{"a":1}{"b":2}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":"unterminated}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{a:1}`, `{"a":{"b":1}`, `{"a":[{"b"}]}`, `{"a":"x\`,
		deep,
	} {
		f := newFormatter()
		rec := model.Record{Stream: model.StreamSIEM, LogType: model.LogReceipt, Raw: []byte(raw), Time: collectedAt}
		dst := []byte("previous message")
		out, err := f.AppendRecord(dst, testAccount, &rec)
		if err == nil {
			t.Errorf("AppendRecord(%.40q) succeeded: %q", raw, out)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("AppendRecord(%.40q) error %v does not wrap ErrMalformed", raw, err)
		}
		if string(out) != "previous message" {
			t.Errorf("AppendRecord(%.40q) changed dst to %q", raw, out)
		}
	}
}

func TestAppendRecord_DeepObjectsBecomeJSONText(t *testing.T) {
	raw := strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20)
	rec := model.Record{LogType: model.LogDLP, Stream: model.StreamDLP, Raw: []byte(raw), Time: collectedAt}
	out, err := newFormatter().AppendRecord(nil, testAccount, &rec)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := parseEvent(string(out))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("a_", maxFlattenDepth-1) + "a"
	if want := strings.Repeat(`{"a":`, 20-maxFlattenDepth) + `1` + strings.Repeat(`}`, 20-maxFlattenDepth); ev.Attrs[name] != want {
		t.Errorf("%s = %q, want %q (attributes %v)", name, ev.Attrs[name], want, ev.Keys)
	}
}

func TestAppendRecord_AppendsToDst(t *testing.T) {
	f := newFormatter()
	rec := model.Record{LogType: model.LogDLP, Stream: model.StreamDLP, Raw: []byte(`{"action":"hold"}`), Time: collectedAt}
	one, err := f.AppendRecord(nil, testAccount, &rec)
	if err != nil {
		t.Fatal(err)
	}
	two, err := f.AppendRecord(append([]byte(nil), one...), testAccount, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(two) != string(one)+string(one) {
		t.Errorf("second message did not append:\n%q", two)
	}
}

func TestAppendRecord_SanitisesHeaderAndAccount(t *testing.T) {
	f := &Formatter{AppVersion: "1|2\n", Now: func() time.Time { return collectedAt }}
	acct := Account{Name: "Acme\tEU\n", LogSourceIdentifier: "acme eu\x01"}
	rec := model.Record{LogType: "odd|type", Stream: model.StreamDLP, Raw: []byte(`{}`)}
	out, err := f.AppendRecord(nil, acct, &rec)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := parseEvent(string(out))
	if err != nil {
		t.Fatalf("parsing %q: %v", out, err)
	}
	if ev.Host != "acme_eu_" || ev.Version != "1_2 " || ev.EventID != "odd_type" || ev.Attrs["mcAccount"] != "Acme EU " || ev.Attrs["mcLogType"] != "odd|type" {
		t.Errorf("host %q version %q eventID %q mcAccount %q mcLogType %q", ev.Host, ev.Version, ev.EventID, ev.Attrs["mcAccount"], ev.Attrs["mcLogType"])
	}
	out, err = (&Formatter{}).AppendRecord(nil, Account{}, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err = parseEvent(string(out)); err != nil || ev.Host != "-" || ev.Version != "dev" {
		t.Errorf("zero Formatter and Account: host %q version %q (%v)", ev.Host, ev.Version, err)
	}
}

func TestAppendRecord_TruncatesLongestValuesKeepingHeaderIdentityAndAddedKeys(t *testing.T) {
	base := `{"aggregateId":"lf7BP8oVOue0keIDXck0Ww_1731454604","processingId":"Ycqry21vB3utdjgPfIFYpj9wQK6HMNkmX_1vFlph1UM_1731454604",` +
		`"timestamp":1731454605992,"action":"Rej","senderIp":"81.2.69.144","recipients":"truorange@demo-int.elastic.mime-api.com",` +
		`"direction":"Inbound","rejectionInfo":"` + strings.Repeat("é", 3000) + `","subject":"` + strings.Repeat("s", 900) + `",` +
		`"messageId":"<` + strings.Repeat("m", 300) + `@example.com>","type":"receipt"}`
	rec := model.Record{Stream: model.StreamSIEM, LogType: model.LogReceipt, Raw: []byte(base), Time: time.UnixMilli(1731454605992)}

	whole, err := newFormatter().AppendRecord(nil, testAccount, &rec)
	if err != nil {
		t.Fatal(err)
	}
	full, err := parseEvent(string(whole))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := full.Attrs["mcTruncated"]; ok {
		t.Fatal("untruncated message is marked mcTruncated")
	}

	for _, maxLen := range []int{len(whole), 4096, 1500, 1024} {
		f := newFormatter()
		f.MaxLen = maxLen
		out, err := f.AppendRecord(nil, testAccount, &rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > maxLen {
			t.Errorf("MaxLen %d: message is %d bytes", maxLen, len(out))
		}
		ev := checkEvent(t, string(out), testAccount, rec, testVersion)
		if maxLen == len(whole) {
			if string(out) != string(whole) {
				t.Errorf("a message of exactly MaxLen was changed")
			}
			continue
		}
		if ev.Attrs["mcTruncated"] != "true" {
			t.Errorf("MaxLen %d: mcTruncated = %q", maxLen, ev.Attrs["mcTruncated"])
		}
		if string(out[:ev.headerEnd]) != string(whole[:full.headerEnd]) {
			t.Errorf("MaxLen %d: header changed", maxLen)
		}
		for _, k := range []string{"devTime", "devTimeFormat", "cat", "sev", "src", "usrName", "mcStream", "mcLogType", "mcAccount",
			"aggregateId", "processingId", "messageId", "timestamp", "action", "direction", "senderIp", "type"} {
			if ev.Attrs[k] != full.Attrs[k] {
				t.Errorf("MaxLen %d: %s cut to %q", maxLen, k, ev.Attrs[k])
			}
		}
		if ri := ev.Attrs["rejectionInfo"]; len(ri) >= len(full.Attrs["rejectionInfo"]) || !utf8.ValidString(ri) {
			t.Errorf("MaxLen %d: longest value not cut or not valid UTF-8 (%d bytes)", maxLen, len(ri))
		}
		if len(ev.Attrs["rejectionInfo"]) < len(ev.Attrs["subject"]) {
			t.Errorf("MaxLen %d: shorter value cut more than the longest", maxLen)
		}
		if maxLen == 4096 && ev.Attrs["subject"] != full.Attrs["subject"] {
			t.Errorf("MaxLen 4096: subject was cut although cutting rejectionInfo alone fits")
		}
	}
}

func TestAppendRecord_TruncationDropsOtherFieldsWhenEvenNamesDoNotFit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"messageId":"<id@example.com>"`)
	for i := range 200 {
		b.WriteString(`,"someRatherLongFieldName` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `":"v"`)
	}
	b.WriteString(`}`)
	rec := model.Record{Stream: model.StreamDLP, LogType: model.LogDLP, Raw: []byte(b.String()), Time: collectedAt}
	f := newFormatter()
	f.MaxLen = 1024
	out, err := f.AppendRecord(nil, testAccount, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 1024 {
		t.Errorf("message is %d bytes, want at most 1024", len(out))
	}
	ev, err := parseEvent(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Attrs["messageId"] != "<id@example.com>" || ev.Attrs["mcTruncated"] != "true" || ev.Attrs["cat"] != "dlp" {
		t.Errorf("messageId %q mcTruncated %q cat %q", ev.Attrs["messageId"], ev.Attrs["mcTruncated"], ev.Attrs["cat"])
	}
}

func TestAppendHealth_CarriesOutcomeAndNoRecordFields(t *testing.T) {
	started := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ended := started.Add(4*time.Second + 250*time.Millisecond)
	cases := []struct {
		name   string
		h      Health
		maxLen int
		want   map[string]string
	}{
		{"successful run", Health{Stream: model.StreamSIEM, Outcome: "ok", Events: 5120, LagSeconds: 42, RunStarted: started, RunEnded: ended}, 0,
			map[string]string{"cat": "ok", "sev": "1", "mcEvents": "5120", "mcLagSeconds": "42", "mcError": "", "mcStream": "siem",
				"mcRunStarted": "2026-11-22T10:00:00.000+0000", "mcRunEnded": "2026-11-22T10:00:04.250+0000", "devTime": "2026-11-22T10:00:04.250+0000"}},
		{"failed run, error sanitised", Health{Stream: model.StreamTTPURL, Error: "sending to QRadar:\n\tconnection refused", RunStarted: started}, 0,
			map[string]string{"cat": "error", "sev": "7", "mcError": "sending to QRadar:  connection refused", "mcRunEnded": "",
				"devTime": "2026-11-22T10:00:00.000+0000"}},
		{"long error is cut to fit", Health{Stream: model.StreamAudit, Outcome: "error", Error: strings.Repeat("x", 5000), RunEnded: ended}, 1024,
			map[string]string{"cat": "error", "mcTruncated": "true"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFormatter()
			f.MaxLen = tc.maxLen
			out := f.AppendHealth([]byte("x"), testAccount, tc.h)
			if out[0] != 'x' {
				t.Fatal("AppendHealth did not append to dst")
			}
			out = out[1:]
			if tc.maxLen > 0 && len(out) > tc.maxLen {
				t.Errorf("message is %d bytes, want at most %d", len(out), tc.maxLen)
			}
			ev, err := parseEvent(string(out))
			if err != nil {
				t.Fatalf("parsing %q: %v", out, err)
			}
			if ev.EventID != "collector_health" || ev.Attrs["mcLogType"] != "collector_health" || ev.Host != testAccount.LogSourceIdentifier ||
				ev.Vendor != "Mimecast" || ev.Product != wantProduct[tc.h.Stream] || ev.Version != testVersion || ev.Attrs["mcAccount"] != testAccount.Name {
				t.Errorf("header/identity: %+v", ev)
			}
			allowed := map[string]bool{"mcEvents": true, "mcLagSeconds": true, "mcRunStarted": true, "mcRunEnded": true, "mcError": true}
			for _, k := range ev.Keys {
				if !addedKeys[k] && !allowed[k] {
					t.Errorf("unexpected attribute %s", k)
				}
			}
			for k, v := range tc.want {
				if ev.Attrs[k] != v {
					t.Errorf("%s = %q, want %q", k, ev.Attrs[k], v)
				}
			}
		})
	}
}

func TestFormatter_SafeForConcurrentUse(t *testing.T) {
	f := newFormatter()
	var recs []model.Record
	for _, sf := range sampleFiles(t) {
		recs = append(recs, sf.records(t)...)
	}
	want := make([]string, len(recs))
	for i := range recs {
		out, err := f.AppendRecord(nil, testAccount, &recs[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = string(out)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			var buf []byte
			for n := range 200 {
				i := (n*7 + g) % len(recs)
				var err error
				buf, err = f.AppendRecord(buf[:0], testAccount, &recs[i])
				if err != nil || string(buf) != want[i] {
					errs <- recs[i].LogType
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for lt := range errs {
		t.Errorf("concurrent formatting of a %s record differed", lt)
	}
}

func TestMapping_RowsAreConsistent(t *testing.T) {
	for _, lt := range LogTypes() {
		m := Mapping(lt)
		// Only snapshot rows (awareness training) have no time field.
		if m.LogType != lt || m.Stream == "" || (len(m.Time) == 0) != (m.Stream == model.StreamAwarenessTraining) {
			t.Errorf("%s: incomplete row %+v", lt, m)
		}
		if _, ok := wantProduct[m.Stream]; !ok {
			t.Errorf("%s: stream %q has no product", lt, m.Stream)
		}
		check := func(what string, sev int) {
			if sev < 1 || sev > 10 {
				t.Errorf("%s: %s severity %d outside 1-10", lt, what, sev)
			}
		}
		check("default", m.Sev)
		for _, c := range m.Categories {
			check(c.Value, c.Sev)
			if c.Name == "" {
				t.Errorf("%s: category %s has no name", lt, c.Value)
			}
		}
		for _, r := range m.SevRules {
			check(r.Field, r.Sev)
		}
	}
	m := Mapping("something_new")
	if m.LogType != "something_new" || m.Sev != 3 || len(m.Cat) == 0 {
		t.Errorf("fallback mapping %+v", m)
	}
	Mapping(model.LogReceipt).Cat[0] = "changed"
	if Mapping(model.LogReceipt).Cat[0] != "action" {
		t.Error("Mapping returned the table's own slices")
	}
}
