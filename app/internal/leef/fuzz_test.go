package leef

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// FuzzAppendRecord checks the walker against encoding/json: valid JSON
// objects are formatted into events that parse, everything else JSON
// rejects is refused (raw control characters inside strings excepted, which
// the walker accepts on purpose), and nothing panics.
func FuzzAppendRecord(f *testing.F) {
	for _, sf := range sampleFiles(f) {
		for _, rec := range sf.records(f) {
			f.Add(rec.Raw)
		}
	}
	f.Add([]byte(`{"a":{"b":{}},"c":[1,{"d":null}],"e":"\u00e9\ud800\t"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fm := &Formatter{AppVersion: "fuzz", MaxLen: 1024, Now: func() time.Time { return collectedAt }}
		rec := model.Record{Stream: model.StreamSIEM, LogType: model.LogReceipt, Raw: raw}
		out, err := fm.AppendRecord(nil, testAccount, &rec)
		trimmed := bytes.TrimLeft(raw, " \t\r\n")
		isObject := json.Valid(raw) && len(trimmed) > 0 && trimmed[0] == '{'
		hasControl := bytes.ContainsFunc(raw, func(r rune) bool { return r < 0x20 && r != ' ' && r != '\t' && r != '\r' && r != '\n' }) ||
			bytes.ContainsAny(raw, "\t\r\n")
		switch {
		case isObject && err != nil && depth(raw) < maxDepth:
			t.Fatalf("valid object refused: %v", err)
		case !isObject && err == nil && !hasControl:
			t.Fatalf("invalid JSON accepted: %q", out)
		case err == nil:
			// A record with a repeated name (or names that flatten alike)
			// keeps every occurrence, which the strict parser flags.
			if _, perr := parseEvent(string(out)); perr != nil && !strings.Contains(perr.Error(), "duplicate attribute") {
				t.Fatalf("output does not parse: %v\n%q", perr, out)
			}
		}
	})
}

// depth is the deepest nesting of raw, counted loosely (brackets in strings
// included), which only makes the fuzz check more lenient.
func depth(raw []byte) int {
	d, deepest := 0, 0
	for _, c := range raw {
		switch c {
		case '{', '[':
			d++
			deepest = max(deepest, d)
		case '}', ']':
			d--
		}
	}
	return deepest
}
