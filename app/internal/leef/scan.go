package leef

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// ErrMalformed is wrapped by AppendRecord's error when a record's Raw is not
// one JSON object. The caller counts such a record as malformed and skips it.
var ErrMalformed = errors.New("record is not a JSON object")

const (
	// maxFlattenDepth bounds how deep nested objects are flattened into
	// name_name keys; deeper objects are carried as compact JSON text.
	maxFlattenDepth = 16
	// maxDepth bounds nesting altogether, so a hostile record cannot
	// exhaust the stack.
	maxDepth = 512
)

// field is one attribute of a record as it goes into LEEF: its flattened
// name buf[k0:k1] and its sanitised value buf[v0:v1].
type field struct {
	k0, k1, v0, v1 int32
	flags          uint8
}

// walker reads one record's JSON without building maps: it validates the
// object and writes each (flattened) field name and sanitised value into buf.
// A walker is reused across records (see walkers), so formatting a record
// allocates nothing once the buffers have grown.
//
// buf holds the fields as they go into the event, "\tname=value" one after
// the other (field k0 is just after the tab, v0 just after the '='), so an
// event that needs no renaming and no cut takes them in one copy.
type walker struct {
	data    []byte
	pos     int
	c       *compiled
	key     []byte // flattened name of the object being read (its members' prefix)
	buf     []byte
	fields  []field
	collide int // fields renamed mc_<name> (flagCollide)
	// hits[i] is 1 + the index of the first field named c.names[i], or 0.
	hits [maxNames]int32
}

func (w *walker) reset(data []byte, c *compiled) {
	w.data, w.pos, w.c = data, 0, c
	w.key, w.buf, w.fields, w.collide = w.key[:0], w.buf[:0], w.fields[:0], 0
	clear(w.hits[:len(c.names)])
}

func (w *walker) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrMalformed, fmt.Sprintf(format, args...), w.pos)
}

// walk reads the whole record.
func (w *walker) walk() error {
	w.skipSpace()
	if w.peek() != '{' {
		return w.errorf("expected '{'")
	}
	if _, err := w.object(0); err != nil {
		return err
	}
	w.skipSpace()
	if w.pos != len(w.data) {
		return w.errorf("data after the object")
	}
	return nil
}

func (w *walker) peek() byte {
	if w.pos < len(w.data) {
		return w.data[w.pos]
	}
	return 0
}

func (w *walker) skipSpace() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// object reads an object whose members are named w.key + "_" + member name
// (just the member name at the top level). It reports whether it was empty.
func (w *walker) object(depth int) (empty bool, err error) {
	w.pos++ // '{'
	w.skipSpace()
	if w.peek() == '}' {
		w.pos++
		return true, nil
	}
	prefix := len(w.key)
	for {
		if w.peek() != '"' {
			return false, w.errorf("expected a field name")
		}
		// The name goes straight into buf as the start of a field; a
		// nested object takes it back as the prefix of its members.
		mark := len(w.buf)
		w.buf = append(w.buf, '\t')
		k0 := len(w.buf)
		if depth > 0 {
			w.buf = append(append(w.buf, w.key...), '_')
		}
		if w.buf, err = w.appendString(w.buf, true); err != nil {
			return false, err
		}
		k1 := len(w.buf)
		w.skipSpace()
		if w.peek() != ':' {
			return false, w.errorf("expected ':'")
		}
		w.pos++
		w.skipSpace()
		if w.peek() == '{' && depth+1 < maxFlattenDepth {
			w.key = append(w.key, w.buf[k0+prefix:k1]...)
			w.buf = w.buf[:mark]
			empty, err := w.object(depth + 1)
			if err != nil {
				return false, err
			}
			if empty {
				// An empty object has no members to flatten; carry it as
				// {} so the field is still present.
				w.beginField()
				w.buf = append(w.buf, "{}"...)
				w.endField()
			}
			w.key = w.key[:prefix]
		} else {
			if k1 == k0 {
				w.buf = append(w.buf, '_') // an empty name at the top level
				k1++
			}
			w.buf = append(w.buf, '=')
			w.fields = append(w.fields, field{k0: int32(k0), k1: int32(k1), v0: int32(k1 + 1)})
			if err := w.member(depth); err != nil {
				return false, err
			}
		}
		w.skipSpace()
		switch w.peek() {
		case ',':
			w.pos++
			w.skipSpace()
		case '}':
			w.pos++
			return false, nil
		default:
			return false, w.errorf("expected ',' or '}'")
		}
	}
}

// member reads the value of the field just opened in buf (anything but an
// object to flatten) and closes the field.
func (w *walker) member(depth int) error {
	var err error
	switch c := w.peek(); {
	case c == '{' || c == '[':
		w.buf, err = w.compact(w.buf, depth)
	case c == '"':
		w.buf, err = w.appendString(w.buf, false)
	case c == 'n':
		err = w.literal("null") // null: empty value
	case c == 't':
		if err = w.literal("true"); err == nil {
			w.buf = append(w.buf, "true"...)
		}
	case c == 'f':
		if err = w.literal("false"); err == nil {
			w.buf = append(w.buf, "false"...)
		}
	case c == '-' || ('0' <= c && c <= '9'):
		w.buf, err = w.number(w.buf)
	default:
		return w.errorf("expected a value")
	}
	if err != nil {
		return err
	}
	w.endField()
	return nil
}

// beginField opens a field named w.key ("_" when empty) in buf; the value
// follows in buf and endField closes it.
func (w *walker) beginField() {
	w.buf = append(w.buf, '\t')
	k0 := len(w.buf)
	if len(w.key) == 0 {
		w.buf = append(w.buf, '_')
	} else {
		w.buf = append(w.buf, w.key...)
	}
	k1 := len(w.buf)
	w.buf = append(w.buf, '=')
	w.fields = append(w.fields, field{k0: int32(k0), k1: int32(k1), v0: int32(k1 + 1)})
}

func (w *walker) endField() {
	i := len(w.fields) - 1
	f := &w.fields[i]
	f.v1 = int32(len(w.buf))
	name := w.buf[f.k0:f.k1]
	if len(name) > maxNameLen {
		return
	}
	for _, n := range w.c.byLen[len(name)] {
		// Most fields are of no interest: the last byte (a name's most
		// varied, as many share a prefix) rules them out cheaply.
		if nm := w.c.names[n]; nm[len(nm)-1] == name[len(name)-1] && string(name) == nm {
			f.flags = w.c.flags[n]
			if f.flags&flagCollide != 0 {
				w.collide++
			}
			if w.hits[n] == 0 {
				w.hits[n] = int32(i + 1)
			}
			return
		}
	}
}

func (w *walker) literal(word string) error {
	end := w.pos + len(word)
	if end > len(w.data) || string(w.data[w.pos:end]) != word {
		return w.errorf("expected %s", word)
	}
	w.pos = end
	return nil
}

// number copies a JSON number as written.
func (w *walker) number(dst []byte) ([]byte, error) {
	data, i := w.data, w.pos
	digits := func() bool {
		start := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		return dst, w.errorf("malformed number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digits() {
			return dst, w.errorf("malformed number")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			return dst, w.errorf("malformed number")
		}
	}
	dst = append(dst, data[w.pos:i]...)
	w.pos = i
	return dst, nil
}

// plainValue and plainKey mark the bytes a string copies unchanged.
var plainValue, plainKey = func() (v, k [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		v[c], k[c] = true, true
	}
	v['"'], v['\\'] = false, false
	k['"'], k['\\'], k[' '], k['='], k[0x7f] = false, false, false, false, false
	return v, k
}()

// Word-at-a-time scanning: the run of plain bytes is found eight bytes per
// step, the tail byte by byte. For a word x, hasLess(x, n) and hasByte(x, b)
// set the high bit of the bytes below n or equal to b; only bytes above a
// true match can be flagged falsely, so the lowest flagged byte is exact.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasLess(x, n uint64) uint64 { return (x - ones*n) &^ x & highs }
func hasByte(x, b uint64) uint64 { return hasLess(x^(ones*b), 1) }

// plainValueRun returns the index of the first byte at or after i that a
// value string does not copy unchanged (see plainValue), or len(data).
func plainValueRun(data []byte, i int) int {
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		if m := hasLess(x, 0x20) | hasByte(x, '"') | hasByte(x, '\\') | x&highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(data) && plainValue[data[i]] {
		i++
	}
	return i
}

// appendString decodes the JSON string at w.pos into dst, sanitised for
// LEEF: tab, CR and LF become a space (an underscore in a name), each
// invalid UTF-8 byte becomes U+FFFD, and in a name every other control
// character, space and '=' becomes an underscore. Raw control characters are
// accepted although JSON forbids them: better to deliver than to drop.
func (w *walker) appendString(dst []byte, isKey bool) ([]byte, error) {
	data := w.data
	i := w.pos + 1
	for {
		start := i
		if isKey {
			for i < len(data) && plainKey[data[i]] {
				i++
			}
		} else {
			i = plainValueRun(data, i)
		}
		dst = append(dst, data[start:i]...)
		if i >= len(data) {
			w.pos = i
			return dst, w.errorf("unterminated string")
		}
		switch c := data[i]; {
		case c == '"':
			w.pos = i + 1
			return dst, nil
		case c == '\\':
			if i+1 >= len(data) {
				w.pos = i
				return dst, w.errorf("unterminated string")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				dst = appendRune(dst, rune(e), isKey)
				i += 2
			case 'b':
				dst = appendRune(dst, '\b', isKey)
				i += 2
			case 'f':
				dst = appendRune(dst, '\f', isKey)
				i += 2
			case 'n', 'r', 't':
				dst = appendRune(dst, '\n', isKey)
				i += 2
			case 'u':
				r, n, ok := decodeEscapeU(data[i:])
				if !ok {
					w.pos = i
					return dst, w.errorf("malformed \\u escape")
				}
				dst = appendRune(dst, r, isKey)
				i += n
			default:
				w.pos = i
				return dst, w.errorf("malformed escape")
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, data[i:i+size]...)
			}
			i += size
		default: // control character, or a byte a name may not hold
			dst = appendRune(dst, rune(c), isKey)
			i++
		}
	}
}

// appendRune appends a decoded character with the sanitising of appendString.
func appendRune(dst []byte, r rune, isKey bool) []byte {
	switch {
	case r == '\t' || r == '\r' || r == '\n':
		if isKey {
			return append(dst, '_')
		}
		return append(dst, ' ')
	case isKey && (r < 0x20 || r == ' ' || r == '=' || r == 0x7f):
		return append(dst, '_')
	case r < utf8.RuneSelf:
		return append(dst, byte(r))
	}
	return utf8.AppendRune(dst, r) // a lone surrogate becomes U+FFFD
}

// decodeEscapeU decodes \uXXXX (and a following low surrogate) at the start
// of b, returning the rune and the bytes used. A lone surrogate is U+FFFD.
func decodeEscapeU(b []byte) (rune, int, bool) {
	r, ok := hex4(b)
	if !ok {
		return 0, 0, false
	}
	if 0xD800 <= r && r < 0xDC00 {
		if lo, ok := hex4(b[6:]); ok && 0xDC00 <= lo && lo < 0xE000 {
			return (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000, 12, true
		}
		return utf8.RuneError, 6, true
	}
	if 0xDC00 <= r && r < 0xE000 {
		return utf8.RuneError, 6, true
	}
	return r, 6, true
}

// hex4 reads the four hex digits of a \uXXXX escape at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// compact validates the JSON value at w.pos and appends it without
// insignificant whitespace. Strings keep their JSON escapes; a raw tab, CR or
// LF inside one becomes a space, another raw control character a \u escape,
// and each invalid UTF-8 byte U+FFFD.
func (w *walker) compact(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, w.errorf("nested too deeply")
	}
	var err error
	switch c := w.peek(); {
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		dst = append(dst, c)
		w.pos++
		w.skipSpace()
		if w.peek() == end {
			w.pos++
			return append(dst, end), nil
		}
		for {
			if c == '{' {
				if w.peek() != '"' {
					return dst, w.errorf("expected a field name")
				}
				if dst, err = w.copyString(dst); err != nil {
					return dst, err
				}
				w.skipSpace()
				if w.peek() != ':' {
					return dst, w.errorf("expected ':'")
				}
				w.pos++
				w.skipSpace()
				dst = append(dst, ':')
			}
			if dst, err = w.compact(dst, depth+1); err != nil {
				return dst, err
			}
			w.skipSpace()
			switch w.peek() {
			case ',':
				w.pos++
				w.skipSpace()
				dst = append(dst, ',')
			case end:
				w.pos++
				return append(dst, end), nil
			default:
				return dst, w.errorf("expected ',' or '%c'", end)
			}
		}
	case c == '"':
		return w.copyString(dst)
	case c == 'n' || c == 't' || c == 'f':
		word := "null"
		if c == 't' {
			word = "true"
		} else if c == 'f' {
			word = "false"
		}
		if err = w.literal(word); err != nil {
			return dst, err
		}
		return append(dst, word...), nil
	case c == '-' || ('0' <= c && c <= '9'):
		return w.number(dst)
	}
	return dst, w.errorf("expected a value")
}

// copyString appends the JSON string at w.pos as JSON text (quotes and
// escapes kept), sanitised as compact describes.
func (w *walker) copyString(dst []byte) ([]byte, error) {
	data := w.data
	dst = append(dst, '"')
	i := w.pos + 1
	for {
		start := i
		i = plainValueRun(data, i)
		dst = append(dst, data[start:i]...)
		if i >= len(data) {
			w.pos = i
			return dst, w.errorf("unterminated string")
		}
		switch c := data[i]; {
		case c == '"':
			w.pos = i + 1
			return append(dst, '"'), nil
		case c == '\\':
			n := 2
			if i+1 < len(data) && data[i+1] == 'u' {
				if _, ok := hex4(data[i:]); !ok {
					w.pos = i
					return dst, w.errorf("malformed \\u escape")
				}
				n = 6
			} else if i+1 >= len(data) || !validEscape(data[i+1]) {
				w.pos = i
				return dst, w.errorf("malformed escape")
			}
			dst = append(dst, data[i:i+n]...)
			i += n
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, data[i:i+size]...)
			}
			i += size
		case c == '\t' || c == '\r' || c == '\n':
			dst = append(dst, ' ')
			i++
		default: // another raw control character: escape it to keep the JSON valid
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			i++
		}
	}
}

const hexDigits = "0123456789abcdef"

func validEscape(c byte) bool {
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	}
	return false
}
