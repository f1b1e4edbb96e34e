package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// The fuzz targets below run their seed corpus in every `go test`; run one
// with e.g. `go test -run '^$' -fuzz FuzzEnvelope ./app/internal/mimecast`.
// Inputs that once failed are kept under testdata/fuzz/.

// addSampleSeeds adds every sample record line as a seed.
func addSampleSeeds(f *testing.F, add func(line []byte)) {
	f.Helper()
	files, _ := filepath.Glob("testdata/samples/*")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				add(line)
			}
		}
	}
}

// testDecoder returns a decoder that collects copies of the records.
func testDecoder(kind recordKind, maxRecord int) (*decoder, *[][]byte) {
	var out [][]byte
	d := &decoder{kind: kind, stream: model.StreamSIEM, idField: -1, timeField: fEventTime, maxRecord: maxRecord,
		log: slog.New(slog.DiscardHandler), fn: func(r *model.Record) error {
			out = append(out, bytes.Clone(r.Raw))
			return nil
		}}
	return d, &out
}

// checkDecodeResult asserts the properties every decoder keeps whatever the
// input: only ErrBadResponse errors, and every record a valid JSON object.
func checkDecodeResult(t *testing.T, err error, records [][]byte) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrBadResponse) {
		t.Fatalf("error is not ErrBadResponse: %v", err)
	}
	for _, r := range records {
		if !json.Valid(r) || bytes.TrimSpace(r)[0] != '{' {
			t.Fatalf("record is not a JSON object: %q", r)
		}
	}
}

func FuzzScanRecord(f *testing.F) {
	addSampleSeeds(f, func(line []byte) { f.Add(line) })
	for _, s := range []string{`{}`, ` {"a":[1,2.5e-3,-0,true,false,null,{"b":"\u00e9\n"}]} `, `{"a":01}`, `{"a":1,}`, `[]`,
		`{"type":"url protect","_partition":"3","_offset":9,"timestamp":"1731499059314"}`, `{"a":"\x01"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields recordFields
		err := scanRecord(data, &fields)
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		want := json.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != want {
			t.Fatalf("scanRecord = %v, but json.Valid and object = %v for %q", err, want, data)
		}
		if err != nil {
			return
		}
		for i := range numFields {
			if v := fields.raw(data, i); v != nil && !json.Valid(v) {
				t.Fatalf("field %d span %q is not a JSON value", i, v)
			}
		}
		// Interpreting the fields never panics.
		d, _ := testDecoder(kindSIEMv2, 1<<20)
		d.fields = fields
		_ = d.v2LogType(data)
		_ = d.partitionOffset(data)
		_ = epochMillisTime(fields.raw(data, fTimestamp))
		_ = textTime(fields.raw(data, fDatetime))
		_ = inferV1LogType(&fields)
		_ = d.ciLogType(data)
		_ = d.ciIdentity(data)
		_ = d.awarenessIdentity(data)
		// Adding members keeps the record one valid JSON object.
		if added := d.withMembers(data, []byte(`"campaignId":"c\"1","n":1`)); !json.Valid(added) || scanRecord(added, &fields) != nil {
			t.Fatalf("withMembers(%q) = %q", data, added)
		}
	})
}

func FuzzNDJSON(f *testing.F) {
	var all []byte
	addSampleSeeds(f, func(line []byte) {
		f.Add(line)
		all = append(append(all, line...), '\n')
	})
	f.Add(all)
	f.Add([]byte("{}\r\n\n  \n{\"a\":1}\nnot json\n\xef\xbb\xbf{}\n{\"x\":\"" + string(bytes.Repeat([]byte("y"), 300)) + "\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return // that is the gzip fuzzer's input
		}
		plain, plainOut := testDecoder(kindSIEMv2, 256)
		err := plain.gzipNDJSON(bytes.NewReader(data), 1<<20)
		checkDecodeResult(t, err, *plainOut)
		if err != nil {
			t.Fatalf("plain NDJSON failed: %v", err)
		}
		// Every non-blank line is either a record or counted as malformed.
		lines := 0
		for i, line := range bytes.Split(data, []byte("\n")) {
			if i == 0 {
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			if len(bytes.TrimSpace(line)) > 0 {
				lines++
			}
		}
		if plain.stats.Records+plain.stats.Malformed != lines {
			t.Fatalf("%d records + %d malformed for %d lines", plain.stats.Records, plain.stats.Malformed, lines)
		}
		// The same content gzipped decodes to the same records.
		zipped, zippedOut := testDecoder(kindSIEMv2, 256)
		err = zipped.gzipNDJSON(bytes.NewReader(gzipBytes(t, data)), 1<<20)
		if err != nil || zipped.stats != plain.stats || len(*zippedOut) != len(*plainOut) {
			t.Fatalf("gzipped: %v, %+v; plain %+v", err, zipped.stats, plain.stats)
		}
		for i := range *plainOut {
			if !bytes.Equal((*plainOut)[i], (*zippedOut)[i]) {
				t.Fatalf("record %d differs", i)
			}
		}
	})
}

func FuzzGzip(f *testing.F) {
	f.Add(gzipBytes(f, []byte("{\"type\":\"receipt\"}\n{}\n")))
	full := gzipBytes(f, bytes.Repeat([]byte("{\"type\":\"av\",\"timestamp\":1}\n"), 50))
	f.Add(full[:len(full)/2])
	f.Add(append(bytes.Clone(full), full...))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, out := testDecoder(kindSIEMv2, 4096)
		err := d.gzipNDJSON(bytes.NewReader(data), 1<<20)
		checkDecodeResult(t, err, *out)
	})
}

// member is one name/value pair of a JSON object, as encoding/json sees it.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers lists an object's members in order, duplicates included,
// using encoding/json; ok is false for anything but an object.
func objectMembers(raw []byte) (members []member, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		members = append(members, member{tok.(string), v})
	}
	return members, true
}

// refRecords finds, with encoding/json, the records an /api envelope (or an
// API 1.0 SIEM document) holds; ok is false for shapes the decoders refuse.
func refRecords(data []byte, wrapper string, meta bool) (records []json.RawMessage, ok bool) {
	top, ok := objectMembers(data)
	if !ok {
		return nil, false
	}
	for _, m := range top {
		switch {
		case m.name == "meta" && meta:
			var pm pageMeta
			if json.Unmarshal(m.value, &pm) != nil {
				return nil, false
			}
		case m.name == "data":
			var elems []json.RawMessage
			if json.Unmarshal(m.value, &elems) != nil {
				return nil, false
			}
			for _, el := range elems {
				if wrapper == "" {
					records = append(records, el)
					continue
				}
				inner, isObj := objectMembers(el)
				if !isObj {
					records = append(records, el) // counted as malformed
					continue
				}
				for _, im := range inner {
					if im.name != wrapper {
						continue
					}
					var recs []json.RawMessage
					if json.Unmarshal(im.value, &recs) != nil {
						return nil, false
					}
					records = append(records, recs...)
				}
			}
		}
	}
	return records, true
}

// compareWithReference checks decoder output against refRecords.
func compareWithReference(t *testing.T, d *decoder, out [][]byte, ref []json.RawMessage) {
	t.Helper()
	var want [][]byte
	malformed := 0
	for _, r := range ref {
		if r[0] == '{' && len(r) <= d.maxRecord {
			want = append(want, r)
		} else {
			malformed++
		}
	}
	if len(out) != len(want) || d.stats.Malformed != malformed {
		t.Fatalf("decoder: %d records, %d malformed; reference: %d, %d", len(out), d.stats.Malformed, len(want), malformed)
	}
	for i := range want {
		if !bytes.Equal(out[i], want[i]) {
			t.Fatalf("record %d = %q, reference %q", i, out[i], want[i])
		}
	}
}

func FuzzEnvelope(f *testing.F) {
	files, _ := filepath.Glob("testdata/responses/v1-*.json")
	for _, name := range files {
		data, _ := os.ReadFile(name)
		f.Add(data, uint8(0))
		f.Add(data, uint8(1))
	}
	f.Add([]byte(`{"data":[{"clickLogs":[{"a":1},"x",{"b":[{}]}],"other":{"clickLogs":1}},null,7],"meta":{"pagination":{"next":5}}}`), uint8(1))
	f.Add([]byte(`{"data":null,"fail":[{"errors":[{"code":"c"}]}],"data":[{"id":"\"}"}]}`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		wrapper := ""
		if which%2 == 1 {
			wrapper = "clickLogs"
		}
		d, out := testDecoder(kindAPI, 512)
		_, _, err := d.envelope(bytes.NewReader(data), wrapper)
		checkDecodeResult(t, err, *out)
		if !json.Valid(data) {
			return
		}
		if ref, ok := refRecords(data, wrapper, true); ok {
			if err != nil {
				t.Fatalf("valid envelope refused: %v", err)
			}
			compareWithReference(t, d, *out, ref)
		}
	})
}

// refIndicators finds, with encoding/json, the indicator ids of a threat
// intel bundle and how many objects the decoder must count as malformed;
// ok is false for shapes the decoder refuses.
func refIndicators(data []byte, maxRecord int) (ids []string, malformed int, ok bool) {
	top, ok := objectMembers(data)
	if !ok {
		return nil, 0, false
	}
	for _, m := range top {
		switch m.name {
		case "objects":
			if string(m.value) == "null" {
				continue
			}
			var elems []json.RawMessage
			if json.Unmarshal(m.value, &elems) != nil {
				return nil, 0, false
			}
			for _, el := range elems {
				if el[0] != '{' || len(el) > maxRecord {
					malformed++
					continue
				}
				var o struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				}
				_ = json.Unmarshal(el, &o)
				if o.Type == "indicator" {
					ids = append(ids, o.ID)
				}
			}
		case "fail":
			// Any value is accepted (an unreadable one is still a failure).
		}
	}
	return ids, malformed, true
}

func FuzzSTIXBundle(f *testing.F) {
	for _, name := range []string{"threat-intel-malware-customer.json", "threat-intel-malware-grid.json", "v2-threat-intel-no-result.json"} {
		f.Add(readFile(f, "testdata/responses/"+name))
	}
	f.Add([]byte(`{"objects":[{"type":"relationship","relationship_type":"indicates","source_ref":"i","target_ref":"m"},{"type":"indicator","id":"i","pattern":"[file:hashes.'SHA-256' = '` + string(bytes.Repeat([]byte("a"), 64)) + `']"},{"type":"malware","id":"m","name":"x\u00e9"},1,{}],"objects":null,"objects":[{"type":"indicator","sha256":1,"feed_type":"f","id":7}]}`))
	f.Add([]byte(`{"objects":[{"type":"indicator","id":"\"}"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxRecord = 512
		var ids []string
		var records [][]byte
		d, _ := testDecoder(kindAPI, maxRecord)
		d.fn = func(r *model.Record) error {
			ids = append(ids, r.ID)
			records = append(records, bytes.Clone(r.Raw))
			return nil
		}
		_, _, err := d.stixBundle(bytes.NewReader(data), "malware_grid")
		checkDecodeResult(t, err, records)
		if !json.Valid(data) {
			return
		}
		want, malformed, ok := refIndicators(data, maxRecord)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("valid bundle refused: %v", err)
		}
		if d.stats.Malformed != malformed || len(ids) != len(want) {
			t.Fatalf("decoder: %d records, %d malformed; reference: %d, %d", len(ids), d.stats.Malformed, len(want), malformed)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Fatalf("record %d has id %q, reference %q", i, ids[i], want[i])
			}
		}
	})
}

func FuzzSIEMv1File(f *testing.F) {
	f.Add(readFile(f, "testdata/responses/v1-siem-file-envelope.json"))
	f.Add(readFile(f, "testdata/samples/siem-v1-receipt.key_value.log"))
	f.Add([]byte(`[{"datetime":"2021-10-19T07:06:40+0100"},1] {"data":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, out := testDecoder(kindSIEMv1, 512)
		err := d.siemV1File(bytes.NewReader(data))
		checkDecodeResult(t, err, *out)
		if json.Valid(data) {
			if ref, ok := refRecords(data, "", false); ok {
				if err != nil {
					t.Fatalf("valid document refused: %v", err)
				}
				compareWithReference(t, d, *out, ref)
			}
		}
	})
}

func FuzzKeyValueLine(f *testing.F) {
	f.Add(readFile(f, "testdata/samples/siem-v1-receipt.key_value.log"))
	f.Add([]byte(`a=\x|y\|b={"c":"|"}|d=[1,2|e=|f=\`))
	f.Add([]byte("k=\x00\"\\\xff|k=dup|tail"))
	f.Fuzz(func(t *testing.T, line []byte) {
		d, out := testDecoder(kindSIEMv1, 1<<20)
		if err := d.keyValueLine(line); err != nil {
			t.Fatal(err)
		}
		if d.stats.Records+d.stats.Malformed != 1 {
			t.Fatalf("stats %+v for one line", d.stats)
		}
		for _, r := range *out {
			var fields map[string]string
			if err := json.Unmarshal(r, &fields); err != nil || !json.Valid(r) {
				t.Fatalf("Raw %q is not a JSON object of strings: %v", r, err)
			}
		}
	})
}

func FuzzZip(f *testing.F) {
	record := string(readFile(f, "testdata/samples/siem-v1-journal.jsonl"))
	f.Add(zipBytes(f, [2]string{"jrnl_1.json", `{"type":"MTA","data":[` + record + `]}`}))
	f.Add(zipBytes(f, [2]string{"receipt_1.log", string(readFile(f, "testdata/samples/siem-v1-receipt.key_value.log"))},
		[2]string{"dir/", ""}, [2]string{"x.json", "[]"}))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, out := testDecoder(kindSIEMv1, 4096)
		err := d.zip(bytes.NewReader(data), int64(len(data)), 20, 1<<20)
		checkDecodeResult(t, err, *out)
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2021-10-19T07:06:40+0100", "2024-06-05T11:50:06.389Z", "2017-05-26T19:40:33-0000",
		"2023-02-29T00:00:00Z", "2024-12-31T23:59:59.999999999+2359", "2021-10-19 07:06:40", "2021-10-19T07:06:40+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime([]byte(s))
		// Every input the standard library reads with Mimecast's layouts
		// must give the same instant here. Go also takes a one-digit hour
		// ("T7:06:40"); Mimecast always writes two, and so must the input.
		if len(s) < 19 || s[13] != ':' {
			return
		}
		for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339Nano} {
			want, err := time.Parse(layout, s)
			if err != nil || want.Year() < 0 {
				continue
			}
			if !ok || !got.Equal(want) {
				t.Fatalf("parseTime(%q) = %v, %v; time.Parse(%q) = %v", s, got, ok, layout, want)
			}
		}
		if ok && got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) not in UTC", s)
		}
	})
}

// errReader fails after its data, to exercise read-error paths.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecoders_ReadErrorsKeepTheirKind(t *testing.T) {
	netErr := &errReader{data: []byte("{\"a\":1}\n{\"b\""), err: ErrNetwork}
	d, _ := testDecoder(kindSIEMv2, 1024)
	if err := d.gzipNDJSON(netErr, 1<<20); !errors.Is(err, ErrNetwork) || d.stats.Records != 1 {
		t.Errorf("NDJSON: %v, %+v", err, d.stats)
	}
	other := &errReader{data: []byte(`{"data":[{"a":1},`), err: io.ErrClosedPipe}
	d, _ = testDecoder(kindAPI, 1024)
	if _, _, err := d.envelope(other, ""); !errors.Is(err, ErrBadResponse) || d.stats.Records != 1 {
		t.Errorf("envelope: %v, %+v", err, d.stats)
	}
}
