package leef

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// sampleFile is one file of real records under testdata/samples.
type sampleFile struct {
	Name    string // file name without extension, also the golden file's name
	Path    string
	LogType string
	Stream  model.Stream
}

// sampleFiles lists the sample files of every log type of both API
// generations, the log type taken from the file name.
func sampleFiles(t testing.TB) []sampleFile {
	t.Helper()
	paths, err := filepath.Glob("testdata/samples/*")
	if err != nil {
		t.Fatal(err)
	}
	siemTypes := map[string]string{
		"receipt": model.LogReceipt, "process": model.LogProcess, "delivery": model.LogDelivery,
		"journal": model.LogJournal, "av": model.LogAV, "spam": model.LogSpam,
		"internal-email-protect": model.LogInternalEmailProt, "impersonation-protect": model.LogImpersonationProt,
		"url-protect": model.LogURLProtect, "attachment-protect": model.LogAttachmentProtect,
	}
	others := map[string]struct {
		logType string
		stream  model.Stream
	}{
		"audit-events":           {model.LogAudit, model.StreamAudit},
		"ttp-url-logs":           {model.LogTTPURL, model.StreamTTPURL},
		"ttp-attachment-logs":    {model.LogTTPAttachment, model.StreamTTPAttachment},
		"ttp-impersonation-logs": {model.LogTTPImpersonation, model.StreamTTPImpersonation},
		"dlp-logs":               {model.LogDLP, model.StreamDLP},
	}
	var out []sampleFile
	for _, p := range paths {
		base := filepath.Base(p)
		if base == "README.md" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(base, ".jsonl"), ".log")
		sf := sampleFile{Name: name, Path: p}
		switch {
		case strings.HasPrefix(name, "siem-v1-") || strings.HasPrefix(name, "siem-v2-"):
			lt, ok := siemTypes[strings.TrimSuffix(name[len("siem-v1-"):], ".key_value")]
			if !ok {
				t.Fatalf("sample %s: unknown SIEM log type", base)
			}
			sf.LogType, sf.Stream = lt, model.StreamSIEM
		default:
			o, ok := others[name]
			if !ok {
				t.Fatalf("sample %s: unknown log type", base)
			}
			sf.LogType, sf.Stream = o.logType, o.stream
		}
		out = append(out, sf)
	}
	if len(out) < 26 {
		t.Fatalf("found %d sample files, want 26", len(out))
	}
	return out
}

// records builds one model.Record per line of the file: Raw is the JSON
// line (a key_value line is first turned into a JSON object of strings),
// Time is parsed from the record's own time field.
func (sf sampleFile) records(t testing.TB) []model.Record {
	t.Helper()
	f, err := os.Open(sf.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []model.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		raw := bytes.Clone(line)
		if strings.HasSuffix(sf.Path, ".key_value.log") {
			raw = keyValueToJSON(t, string(line))
		}
		out = append(out, model.Record{Stream: sf.Stream, LogType: sf.LogType, Raw: raw, Time: sampleTime(t, raw)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", sf.Path)
	}
	return out
}

var kvKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*=`)

// keyValueToJSON turns an API 1.0 key_value line ("k=v|k=v") into a JSON
// object of strings, keeping key order. A '|' not followed by "key=" belongs
// to the value.
func keyValueToJSON(t testing.TB, line string) []byte {
	t.Helper()
	var pairs []string
	for _, part := range strings.Split(line, "|") {
		if kvKey.MatchString(part) || len(pairs) == 0 {
			pairs = append(pairs, part)
		} else {
			pairs[len(pairs)-1] += "|" + part
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			t.Fatalf("key_value pair without '=': %q", p)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(v)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// sampleTime parses a record's own time: API 2.0 SIEM timestamp (epoch
// ms), API 1.0 datetime, audit/impersonation/DLP eventTime, TTP date.
func sampleTime(t testing.TB, raw []byte) time.Time {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("sample is not JSON: %v", err)
	}
	if n, ok := m["timestamp"].(json.Number); ok {
		ms, err := n.Int64()
		if err != nil {
			t.Fatal(err)
		}
		return time.UnixMilli(ms)
	}
	for _, k := range []string{"datetime", "eventTime", "date"} {
		if s, ok := m[k].(string); ok {
			tm, err := time.Parse("2006-01-02T15:04:05-0700", s)
			if err != nil {
				t.Fatalf("parsing %s %q: %v", k, s, err)
			}
			return tm
		}
	}
	t.Fatalf("sample without a time field: %s", raw)
	return time.Time{}
}
