package mimecast

import (
	"path"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// stringValue returns the contents of a JSON string value, decoding escapes
// (which allocates) only when there are any. ok is false for non-strings.
func stringValue(raw []byte) (s []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	content := raw[1 : len(raw)-1]
	for _, c := range content {
		if c == '\\' {
			return unescapeString(content), true
		}
	}
	return content, true
}

// intValue reads an integer from a JSON number or a string holding one.
func intValue(raw []byte) (int64, bool) {
	if s, ok := stringValue(raw); ok {
		raw = s
	}
	if len(raw) == 0 || len(raw) > 20 {
		return 0, false
	}
	neg := raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if !isDigit(c) {
			// Fractions and exponents are rare; let strconv handle them.
			f, err := strconv.ParseFloat(string(raw), 64)
			if err != nil || f > 1<<62 || f < -(1<<62) {
				return 0, false
			}
			return int64(f), true
		}
		if n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// epochMillisTime reads an API 2.0 timestamp: epoch milliseconds as a number
// or numeric string; a date string is accepted too.
func epochMillisTime(raw []byte) time.Time {
	if ms, ok := intValue(raw); ok {
		return time.UnixMilli(ms).UTC()
	}
	if s, ok := stringValue(raw); ok {
		t, _ := parseTime(s)
		return t
	}
	return time.Time{}
}

// textTime reads a date-time string member such as datetime, eventTime or
// date; an epoch-milliseconds number is accepted too.
func textTime(raw []byte) time.Time {
	if s, ok := stringValue(raw); ok {
		t, _ := parseTime(s)
		return t
	}
	if ms, ok := intValue(raw); ok {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

// parseTime parses the date-times Mimecast uses, without allocating:
// yyyy-MM-ddTHH:mm:ss, optional fraction, then Z, ±hhmm, ±hh:mm, ±hh or
// nothing (UTC), e.g. 2021-10-19T07:06:40+0100 or 2024-06-05T11:50:06.389Z.
// The result is in UTC.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if !isDigit(c) {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		scale := 100000000
		for i < len(rest) && isDigit(rest[i]) {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case len(rest) == 0, len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case rest[0] == '+' || rest[0] == '-':
		var hh, mm int
		var ok bool
		switch {
		case len(rest) == 3:
			hh, ok = num(rest[1:3])
		case len(rest) == 5:
			hh, ok = num(rest[1:3])
			if ok {
				mm, ok = num(rest[3:5])
			}
		case len(rest) == 6 && rest[3] == ':':
			hh, ok = num(rest[1:3])
			if ok {
				mm, ok = num(rest[4:6])
			}
		}
		if !ok || hh > 24 || mm > 60 { // the bounds time.Parse uses
			return time.Time{}, false
		}
		offset = hh*3600 + mm*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // e.g. 31 February
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// siemLogType maps a SIEM log type name in any of its spellings (API 1.0
// file prefixes, API 2.0 type values, the names of design §2) to the
// model.Log* name.
func siemLogType(name []byte) (string, bool) {
	switch string(name) { // no allocation
	case "receipt":
		return model.LogReceipt, true
	case "process":
		return model.LogProcess, true
	case "delivery":
		return model.LogDelivery, true
	case "journal", "jrnl":
		return model.LogJournal, true
	case "av":
		return model.LogAV, true
	case "spam", "spameventthread":
		return model.LogSpam, true
	case "internal email protect", "internal_email_protect", "iep":
		return model.LogInternalEmailProt, true
	case "impersonation protect", "impersonation_protect", "impersonation":
		return model.LogImpersonationProt, true
	case "url protect", "url_protect", "ttp_url":
		return model.LogURLProtect, true
	case "attachment protect", "attachment_protect", "ttp_ap":
		return model.LogAttachmentProtect, true
	}
	for _, c := range name {
		if c >= 'A' && c <= 'Z' {
			return siemLogType([]byte(strings.ToLower(string(name))))
		}
	}
	return "", false
}

// v2TypeNames are the API 2.0 `type` query values per log type (§4.1).
var v2TypeNames = map[string]string{
	model.LogReceipt:           "receipt",
	model.LogProcess:           "process",
	model.LogDelivery:          "delivery",
	model.LogJournal:           "journal",
	model.LogAV:                "av",
	model.LogSpam:              "spam",
	model.LogInternalEmailProt: "internal email protect",
	model.LogImpersonationProt: "impersonation protect",
	model.LogURLProtect:        "url protect",
	model.LogAttachmentProtect: "attachment protect",
}

// V2TypeName returns the API 2.0 SIEM type value for a log type given in
// any spelling, e.g. "url_protect" -> "url protect".
func V2TypeName(logType string) (string, bool) {
	lt, ok := siemLogType([]byte(logType))
	if !ok {
		return "", false
	}
	return v2TypeNames[lt], true
}

// v1FileLogType derives the log type from an API 1.0 SIEM file name such
// as jrnl_20211018093329655.json or ttp_url_20211129153015541.json: the part
// before the first '_', or the first two parts for ttp_ files (§3.3).
func v1FileLogType(name string) string {
	base := strings.ToLower(path.Base(strings.ReplaceAll(name, `\`, "/")))
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	parts := strings.SplitN(base, "_", 3)
	prefix := parts[0]
	if prefix == "ttp" && len(parts) > 1 {
		prefix += "_" + parts[1]
	}
	lt, _ := siemLogType([]byte(prefix))
	return lt
}

// inferV1LogType guesses an API 1.0 record's log type from its members when
// the file name did not tell (elastic does the same), or returns "".
func inferV1LogType(f *recordFields) string {
	switch {
	case f.has(fRcptActType):
		return model.LogJournal
	case f.has(fDelivered):
		return model.LogDelivery
	case f.has(fAct) && f.has(fMsgSize):
		return model.LogProcess
	case f.has(fAct):
		return model.LogReceipt
	case f.has(fVirus):
		return model.LogAV
	case f.has(fHits) || f.has(fDefinition):
		return model.LogImpersonationProt
	case f.has(fScanResultInfo) || f.has(fURL):
		return model.LogInternalEmailProt
	case f.has(fReason) || f.has(fURLCategory):
		return model.LogURLProtect
	case f.has(fSHA256) || f.has(fFileName):
		return model.LogAttachmentProtect
	case f.has(fSourceIP):
		return model.LogSpam
	}
	return ""
}

// unknownLogType is the log type of a SIEM record whose type cannot be
// determined at all.
const unknownLogType = "unknown"
