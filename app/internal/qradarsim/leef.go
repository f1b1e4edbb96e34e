package qradarsim

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// event is one LEEF event read from the syslog file sink.
type event struct {
	received time.Time // the syslog header time, used as QRadar's starttime
	device   time.Time // devTime when it parses, else the header time
	host     string    // the syslog header host name: the log source identifier
	eventID  string
	attrs    map[string]string
}

// readEvents reads the LEEF syslog file sink; lines that are not RFC 5424
// syslog carrying LEEF are skipped, as QRadar would not parse them either.
func readEvents(path string) ([]event, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if ev, ok := parseLine(sc.Text()); ok {
			out = append(out, ev)
		}
	}
	return out, sc.Err()
}

// parseLine reads `<PRI>1 TIME HOST APP PROCID MSGID SD LEEF:...`.
func parseLine(line string) (event, bool) {
	i := strings.Index(line, "LEEF:")
	if i < 0 {
		return event{}, false
	}
	hdr := strings.Fields(line[:i])
	if len(hdr) < 3 || !strings.HasPrefix(hdr[0], "<") {
		return event{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, hdr[1])
	if err != nil {
		return event{}, false
	}
	ev := event{received: ts, device: ts, host: hdr[2], attrs: map[string]string{}}
	msg := line[i:]
	var rest, delim string
	switch {
	case strings.HasPrefix(msg, "LEEF:2.0|"):
		parts := strings.SplitN(msg, "|", 7)
		if len(parts) < 7 {
			return event{}, false
		}
		ev.eventID, delim, rest = parts[4], parseDelim(parts[5]), parts[6]
	case strings.HasPrefix(msg, "LEEF:1.0|"):
		parts := strings.SplitN(msg, "|", 6)
		if len(parts) < 6 {
			return event{}, false
		}
		ev.eventID, delim, rest = parts[4], "\t", parts[5]
	default:
		return event{}, false
	}
	for _, kv := range strings.Split(rest, delim) {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			ev.attrs[k] = v
		}
	}
	if dt, ok := parseDevTime(ev.attrs["devTime"], ev.attrs["devTimeFormat"]); ok {
		ev.device = dt
	}
	return ev, true
}

// parseDelim reads a LEEF 2.0 delimiter: one character, or x/0x and hex.
func parseDelim(s string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0"), "x")
	if len(s) > 1 && (strings.HasPrefix(s, "x") || strings.HasPrefix(s, "0x")) {
		if n, err := strconv.ParseUint(h, 16, 32); err == nil {
			return string(rune(n))
		}
	}
	if s == "" {
		return "\t"
	}
	return s
}

// parseDevTime understands the Java patterns an app is likely to send and
// epoch milliseconds.
func parseDevTime(v, format string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	if format == "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(ms), true
		}
	}
	for _, layout := range []string{
		javaLayout(format),
		"2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05Z0700", time.RFC3339Nano,
	} {
		if layout == "" {
			continue
		}
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// javaLayout converts a Java SimpleDateFormat pattern to a Go layout; "" when
// it uses something unsupported.
func javaLayout(p string) string {
	if p == "" {
		return ""
	}
	repl := []struct{ java, goLayout string }{
		{"yyyy", "2006"}, {"MMM", "Jan"}, {"MM", "01"}, {"dd", "02"}, {"HH", "15"}, {"mm", "04"},
		{"ss", "05"}, {"SSS", "000"}, {"XXX", "Z07:00"}, {"Z", "-0700"}, {"z", "MST"},
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] == '\'' {
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				return ""
			}
			b.WriteString(p[i+1 : i+1+j])
			i += j + 2
			continue
		}
		matched := false
		for _, r := range repl {
			if strings.HasPrefix(p[i:], r.java) {
				b.WriteString(r.goLayout)
				i += len(r.java)
				matched = true
				break
			}
		}
		if !matched {
			c := p[i]
			if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
				return ""
			}
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
