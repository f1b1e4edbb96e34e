package leef

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
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
		"audit-events":                  {model.LogAudit, model.StreamAudit},
		"ttp-url-logs":                  {model.LogTTPURL, model.StreamTTPURL},
		"ttp-attachment-logs":           {model.LogTTPAttachment, model.StreamTTPAttachment},
		"ttp-impersonation-logs":        {model.LogTTPImpersonation, model.StreamTTPImpersonation},
		"dlp-logs":                      {model.LogDLP, model.StreamDLP},
		"message-release-logs":          {model.LogMessageRelease, model.StreamMessageRelease},
		"archive-search-logs":           {model.LogArchiveSearch, model.StreamArchiveSearch},
		"threat-intel-malware-customer": {model.LogThreatIntelMalware, model.StreamThreatIntelCustomer},
		"threat-intel-malware-grid":     {model.LogThreatIntelMalware, model.StreamThreatIntelGrid},
		"siem-ci-entities":              {model.LogCIEntities, model.StreamSIEMCI},
		"siem-ci-mailflow":              {model.LogCIMailflow, model.StreamSIEMCI},
		"siem-ci-urlclick":              {model.LogCIURLClick, model.StreamSIEMCI},
		"awareness-safe-score":          {model.LogAwarenessSafeScore, model.StreamAwarenessTraining},
		"awareness-performance":         {model.LogAwarenessPerf, model.StreamAwarenessTraining},
		"awareness-watchlist":           {model.LogAwarenessWatchlist, model.StreamAwarenessTraining},
		"awareness-phishing-user":       {model.LogAwarenessPhishing, model.StreamAwarenessTraining},
	}
	var out []sampleFile
	for _, p := range paths {
		base := filepath.Base(p)
		if base == "README.md" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".jsonl"), ".log"), ".json")
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
	if len(out) < 37 {
		t.Fatalf("found %d sample files, want 37", len(out))
	}
	return out
}

// records builds one model.Record per line of the file: Raw is the JSON
// line (a key_value line is first turned into a JSON object of strings),
// Time is parsed from the record's own time field (zero for snapshot rows,
// which have none). A threat intel bundle (.json) is read by the Mimecast
// client, which makes one record per indicator.
func (sf sampleFile) records(t testing.TB) []model.Record {
	t.Helper()
	if strings.HasSuffix(sf.Path, ".json") {
		return threatIntelRecords(t, sf)
	}
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
		rec := model.Record{Stream: sf.Stream, LogType: sf.LogType, Raw: raw}
		if sf.Stream != model.StreamAwarenessTraining {
			rec.Time = sampleTime(t, raw)
		}
		out = append(out, rec)
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

// sampleTime parses a record's own time: API 2.0 SIEM and Cloud Integrated
// timestamp (epoch ms), API 1.0 datetime, audit/impersonation/DLP
// eventTime, TTP date, held release released, archive search createTime.
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
	for _, k := range []string{"datetime", "eventTime", "date", "released", "createTime"} {
		if s, ok := m[k].(string); ok {
			tm, err := time.Parse("2006-01-02T15:04:05Z0700", s)
			if err != nil {
				tm, err = time.Parse(time.RFC3339, s) // +00:00, as in Mimecast's documentation
			}
			if err != nil {
				t.Fatalf("parsing %s %q: %v", k, s, err)
			}
			return tm
		}
	}
	t.Fatalf("sample without a time field: %s", raw)
	return time.Time{}
}

// threatIntelRecords serves the bundle of sf as the threat intel feed and
// reads it with the Mimecast client, as the collector does.
func threatIntelRecords(t testing.TB, sf sampleFile) []model.Record {
	t.Helper()
	bundle, err := os.ReadFile(sf.Path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/token":
			io.WriteString(w, `{"access_token":"sample-token","token_type":"Bearer","expires_in":1799}`)
		case "/api/ttp/threat-intel/get-feed":
			w.Write(bundle)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cl, err := mimecast.New(mimecast.Credentials{APIVersion: model.APIVersion2, BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"},
		mimecast.Options{HTTPClient: srv.Client(), AllowedOrigins: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var out []model.Record
	_, _, err = cl.ThreatIntel(context.Background(), sf.Stream, time.Time{}, time.Time{}, "", func(r *model.Record) error {
		rec := *r
		rec.Raw = bytes.Clone(r.Raw)
		out = append(out, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sf.Path, err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no indicators", sf.Path)
	}
	return out
}
