package mimecastsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// shape maps each key seen to the JSON kinds of its non-null values.
type shape map[string]map[string]bool

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "?"
}

func (sh shape) add(t *testing.T, raw []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("record is not a JSON object: %v\n%s", err, raw)
	}
	for k, v := range m {
		if sh[k] == nil {
			sh[k] = map[string]bool{}
		}
		if kind := kindOf(v); kind != "null" {
			sh[k][kind] = true
		}
	}
}

func sampleShape(t *testing.T, name string) shape {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sh := shape{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			sh.add(t, line)
		}
	}
	// elastic copies the HTTP Content-Disposition header into its fixture
	// records; it is not a Mimecast field.
	delete(sh, "Content-Disposition")
	return sh
}

// compareShapes checks that got has every key of want, no key outside
// want and extra, and value kinds the samples show.
func compareShapes(t *testing.T, want, got shape, extra ...string) {
	t.Helper()
	for k := range want {
		if got[k] == nil {
			t.Errorf("generated records never carry %q", k)
		}
	}
	for k, kinds := range got {
		if want[k] == nil {
			if !slices.Contains(extra, k) {
				t.Errorf("generated records carry %q, which the samples do not have", k)
			}
			continue
		}
		if len(want[k]) == 0 {
			continue // only null in the samples: any kind is plausible
		}
		for kind := range kinds {
			if !want[k][kind] {
				t.Errorf("%q is a %s in generated records but %v in the samples", k, kind, slices.Sorted(maps.Keys(want[k])))
			}
		}
	}
}

func newTestSim(t *testing.T) *Sim {
	t.Helper()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := New(Options{Seed: 7, Now: func() time.Time { return now }, RecordsPerFile: 100})
	s.AddAccount(Account{Name: "A", ClientID: "id", ClientSecret: "secret", AppID: "app", AppKey: "key", AccessKey: "access", SecretKey: "c2VjcmV0"})
	return s
}

func TestGeneratedSIEMRecordsHaveTheSampleShapes(t *testing.T) {
	s := newTestSim(t)
	for _, st := range siemTypes {
		s.GenerateSIEM("A", st.log, 300)
	}
	byType := map[string][]Record{}
	for _, r := range s.Records("A", model.StreamSIEM) {
		byType[r.LogType] = append(byType[r.LogType], r)
	}
	for _, st := range siemTypes {
		t.Run(st.log, func(t *testing.T) {
			file := strings.ReplaceAll(st.v2, " ", "-")
			v1, v2 := shape{}, shape{}
			for _, r := range byType[st.log] {
				v2.add(t, r.Raw)
				v1.add(t, r.RawV1)
			}
			if len(byType[st.log]) != 300 {
				t.Fatalf("got %d records, want 300", len(byType[st.log]))
			}
			t.Run("v2", func(t *testing.T) { compareShapes(t, sampleShape(t, "siem-v2-"+file+".jsonl"), v2) })
			t.Run("v1", func(t *testing.T) {
				// aCode: written on every record so tests can identify it
				// (real url/attachment protect records may lack it).
				// Rej*: reference §4.2 lists them for rejected receipts.
				compareShapes(t, sampleShape(t, "siem-v1-"+file+".jsonl"), v1, "aCode", "RejType", "RejCode", "RejInfo")
			})
		})
	}
}

func TestGeneratedLogRecordsHaveTheSampleShapes(t *testing.T) {
	samples := map[model.Stream]string{
		model.StreamAudit:            "audit-events.jsonl",
		model.StreamTTPURL:           "ttp-url-logs.jsonl",
		model.StreamTTPAttachment:    "ttp-attachment-logs.jsonl",
		model.StreamTTPImpersonation: "ttp-impersonation-logs.jsonl",
		model.StreamDLP:              "dlp-logs.jsonl",
	}
	s := newTestSim(t)
	for stream, file := range samples {
		t.Run(string(stream), func(t *testing.T) {
			s.Generate("A", stream, 300)
			got := shape{}
			for _, r := range s.Records("A", stream) {
				got.add(t, r.Raw)
			}
			compareShapes(t, sampleShape(t, file), got)
		})
	}
}

// parseKV splits a key_value line as Sentinel does: fields on `|`, each on
// its first `=`.
func parseKV(line string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Split(line, "|") {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return out
}

func TestKeyValueLinesCarryTheSameFieldsAsJSON(t *testing.T) {
	s := newTestSim(t)
	a := s.mustAccount("A")
	for _, st := range siemTypes {
		s.GenerateSIEM("A", st.log, 100)
	}
	sample, err := os.ReadFile(filepath.Join("testdata", "samples", "siem-v1-receipt.key_value.log"))
	if err != nil {
		t.Fatal(err)
	}
	sampleKV := parseKV(strings.TrimSpace(string(sample)))

	for _, f := range a.cg.files {
		var jsonRecs []map[string]any
		forEachRecord(a, f, formV1JSON, func(_ string, _ time.Time, rec []byte) {
			var m map[string]any
			if err := json.Unmarshal(rec, &m); err != nil {
				t.Fatal(err)
			}
			jsonRecs = append(jsonRecs, m)
		})
		i := 0
		forEachRecord(a, f, formV1KV, func(_ string, _ time.Time, rec []byte) {
			line := string(rec)
			if !strings.HasPrefix(line, "datetime=") || strings.ContainsAny(line, "\n\r") {
				t.Fatalf("%s: key_value line must start with datetime= and be one line: %q", f.st.log, line)
			}
			kv, js := parseKV(line), jsonRecs[i]
			i++
			for k, v := range js {
				got, ok := kv[k]
				if v == nil {
					if ok {
						t.Errorf("%s: null field %q written as %q", f.st.log, k, got)
					}
					continue
				}
				var want string
				switch v := v.(type) {
				case string:
					want = v
					if k == "Subject" || k == "subject" || k == "RejInfo" {
						want = `\` + v + `\`
					}
				case map[string]any:
					var gotObj any
					if err := json.Unmarshal([]byte(got), &gotObj); err != nil || !reflect.DeepEqual(gotObj, v) {
						t.Errorf("%s: field %q is %q in key_value, want the JSON object %v", f.st.log, k, got, v)
					}
					continue
				default:
					b, _ := json.Marshal(v)
					want = string(b)
				}
				if got != want {
					t.Errorf("%s: field %q is %q in key_value, want %q", f.st.log, k, got, want)
				}
			}
			if len(kv) != countNonNull(js) {
				t.Errorf("%s: key_value has %d fields, JSON %d non-null", f.st.log, len(kv), countNonNull(js))
			}
			if f.st.log == model.LogReceipt && kv["Act"] == "Acc" {
				for k := range sampleKV {
					if _, ok := kv[k]; !ok && k != "TlsVer" && k != "Cphr" {
						t.Errorf("accepted receipt line lacks %q, which the sample line has", k)
					}
				}
			}
		})
	}
}

func countNonNull(m map[string]any) int {
	n := 0
	for _, v := range m {
		if v != nil {
			n++
		}
	}
	return n
}

func TestGenerationIsDeterministicForASeed(t *testing.T) {
	gen := func(seed int64) []Record {
		now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
		s := New(Options{Seed: seed, Now: func() time.Time { return now }, RecordsPerFile: 70})
		s.AddAccount(Account{Name: "A", ClientID: "id", ClientSecret: "x"})
		s.Generate("A", model.StreamSIEM, 500)
		s.Generate("A", model.StreamAudit, 50)
		return append(s.Records("A", model.StreamSIEM), s.Records("A", model.StreamAudit)...)
	}
	a, b, c := gen(1), gen(1), gen(2)
	if len(a) != 550 || len(b) != 550 {
		t.Fatalf("got %d and %d records, want 550", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) || !bytes.Equal(a[i].RawV1, b[i].RawV1) {
			t.Fatalf("record %d differs between two runs with the same seed:\n%s\n%s", i, a[i].Raw, b[i].Raw)
		}
	}
	same := 0
	for i := range a {
		if bytes.Equal(a[i].Raw, c[i].Raw) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d records identical across different seeds", same)
	}
}

func TestRecordIDsAreUniqueAndInsideTheRecords(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", model.StreamSIEM, 3000)
	s.Generate("A", model.StreamSIEMCI, 1000)
	s.Generate("A", model.StreamAwarenessTraining, 60)
	s.Generate("A", model.StreamAwarenessTraining, 40)
	streams := []model.Stream{model.StreamSIEM, model.StreamSIEMCI, model.StreamAwarenessTraining}
	for _, le := range logEndpoints {
		s.Generate("A", le.stream, 500)
		streams = append(streams, le.stream)
	}
	for _, f := range threatFeeds {
		s.Generate("A", f.stream, 500)
		streams = append(streams, f.stream)
	}
	for _, stream := range streams {
		seen := map[string][]byte{}
		twins := 0
		recs := s.Records("A", stream)
		if len(recs) != s.Delivered("A", stream) || len(recs) == 0 {
			t.Errorf("%s: Records has %d, Delivered says %d", stream, len(recs), s.Delivered("A", stream))
		}
		for _, r := range recs {
			if prev, dup := seen[r.ID]; r.ID == "" || dup {
				// Only archive search repeats an id: for an exact twin.
				if stream != model.StreamArchiveSearch || !bytes.Equal(prev, r.Raw) {
					t.Fatalf("%s: id %q empty or repeated", stream, r.ID)
				}
				twins++
			}
			seen[r.ID] = r.Raw
			raw := r.Raw
			if r.LogType == model.LogAwarenessPhishing {
				// The client adds the campaign; RecordID reads it.
				if RecordID(stream, raw) != "" {
					t.Fatalf("phishing row identified without its campaign: %s", raw)
				}
				_, campaign, _ := strings.Cut(r.ID, "|")
				raw = append(bytes.TrimSuffix(bytes.Clone(raw), []byte("}")), `,"campaignId":"`+campaign+`","campaignName":"x"}`...)
			}
			if got := RecordID(stream, raw); got != r.ID {
				t.Fatalf("%s: RecordID(Raw) = %q, want %q", stream, got, r.ID)
			}
			if stream == model.StreamSIEM {
				if got := RecordID(stream, r.RawV1); got != r.ID {
					t.Fatalf("RecordID(RawV1) = %q, want %q", got, r.ID)
				}
			}
		}
		if stream == model.StreamArchiveSearch && twins != 500/twinEvery {
			t.Errorf("archive search: %d twins in 500 records, want %d", twins, 500/twinEvery)
		}
	}
}

func TestRecordTimesSpreadOverTheWindowInOrder(t *testing.T) {
	s := newTestSim(t)
	now := s.now()
	s.Generate("A", model.StreamSIEM, 2000)
	s.Generate("A", model.StreamDLP, 200)
	from := now.Add(-s.opts.Spread)
	for _, stream := range []model.Stream{model.StreamSIEM, model.StreamDLP} {
		recs := s.Records("A", stream)
		var minT, maxT time.Time
		for i, r := range recs {
			if r.Time.Before(from.Add(-time.Second)) || r.Time.After(now) {
				t.Fatalf("%s record %d at %v outside [%v, %v]", stream, i, r.Time, from, now)
			}
			if minT.IsZero() || r.Time.Before(minT) {
				minT = r.Time
			}
			if r.Time.After(maxT) {
				maxT = r.Time
			}
		}
		if maxT.Sub(minT) < s.opts.Spread*9/10 {
			t.Errorf("%s: times span only %v of %v", stream, maxT.Sub(minT), s.opts.Spread)
		}
	}
	// Within one SIEM file records are in time order, and the v2
	// timestamp and the v1 datetime agree.
	for _, f := range s.mustAccount("A").cg.files {
		var last int64
		forEachRecord(s.mustAccount("A"), f, formV2, func(_ string, ts time.Time, rec []byte) {
			var m struct {
				Timestamp int64 `json:"timestamp"`
			}
			json.Unmarshal(rec, &m)
			if m.Timestamp != ts.UnixMilli() || m.Timestamp < last || m.Timestamp < f.start || m.Timestamp > f.end {
				t.Fatalf("file %d: timestamp %d out of order or range [%d, %d]", f.seq, m.Timestamp, f.start, f.end)
			}
			last = m.Timestamp
		})
	}
}

func TestV1DatetimeUsesTheAccountZone(t *testing.T) {
	s := newTestSim(t)
	s.AddAccount(Account{Name: "Z", AppID: "a", AppKey: "k", AccessKey: "z", SecretKey: "c2VjcmV0", Location: time.FixedZone("", 3600)})
	s.GenerateSIEM("Z", model.LogJournal, 5)
	for _, r := range s.Records("Z", model.StreamSIEM) {
		var m struct {
			Datetime string `json:"datetime"`
		}
		json.Unmarshal(r.RawV1, &m)
		got, err := time.Parse(v1TimeLayout, m.Datetime)
		if err != nil || !strings.HasSuffix(m.Datetime, "+0100") || !got.Equal(r.Time.Truncate(time.Second)) {
			t.Errorf("datetime %q (err %v), want %v in +0100", m.Datetime, err, r.Time)
		}
	}
}

func TestSplitByWeightGivesEveryTypeItsShare(t *testing.T) {
	for _, n := range []int{1, 3, 10, 11, 99, 1000, 123457} {
		total, types := 0, 0
		for _, tc := range splitByWeight(siemTypes, n) {
			total += tc.n
			if tc.n > 0 {
				types++
			}
		}
		if total != n {
			t.Errorf("n=%d: split sums to %d", n, total)
		}
		if want := min(n, len(siemTypes)); types != want {
			t.Errorf("n=%d: %d types got records, want %d", n, types, want)
		}
	}
}

func TestGenerateSkipsStreamsItDoesNotSimulate(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", "no_such_stream", 10)
	if n := s.Delivered("A", "no_such_stream"); n != 0 {
		t.Errorf("Delivered = %d for a stream without an endpoint", n)
	}
}

func TestGeneratedHeldReleaseRecordsComeInEveryShape(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", model.StreamMessageRelease, 600)
	got := shape{}
	operators := map[string]int{}
	untimed := 0
	for _, r := range s.Records("A", model.StreamMessageRelease) {
		got.add(t, r.Raw)
		var m struct {
			Released *string         `json:"released"`
			Operator json.RawMessage `json:"operator"`
		}
		if err := json.Unmarshal(r.Raw, &m); err != nil {
			t.Fatal(err)
		}
		var op map[string]any
		switch {
		case json.Unmarshal(m.Operator, &op) == nil:
			operators[strings.Join(slices.Sorted(maps.Keys(op)), ",")]++
		default:
			operators["string"]++
		}
		if m.Released == nil {
			untimed++
			if !r.Time.IsZero() {
				t.Errorf("record without released has ground-truth time %v", r.Time)
			}
			continue
		}
		want, err := time.Parse("2006-01-02T15:04:05Z07:00", strings.Replace(*m.Released, "+0000", "+00:00", 1))
		if err != nil || !want.Equal(r.Time) {
			t.Errorf("released %q (%v), ground truth %v", *m.Released, err, r.Time)
		}
	}
	// The BlinkOps shape carries a top-level verdict the fixtures lack.
	compareShapes(t, sampleShape(t, "message-release-logs.jsonl"), got, "verdict")
	for _, k := range []string{"string", "emailAddress", "email"} {
		if operators[k] < 100 {
			t.Errorf("operator shape %q in %d of 600 records; shapes seen %v", k, operators[k], operators)
		}
	}
	if untimed == 0 || untimed > 30 {
		t.Errorf("%d of 600 records without released, want a few", untimed)
	}
}

func TestGeneratedArchiveSearchRecordsHaveTheSampleShape(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", model.StreamArchiveSearch, 300)
	got := shape{}
	for _, r := range s.Records("A", model.StreamArchiveSearch) {
		got.add(t, r.Raw)
	}
	compareShapes(t, sampleShape(t, "archive-search-logs.jsonl"), got)
}

func TestGeneratedCIRecordsHaveTheSampleShapes(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", model.StreamSIEMCI, 900)
	byType := map[string]shape{}
	for _, r := range s.Records("A", model.StreamSIEMCI) {
		if byType[r.LogType] == nil {
			byType[r.LogType] = shape{}
		}
		byType[r.LogType].add(t, r.Raw)
		var m struct{ Type string }
		json.Unmarshal(r.Raw, &m)
		if "ci_"+m.Type != r.LogType {
			t.Fatalf("record type %q in a %s file", m.Type, r.LogType)
		}
	}
	compareShapes(t, sampleShape(t, "siem-ci-entities.jsonl"), byType[model.LogCIEntities])
	compareShapes(t, sampleShape(t, "siem-ci-mailflow.jsonl"), byType[model.LogCIMailflow])
	// No urlclick sample exists: the fields of elastic's field list.
	urlclick := shape{}
	for _, k := range []string{"_offset", "_partition", "accountId", "aggregateId", "processingId", "timestamp", "type", "subtype",
		"action", "originalUrl", "redirectUrl", "sourceIp"} {
		urlclick[k] = map[string]bool{}
	}
	compareShapes(t, urlclick, byType[model.LogCIURLClick])
}

func TestGeneratedSTIXObjectsHaveTheSampleShapes(t *testing.T) {
	s := newTestSim(t)
	for _, f := range threatFeeds {
		t.Run(f.feedType, func(t *testing.T) {
			s.Generate("A", f.stream, 200)
			var bundle struct{ Objects []json.RawMessage }
			data, err := os.ReadFile(filepath.Join("testdata", "samples", "threat-intel-"+strings.ReplaceAll(f.feedType, "_", "-")+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &bundle); err != nil {
				t.Fatal(err)
			}
			want := map[string]shape{}
			for _, o := range bundle.Objects {
				var m struct{ Type string }
				json.Unmarshal(o, &m)
				if want[m.Type] == nil {
					want[m.Type] = shape{}
				}
				want[m.Type].add(t, o)
			}
			got := map[string]shape{"indicator": {}, "malware": {}, "relationship": {}}
			names := 0
			for _, r := range s.mustAccount("A").logs[f.stream].recs {
				got["indicator"].add(t, r.raw)
				got["malware"].add(t, r.malware)
				got["relationship"].add(t, r.rel)
				if r.malwareName != "" {
					names++
				}
				var ind struct{ Pattern string }
				json.Unmarshal(r.raw, &ind)
				if !regexp.MustCompile(`^\[file:hashes\.'SHA-256' = '[0-9a-f]{64}'\]$`).MatchString(ind.Pattern) {
					t.Fatalf("pattern %q", ind.Pattern)
				}
			}
			for typ, sh := range want {
				compareShapes(t, sh, got[typ])
			}
			if names == 0 || names == 200 {
				t.Errorf("%d of 200 malware objects named; the samples have both named and empty", names)
			}
		})
	}
}

func TestGeneratedAwarenessRowsHaveTheSentinelFields(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", model.StreamAwarenessTraining, 80)
	// Field lists of Sentinel's Awareness_*_CL tables (more-streams §6).
	fields := map[string][]string{
		model.LogAwarenessSafeScore: {"emailAddress", "name", "department", "risk", "humanError", "sentiment", "engagement", "knowledge", "userState"},
		model.LogAwarenessPerf:      {"email", "name", "department", "numCorrect", "numIncorrect", "numNotWatched", "userDetails", "userState"},
		model.LogAwarenessWatchlist: {"email", "name", "department", "watchlistCount", "userState"},
		model.LogAwarenessPhishing: {"name", "email", "department", "templateName", "status", "userState", "clickedIp", "numCampaignsSent",
			"numCampaignsClicked", "numCampaignsScanned", "numCampaignsClickedScanned", "numTrainingModulesAssigned", "numCorrectAnswers",
			"numIncorrectAnswers", "reactionTime", "timeScheduled", "timeOpened", "timeClicked", "timeReported", "timeScanned", "timeSubmitted"},
	}
	got := map[string]shape{}
	for _, r := range s.Records("A", model.StreamAwarenessTraining) {
		if got[r.LogType] == nil {
			got[r.LogType] = shape{}
		}
		got[r.LogType].add(t, r.Raw)
		if !r.Time.IsZero() {
			t.Fatalf("snapshot row with a time: %+v", r)
		}
	}
	for logType, keys := range fields {
		want := shape{}
		for _, k := range keys {
			want[k] = map[string]bool{}
		}
		compareShapes(t, want, got[logType])
	}
	if n := s.Delivered("A", model.StreamAwarenessTraining); n <= 3*80 {
		t.Errorf("%d rows for 80 users: no phishing campaign rows", n)
	}
}

func TestUpdateAwarenessChangesOnlyTheUpdatedUsersRows(t *testing.T) {
	s := newTestSim(t)
	s.Generate("A", model.StreamAwarenessTraining, 10)
	before := map[string][]byte{}
	for _, r := range s.Records("A", model.StreamAwarenessTraining) {
		before[r.ID] = r.Raw
	}
	s.UpdateAwareness("A", 2)
	changed := map[string]bool{}
	for _, r := range s.Records("A", model.StreamAwarenessTraining) {
		if !bytes.Equal(before[r.ID], r.Raw) {
			_, user, _ := strings.Cut(r.ID, ":")
			user, _, _ = strings.Cut(user, "|")
			changed[user] = true
		}
	}
	if len(changed) != 2 {
		t.Errorf("rows of %d users changed (%v), want 2", len(changed), slices.Sorted(maps.Keys(changed)))
	}
}
