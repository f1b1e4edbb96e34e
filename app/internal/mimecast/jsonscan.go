package mimecast

import (
	"encoding/json"
	"errors"
)

// Top-level record members the decoders look at. The first group carries
// time, identity and log type; the second group is only tested for presence,
// to tell API 1.0 log types apart when a file name does not say.
const (
	fTimestamp = iota
	fPartition
	fOffset
	fType
	fEventType
	fDatetime
	fEventTime
	fDate
	fID
	fReleased     // message release
	fCreateTime   // archive search
	fEmail        // awareness training
	fEmailAddress // awareness safe score
	fCampaignID   // awareness phishing user data (added by the client)
	fMessageID    // Cloud Integrated identity, with the members below
	fProcessingID
	fAggregateID
	fAccountID
	fAction
	fSubtype

	fRcptActType
	fDelivered
	fAct
	fMsgSize
	fVirus
	fHits
	fDefinition
	fScanResultInfo
	fURL
	fReason
	fURLCategory
	fSHA256
	fFileName
	fSourceIP
	numFields
)

// fieldIndex returns the index of a wanted member name, or -1.
func fieldIndex(key []byte) int {
	switch string(key) { // no allocation: the compiler compares in place
	case "timestamp":
		return fTimestamp
	case "_partition":
		return fPartition
	case "_offset":
		return fOffset
	case "type":
		return fType
	case "eventType":
		return fEventType
	case "datetime":
		return fDatetime
	case "eventTime":
		return fEventTime
	case "date":
		return fDate
	case "id":
		return fID
	case "released":
		return fReleased
	case "createTime":
		return fCreateTime
	case "email":
		return fEmail
	case "emailAddress":
		return fEmailAddress
	case "campaignId":
		return fCampaignID
	case "messageId":
		return fMessageID
	case "processingId":
		return fProcessingID
	case "aggregateId":
		return fAggregateID
	case "accountId":
		return fAccountID
	case "action":
		return fAction
	case "subtype":
		return fSubtype
	case "RcptActType":
		return fRcptActType
	case "Delivered":
		return fDelivered
	case "Act":
		return fAct
	case "MsgSize":
		return fMsgSize
	case "Virus":
		return fVirus
	case "Hits":
		return fHits
	case "Definition":
		return fDefinition
	case "ScanResultInfo":
		return fScanResultInfo
	case "URL":
		return fURL
	case "reason":
		return fReason
	case "urlCategory":
		return fURLCategory
	case "sha256":
		return fSHA256
	case "fileName":
		return fFileName
	case "SourceIP":
		return fSourceIP
	}
	return -1
}

// span locates a member's raw value inside the record; end == 0 means the
// member is absent (a value never starts at offset 0, the object's '{' does).
type span struct{ start, end int }

// recordFields holds the spans found by scanRecord.
type recordFields struct {
	spans [numFields]span
}

func (f *recordFields) has(i int) bool { return f.spans[i].end > 0 }

// raw returns the raw JSON text of member i in rec, or nil.
func (f *recordFields) raw(rec []byte, i int) []byte {
	sp := f.spans[i]
	if sp.end == 0 {
		return nil
	}
	return rec[sp.start:sp.end]
}

var (
	errNotObject  = errors.New("not a JSON object")
	errJSONSyntax = errors.New("invalid JSON")
)

// maxNesting matches encoding/json's limit.
const maxNesting = 10000

// scanRecord checks that rec is exactly one JSON object (surrounded by
// optional whitespace) and records the spans of the wanted top-level members
// in f. It allocates nothing for ordinary records. Invalid UTF-8 inside
// strings is accepted, as encoding/json does: the LEEF formatter replaces it.
func scanRecord(rec []byte, f *recordFields) error {
	*f = recordFields{}
	s := jsonScanner{b: rec}
	s.ws()
	if s.i >= len(rec) || rec[s.i] != '{' {
		return errNotObject
	}
	s.i++
	s.depth = 1
	s.ws()
	if s.i < len(rec) && rec[s.i] == '}' {
		s.i++
	} else {
		for {
			if s.i >= len(rec) || rec[s.i] != '"' {
				return errJSONSyntax
			}
			keyStart := s.i + 1
			escaped, ok := s.str()
			if !ok {
				return errJSONSyntax
			}
			key := rec[keyStart : s.i-1]
			s.ws()
			if s.i >= len(rec) || rec[s.i] != ':' {
				return errJSONSyntax
			}
			s.i++
			s.ws()
			valStart := s.i
			if !s.value() {
				return errJSONSyntax
			}
			if escaped {
				key = unescapeString(key)
			}
			if idx := fieldIndex(key); idx >= 0 {
				f.spans[idx] = span{valStart, s.i}
			}
			s.ws()
			if s.i >= len(rec) {
				return errJSONSyntax
			}
			if rec[s.i] == '}' {
				s.i++
				break
			}
			if rec[s.i] != ',' {
				return errJSONSyntax
			}
			s.i++
			s.ws()
		}
	}
	s.ws()
	if s.i != len(rec) {
		return errJSONSyntax
	}
	return nil
}

// validJSONValue reports the length of the JSON value at the start of b
// (after optional whitespace), or -1 if there is none.
func validJSONValue(b []byte) int {
	s := jsonScanner{b: b}
	s.ws()
	if !s.value() {
		return -1
	}
	return s.i
}

// unescapeString decodes the contents of a JSON string that has escapes.
func unescapeString(content []byte) []byte {
	quoted := make([]byte, 0, len(content)+2)
	quoted = append(append(append(quoted, '"'), content...), '"')
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return content
	}
	return []byte(s)
}

// jsonScanner is a validating recursive-descent JSON scanner over a byte
// slice. It follows RFC 8259 like encoding/json (whose Valid it is fuzzed
// against), without building anything.
type jsonScanner struct {
	b     []byte
	i     int
	depth int
}

// strByte marks bytes that may appear in a JSON string without ending it or
// starting an escape.
var strByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

func (s *jsonScanner) object() bool {
	s.depth++
	if s.depth > maxNesting {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		if _, ok := s.str(); !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if !s.value() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

func (s *jsonScanner) array() bool {
	s.depth++
	if s.depth > maxNesting {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		if !s.value() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// str scans the string starting at the opening quote at s.i and reports
// whether it held escapes.
func (s *jsonScanner) str() (escaped, ok bool) {
	b := s.b
	i := s.i + 1
	for {
		for i < len(b) && strByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return false, false
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return escaped, true
		case '\\':
			escaped = true
			i++
			if i >= len(b) {
				return false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return false, false
				}
				i += 5
			default:
				return false, false
			}
		default: // a control character
			return false, false
		}
	}
}

func (s *jsonScanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *jsonScanner) number() bool {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
