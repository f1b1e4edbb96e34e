package syslogrecv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Message is one syslog message as received, with its RFC 5424 header and,
// when the body is LEEF, the LEEF header and attributes.
type Message struct {
	Raw string // the message as framed, without the trailing LF or the octet count

	Priority       int
	Version        int
	Timestamp      time.Time
	Hostname       string
	AppName        string
	ProcID         string
	MsgID          string
	StructuredData string
	Body           string // everything after the structured data

	// LEEF is the parsed body; nil when the body does not start with "LEEF:".
	LEEF *LEEF
}

// LEEF is a LEEF 1.0 or 2.0 event: its header and its attributes.
type LEEF struct {
	Version        string // "1.0" or "2.0"
	Vendor         string
	Product        string
	ProductVersion string
	EventID        string
	Delimiter      byte // attribute separator; a tab unless the 2.0 header names another
	Attrs          map[string]string
	Keys           []string // attribute keys in the order received (a repeated key appears twice)
}

// Attr returns the attribute value for key, or "" when the message has no
// LEEF body or no such attribute.
func (m Message) Attr(key string) string {
	if m.LEEF == nil {
		return ""
	}
	return m.LEEF.Attrs[key]
}

// Parse parses one syslog message (without framing): an RFC 5424 header
// followed by a body, which is parsed further when it is LEEF.
func Parse(raw string) (Message, error) {
	m := Message{Raw: raw}
	rest := raw
	if !strings.HasPrefix(rest, "<") {
		return m, errors.New("missing <PRI>")
	}
	end := strings.IndexByte(rest, '>')
	if end < 2 || end > 4 {
		return m, errors.New("malformed <PRI>")
	}
	pri, err := strconv.Atoi(rest[1:end])
	if err != nil || pri > 191 {
		return m, fmt.Errorf("malformed <PRI> %q", rest[1:end])
	}
	m.Priority = pri
	rest = rest[end+1:]

	var fields [6]string
	for i := range fields {
		f, r, ok := strings.Cut(rest, " ")
		if !ok {
			return m, fmt.Errorf("header ends after %d fields", i)
		}
		fields[i], rest = f, r
	}
	if m.Version, err = strconv.Atoi(fields[0]); err != nil || m.Version < 1 {
		return m, fmt.Errorf("malformed version %q", fields[0])
	}
	if fields[1] != "-" {
		if m.Timestamp, err = time.Parse(time.RFC3339Nano, fields[1]); err != nil {
			return m, fmt.Errorf("malformed timestamp %q", fields[1])
		}
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID = nilValue(fields[2]), nilValue(fields[3]), nilValue(fields[4]), nilValue(fields[5])

	sd, body, err := cutStructuredData(rest)
	if err != nil {
		return m, err
	}
	m.StructuredData = sd
	// A UTF-8 BOM may introduce the free-form message (RFC 5424 §6.4).
	m.Body = strings.TrimPrefix(body, "\uFEFF")
	if strings.HasPrefix(m.Body, "LEEF:") {
		l, err := ParseLEEF(m.Body)
		if err != nil {
			return m, err
		}
		m.LEEF = &l
	}
	return m, nil
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// cutStructuredData splits "SD[ MSG]" into the structured data ("-" is
// returned as "") and the message.
func cutStructuredData(s string) (sd, msg string, err error) {
	if strings.HasPrefix(s, "-") {
		if len(s) == 1 {
			return "", "", nil
		}
		if s[1] != ' ' {
			return "", "", errors.New("malformed structured data")
		}
		return "", s[2:], nil
	}
	if !strings.HasPrefix(s, "[") {
		return "", "", errors.New("malformed structured data")
	}
	// SD elements: "[id param=\"value\" ...]" repeated; inside a quoted value
	// '\' escapes '"', '\' and ']'.
	i, inQuote := 0, false
	for i < len(s) {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ']' && (i+1 == len(s) || s[i+1] != '['):
			sd = s[:i+1]
			rest := s[i+1:]
			if rest == "" {
				return sd, "", nil
			}
			if rest[0] != ' ' {
				return "", "", errors.New("malformed structured data")
			}
			return sd, rest[1:], nil
		}
		i++
	}
	return "", "", errors.New("unterminated structured data")
}

// ParseLEEF parses a LEEF 1.0 or 2.0 event: "LEEF:Version|Vendor|Product|
// ProductVersion|EventID|" then, for 2.0 only, an optional "Delimiter|"
// (one character, or its hex code as "x09" or "0x09"), then the attributes.
func ParseLEEF(s string) (LEEF, error) {
	var l LEEF
	rest, ok := strings.CutPrefix(s, "LEEF:")
	if !ok {
		return l, errors.New("not a LEEF event")
	}
	var header [5]string
	for i := range header {
		f, r, ok := strings.Cut(rest, "|")
		if !ok {
			return l, fmt.Errorf("LEEF header ends after %d fields", i)
		}
		header[i], rest = f, r
	}
	l.Version, l.Vendor, l.Product, l.ProductVersion, l.EventID = header[0], header[1], header[2], header[3], header[4]
	l.Delimiter = '\t'
	switch l.Version {
	case "1.0":
	case "2.0":
		// The delimiter field is optional: attributes (which contain '=')
		// may follow the EventID directly.
		d, r, ok := strings.Cut(rest, "|")
		if ok && !strings.Contains(d, "=") {
			delim, err := parseDelimiter(d)
			if err != nil {
				return l, err
			}
			l.Delimiter, rest = delim, r
		}
	default:
		return l, fmt.Errorf("unknown LEEF version %q", l.Version)
	}
	l.Attrs = map[string]string{}
	if rest == "" {
		return l, nil
	}
	for _, kv := range strings.Split(rest, string(l.Delimiter)) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return l, fmt.Errorf("LEEF attribute %q is not key=value", kv)
		}
		l.Attrs[k] = v
		l.Keys = append(l.Keys, k)
	}
	return l, nil
}

func parseDelimiter(d string) (byte, error) {
	switch {
	case d == "":
		return '\t', nil
	case len(d) == 1:
		return d[0], nil
	case strings.HasPrefix(d, "x") || strings.HasPrefix(d, "0x"):
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(d, "0"), "x"), 16, 8)
		if err != nil {
			return 0, fmt.Errorf("malformed LEEF delimiter %q", d)
		}
		return byte(n), nil
	}
	return 0, fmt.Errorf("malformed LEEF delimiter %q", d)
}
