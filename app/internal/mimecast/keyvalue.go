package mimecast

import (
	"bytes"
)

// kvPair locates one key=value field of a key_value line.
type kvPair struct{ k0, k1, v0, v1 int }

// keyValueLine turns one API 1.0 key_value line into a JSON object of
// strings and emits it. Format (reference §3.3): fields key=value separated
// by '|', each split on its first '='; free-text values wrapped in
// backslashes (Subject=\text\), which are removed, as the JSON format has
// the bare text; inline JSON (SpamProcessingDetail={...}) kept as text. A
// segment without '=' continues the previous value (a '|' inside it).
func (d *decoder) keyValueLine(line []byte) error {
	pairs := d.pairs[:0]
	i := 0
	for i < len(line) {
		rest := line[i:]
		eq := bytes.IndexByte(rest, '=')
		bar := bytes.IndexByte(rest, '|')
		if eq < 0 || (bar >= 0 && bar < eq) {
			if len(pairs) == 0 {
				d.seen++
				d.malformed("key_value line does not start with key=value")
				return nil
			}
			end := len(line)
			if bar >= 0 {
				end = i + bar
			}
			pairs[len(pairs)-1].v1 = end
			i = end + 1
			continue
		}
		if eq == 0 {
			d.seen++
			d.malformed("key_value field without a name")
			return nil
		}
		p := kvPair{k0: i, k1: i + eq, v0: i + eq + 1}
		v := p.v0
		p.v1 = -1
		switch {
		case v < len(line) && line[v] == '\\':
			if e := bytes.Index(line[v+1:], []byte(`\|`)); e >= 0 {
				p.v0, p.v1, i = v+1, v+1+e, v+1+e+2
			} else if len(line)-v >= 2 && line[len(line)-1] == '\\' {
				p.v0, p.v1, i = v+1, len(line)-1, len(line)
			}
		case v < len(line) && (line[v] == '{' || line[v] == '['):
			if n := validJSONValue(line[v:]); n > 0 && (v+n == len(line) || line[v+n] == '|') {
				p.v1, i = v+n, v+n+1
			}
		}
		if p.v1 < 0 {
			end := len(line)
			if b := bytes.IndexByte(line[v:], '|'); b >= 0 {
				end = v + b
			}
			p.v1, i = end, end+1
		}
		pairs = append(pairs, p)
	}
	d.pairs = pairs

	out := append(d.kvBuf[:0], '{')
	keys := d.kvKeys[:0]
	for _, p := range pairs {
		key := line[p.k0:p.k1]
		dup := false
		for _, k := range keys {
			if bytes.Equal(line[k[0]:k[1]], key) {
				dup = true
				break
			}
		}
		if dup {
			continue // keep the first occurrence: a JSON object has one value per name
		}
		if len(keys) > 0 {
			out = append(out, ',')
		}
		keys = append(keys, [2]int{p.k0, p.k1})
		out = appendJSONString(out, key)
		out = append(out, ':')
		out = appendJSONString(out, line[p.v0:p.v1])
	}
	out = append(out, '}')
	d.kvBuf, d.kvKeys = out, keys
	return d.emit(out)
}

// appendJSONString appends s as a JSON string. Bytes of 0x80 and above are
// copied unchanged, valid UTF-8 or not, as in the source record.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
