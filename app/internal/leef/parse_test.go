package leef

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mimecast-qradar/app/internal/model"
)

// This file is an independent reader of what the formatter writes: an RFC
// 5424 and LEEF 2.0 parser, and the expected attributes of a record computed
// with encoding/json. It shares no code with the formatter.

type parsedEvent struct {
	PRI                                  int
	Time                                 time.Time
	Host, App, ProcID, MsgID, SD         string
	Vendor, Product, Version, EventID    string
	Attrs                                map[string]string
	Keys                                 []string // attribute keys in order
	headerEnd                            int      // offset of the first attribute
	rawTime, leefVersion, delimiterField string
}

func parseEvent(msg string) (parsedEvent, error) {
	var ev parsedEvent
	if !strings.HasPrefix(msg, "<") {
		return ev, fmt.Errorf("no PRI")
	}
	end := strings.IndexByte(msg, '>')
	if end < 2 || end > 4 {
		return ev, fmt.Errorf("malformed PRI")
	}
	pri, err := strconv.Atoi(msg[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return ev, fmt.Errorf("PRI %q out of range", msg[1:end])
	}
	ev.PRI = pri
	rest := msg[end+1:]
	parts := strings.SplitN(rest, " ", 8)
	if len(parts) != 8 {
		return ev, fmt.Errorf("RFC 5424 header has %d parts", len(parts))
	}
	if parts[0] != "1" {
		return ev, fmt.Errorf("syslog version %q, want 1", parts[0])
	}
	ev.rawTime = parts[1]
	if ev.Time, err = time.Parse(time.RFC3339Nano, parts[1]); err != nil {
		return ev, fmt.Errorf("header time: %v", err)
	}
	ev.Host, ev.App, ev.ProcID, ev.MsgID, ev.SD = parts[2], parts[3], parts[4], parts[5], parts[6]
	for _, f := range parts[2:7] {
		if f == "" || len(f) > 255 {
			return ev, fmt.Errorf("empty or long header field %q", f)
		}
		for i := 0; i < len(f); i++ {
			if f[i] < 33 || f[i] > 126 {
				return ev, fmt.Errorf("header field %q has a non-printable byte", f)
			}
		}
	}
	leef := parts[7]
	hdr := strings.SplitN(leef, "|", 7)
	if len(hdr) != 7 {
		return ev, fmt.Errorf("LEEF header has %d fields", len(hdr))
	}
	ev.leefVersion, ev.Vendor, ev.Product, ev.Version, ev.EventID, ev.delimiterField = hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5]
	if ev.leefVersion != "LEEF:2.0" {
		return ev, fmt.Errorf("LEEF version %q", ev.leefVersion)
	}
	if ev.delimiterField != "x09" {
		return ev, fmt.Errorf("delimiter %q, want x09", ev.delimiterField)
	}
	ev.headerEnd = len(msg) - len(hdr[6])
	ev.Attrs = map[string]string{}
	for _, a := range strings.Split(hdr[6], "\t") {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return ev, fmt.Errorf("attribute %q is not key=value", a)
		}
		if strings.ContainsAny(k, " \r\n|") {
			return ev, fmt.Errorf("attribute key %q has a forbidden character", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return ev, fmt.Errorf("attribute %s value holds CR or LF", k)
		}
		if _, dup := ev.Attrs[k]; dup {
			return ev, fmt.Errorf("duplicate attribute %q", k)
		}
		ev.Attrs[k] = v
		ev.Keys = append(ev.Keys, k)
	}
	if !utf8.ValidString(msg) {
		return ev, fmt.Errorf("message is not valid UTF-8")
	}
	return ev, nil
}

var addedKeys = map[string]bool{
	"devTime": true, "devTimeFormat": true, "cat": true, "sev": true, "src": true, "dst": true,
	"usrName": true, "mcStream": true, "mcLogType": true, "mcAccount": true, "mcTruncated": true, "mcTimeSource": true,
}

var wantProduct = map[model.Stream]string{
	model.StreamSIEM: "Email Security", model.StreamAudit: "Audit",
	model.StreamTTPURL: "Targeted Threat Protection", model.StreamTTPAttachment: "Targeted Threat Protection",
	model.StreamTTPImpersonation: "Targeted Threat Protection", model.StreamDLP: "Data Leak Prevention",
	model.StreamMessageRelease: "Email Security", model.StreamArchiveSearch: "Archive",
	model.StreamThreatIntelCustomer: "Threat Intelligence", model.StreamThreatIntelGrid: "Threat Intelligence",
	model.StreamSIEMCI: "Cloud Integrated", model.StreamAwarenessTraining: "Awareness Training",
}

// expectedValue is what one flattened field should look like: a string, or
// for arrays the decoded JSON to compare with the attribute decoded again.
type expectedValue struct {
	s     string
	array any
}

// expectedFields decodes raw with encoding/json and flattens it as the
// contract says: nested objects joined with '_', arrays as JSON, null empty,
// tab/CR/LF as a space; invalid UTF-8 is replaced by encoding/json itself.
func expectedFields(t *testing.T, raw []byte) map[string]expectedValue {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	out := map[string]expectedValue{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := prefix + k
			switch v := v.(type) {
			case map[string]any:
				if len(v) == 0 {
					out[name] = expectedValue{s: "{}"}
				} else {
					flatten(name+"_", v)
				}
			case []any:
				out[name] = expectedValue{array: v}
			case string:
				out[name] = expectedValue{s: strings.NewReplacer("\t", " ", "\r", " ", "\n", " ").Replace(v)}
			case json.Number:
				out[name] = expectedValue{s: v.String()}
			case bool:
				out[name] = expectedValue{s: strconv.FormatBool(v)}
			case nil:
				out[name] = expectedValue{s: ""}
			default:
				t.Fatalf("unexpected JSON type %T", v)
			}
		}
	}
	flatten("", m)
	renamed := map[string]expectedValue{}
	for k, v := range out {
		if addedKeys[k] {
			k = "mc_" + k
		}
		renamed[k] = v
	}
	return renamed
}

// checkEvent parses msg and checks it against the contract for rec.
func checkEvent(t *testing.T, msg string, acct Account, rec model.Record, version string) parsedEvent {
	t.Helper()
	ev, err := parseEvent(msg)
	if err != nil {
		t.Fatalf("parsing %q: %v", msg, err)
	}
	if ev.Host != acct.LogSourceIdentifier || ev.App != "mimecast-qradar" || ev.ProcID != "-" || ev.MsgID != "-" || ev.SD != "-" {
		t.Errorf("syslog header host/app/procid/msgid/sd = %q %q %q %q %q", ev.Host, ev.App, ev.ProcID, ev.MsgID, ev.SD)
	}
	if ev.Vendor != "Mimecast" || ev.Product != wantProduct[rec.Stream] || ev.Version != version || ev.EventID != rec.LogType {
		t.Errorf("LEEF header vendor/product/version/eventID = %q %q %q %q", ev.Vendor, ev.Product, ev.Version, ev.EventID)
	}
	a := ev.Attrs
	wantTime := rec.Time.UTC().Truncate(time.Millisecond)
	if rec.Time.IsZero() {
		wantTime = collectedAt // a snapshot row has no time of its own
	}
	if !ev.Time.Equal(wantTime) {
		t.Errorf("header time %v, want %v", ev.Time, wantTime)
	}
	if a["devTimeFormat"] != "yyyy-MM-dd'T'HH:mm:ss.SSSZ" {
		t.Errorf("devTimeFormat = %q", a["devTimeFormat"])
	}
	// devTimeFormat in Go layout terms.
	if dt, err := time.Parse("2006-01-02T15:04:05.000-0700", a["devTime"]); err != nil || !dt.Equal(wantTime) {
		t.Errorf("devTime = %q (%v), want %v", a["devTime"], err, wantTime)
	}
	sev, err := strconv.Atoi(a["sev"])
	if err != nil || sev < 1 || sev > 10 {
		t.Errorf("sev = %q, want an integer 1-10", a["sev"])
	}
	// Facility 1 (user); syslog severity 6 info, 5 notice, 4 warning, 3 error, 2 critical.
	if wantPRI := 8 + []int{0, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2}[min(max(sev, 0), 10)]; ev.PRI != wantPRI {
		t.Errorf("PRI %d with sev %d, want %d", ev.PRI, sev, wantPRI)
	}
	if a["mcStream"] != string(rec.Stream) || a["mcLogType"] != rec.LogType || a["mcLogType"] != ev.EventID || a["mcAccount"] != acct.Name {
		t.Errorf("mcStream/mcLogType/mcAccount = %q %q %q", a["mcStream"], a["mcLogType"], a["mcAccount"])
	}

	fields := expectedFields(t, rec.Raw)
	m := Mapping(rec.LogType)
	first := func(names []string, ok func(string) bool) (string, bool) {
		for _, n := range names {
			if v, present := fields[n]; present && v.array == nil && v.s != "" && ok(v.s) {
				return v.s, true
			}
		}
		return "", false
	}
	anyValue := func(string) bool { return true }
	isAddr := func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && !a.IsUnspecified() }
	wantCat, ok := first(m.Cat, anyValue)
	if !ok {
		wantCat = rec.LogType
	}
	if a["cat"] == "" || a["cat"] != wantCat {
		t.Errorf("cat = %q, want %q", a["cat"], wantCat)
	}
	for _, role := range []struct {
		key   string
		names []string
		ok    func(string) bool
	}{{"src", m.Src, isAddr}, {"dst", m.Dst, isAddr}, {"usrName", m.UsrName, anyValue}} {
		want, present := first(role.names, role.ok)
		got, gotPresent := a[role.key]
		if present != gotPresent || got != want {
			t.Errorf("%s = %q (present %v), want %q (present %v)", role.key, got, gotPresent, want, present)
		}
	}

	truncated := a["mcTruncated"] == "true"
	for name, want := range fields {
		got, present := a[name]
		if !present {
			t.Errorf("field %s missing", name)
			continue
		}
		switch {
		case want.array != nil && !truncated:
			dec := json.NewDecoder(strings.NewReader(got))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil || !reflect.DeepEqual(v, want.array) {
				t.Errorf("field %s = %s (%v), want the JSON array %#v", name, got, err, want.array)
			}
			if strings.ContainsAny(got, " \t") && !strings.Contains(string(rec.Raw), got) {
				t.Errorf("field %s = %q is not compact", name, got)
			}
		case want.array == nil && !truncated && got != want.s:
			t.Errorf("field %s = %q, want %q", name, got, want.s)
		case want.array == nil && truncated && !strings.HasPrefix(want.s, got):
			t.Errorf("truncated field %s = %q is not a prefix of %q", name, got, want.s)
		}
	}
	for _, k := range ev.Keys {
		if _, isField := fields[k]; !isField && !addedKeys[k] {
			t.Errorf("attribute %s is neither a record field nor an added key", k)
		}
	}
	return ev
}

func TestParseEvent_RejectsWhatIsNotLEEF(t *testing.T) {
	for _, msg := range []string{
		"hello",
		"<13>1 2024-05-01T00:00:00Z host app - - - not leef",
		"<13>1 2024-05-01T00:00:00Z host app - - - LEEF:2.0|Mimecast|P|1|E|^|a=b",
		"<13>1 2024-05-01T00:00:00Z host app - - - LEEF:2.0|Mimecast|P|1|E|x09|a=b\ta=c",
		"<13>1 2024-05-01T00:00:00Z host app - - - LEEF:2.0|Mimecast|P|1|E|x09|novalue",
	} {
		if _, err := parseEvent(msg); err == nil {
			t.Errorf("parseEvent(%q) succeeded", msg)
		}
	}
	ev, err := parseEvent("<13>1 2024-05-01T00:00:00.123Z host app - - - LEEF:2.0|Mimecast|P|1|E|x09|a=b\tc=d=e")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev.Keys, []string{"a", "c"}) || ev.Attrs["c"] != "d=e" || ev.PRI != 13 {
		t.Errorf("parsed %+v", ev)
	}
}
