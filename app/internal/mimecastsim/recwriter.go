package mimecastsim

import (
	"strconv"
	"time"
)

// recWriter appends one record to b, either as a JSON object or as an API
// 1.0 key_value line (`key=value` fields separated by `|`, reference §3.3).
// Generators write every record through it so that the same draws produce
// the JSON and the key_value forms.
type recWriter struct {
	b  []byte
	kv bool
	n  int
}

func (w *recWriter) begin() {
	w.n = 0
	if !w.kv {
		w.b = append(w.b, '{')
	}
}

func (w *recWriter) end() {
	if !w.kv {
		w.b = append(w.b, '}')
	}
}

func (w *recWriter) key(k string) {
	if w.n > 0 {
		if w.kv {
			w.b = append(w.b, '|')
		} else {
			w.b = append(w.b, ',')
		}
	}
	w.n++
	if w.kv {
		w.b = append(w.b, k...)
		w.b = append(w.b, '=')
		return
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

// str writes a string value.
func (w *recWriter) str(k, v string) {
	w.key(k)
	if w.kv {
		w.b = append(w.b, v...)
		return
	}
	w.b = appendJSONString(w.b, v)
}

// text writes a free-text value; key_value files wrap those in backslashes
// (`Subject=\message subject\`).
func (w *recWriter) text(k, v string) {
	w.key(k)
	if w.kv {
		w.b = append(w.b, '\\')
		w.b = append(w.b, v...)
		w.b = append(w.b, '\\')
		return
	}
	w.b = appendJSONString(w.b, v)
}

// opt writes v, or null when v is empty (key_value files omit nulls).
func (w *recWriter) opt(k, v string) {
	if v == "" {
		w.null(k)
		return
	}
	w.str(k, v)
}

func (w *recWriter) null(k string) {
	if w.kv {
		return
	}
	w.key(k)
	w.b = append(w.b, "null"...)
}

func (w *recWriter) num(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

// numStr writes a number as a JSON string, as API 2.0 does ("emailSize":"4170").
func (w *recWriter) numStr(k string, v int64) {
	w.key(k)
	if !w.kv {
		w.b = append(w.b, '"')
	}
	w.b = strconv.AppendInt(w.b, v, 10)
	if !w.kv {
		w.b = append(w.b, '"')
	}
}

func (w *recWriter) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// boolStr writes "true"/"false" as a string, as many Mimecast fields do.
func (w *recWriter) boolStr(k string, v bool) {
	if v {
		w.str(k, "true")
	} else {
		w.str(k, "false")
	}
}

// raw writes v, which must be JSON, unquoted (inline in key_value files).
func (w *recWriter) raw(k, v string) {
	w.key(k)
	w.b = append(w.b, v...)
}

// time writes t in layout, as a string.
func (w *recWriter) time(k string, t time.Time, layout string) {
	w.key(k)
	if !w.kv {
		w.b = append(w.b, '"')
	}
	w.b = t.AppendFormat(w.b, layout)
	if !w.kv {
		w.b = append(w.b, '"')
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s must be valid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
