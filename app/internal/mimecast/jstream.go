package mimecast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// jstream walks a JSON document read from a stream without holding it:
// containers are entered token by token, and values of interest (one
// record, a small meta object) are captured whole up to a size limit.
// Captured values are checked only for structure here (strings, nesting);
// records are validated afterwards by scanRecord.
type jstream struct {
	br *bufio.Reader
}

var errStreamSyntax = badResponse("malformed JSON", nil)

// readErr words a read error met inside a document: EOF means truncation.
func (s *jstream) readErr(err error) error {
	if err == io.EOF {
		return badResponse("JSON data truncated", nil)
	}
	return classifyReadErr(err)
}

// peekEOF returns the next non-whitespace byte without consuming it; eof
// is true at a clean end of input.
func (s *jstream) peekEOF() (c byte, eof bool, err error) {
	for {
		c, err := s.br.ReadByte()
		if err == io.EOF {
			return 0, true, nil
		}
		if err != nil {
			return 0, false, classifyReadErr(err)
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		_ = s.br.UnreadByte()
		return c, false, nil
	}
}

// peek is peekEOF where the end of input is an error.
func (s *jstream) peek() (byte, error) {
	c, eof, err := s.peekEOF()
	if err == nil && eof {
		err = s.readErr(io.EOF)
	}
	return c, err
}

// consume reads the next non-whitespace byte and checks it is c.
func (s *jstream) consume(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return errStreamSyntax
	}
	_, _ = s.br.ReadByte()
	return nil
}

// next consumes the byte after a value inside a container: ',' (more=true)
// or the container's closing byte (more=false).
func (s *jstream) next(closing byte) (more bool, err error) {
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case ',':
		_, _ = s.br.ReadByte()
		return true, nil
	case closing:
		_, _ = s.br.ReadByte()
		return false, nil
	}
	return false, errStreamSyntax
}

// open consumes the opening byte of a container; empty reports that it was
// closed at once.
func (s *jstream) open(opening, closing byte) (empty bool, err error) {
	if err := s.consume(opening); err != nil {
		return false, err
	}
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	if c == closing {
		_, _ = s.br.ReadByte()
		return true, nil
	}
	return false, nil
}

// key reads an object member name and the colon after it. Names longer than
// 1 KiB come back empty (they match nothing we look for).
func (s *jstream) key(buf *[]byte) ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	if c != '"' {
		return nil, errStreamSyntax
	}
	raw, over, err := s.value((*buf)[:0], 1024)
	if err != nil {
		return nil, err
	}
	*buf = raw
	if err := s.consume(':'); err != nil {
		return nil, err
	}
	if over {
		return nil, nil
	}
	name, ok := stringValue(raw)
	if !ok {
		return nil, errStreamSyntax
	}
	return name, nil
}

// skip consumes one value.
func (s *jstream) skip() error {
	_, _, err := s.value(nil, 0)
	return err
}

// value consumes one value, appending its bytes to dst while they fit in
// max bytes; over reports a value that did not fit (consumed all the same).
func (s *jstream) value(dst []byte, max int) (out []byte, over bool, err error) {
	c, err := s.peek()
	if err != nil {
		return dst, false, err
	}
	start, size := len(dst), 0
	keep := func(chunk []byte) {
		size += len(chunk)
		switch {
		case over:
		case size > max:
			over = true
			dst = dst[:start]
		default:
			dst = append(dst, chunk...)
		}
	}
	switch c {
	case ',', ':', '}', ']':
		return dst, false, errStreamSyntax
	case '{', '[', '"':
		depth, inStr, esc := 0, false, false
		for {
			chunk, err := s.chunk()
			if err != nil {
				return dst, over, err
			}
			n, done := 0, false
			for n < len(chunk) && !done {
				b := chunk[n]
				n++
				if inStr {
					switch {
					case esc:
						esc = false
					case b == '\\':
						esc = true
					case b == '"':
						inStr = false
						done = depth == 0
					}
					continue
				}
				switch b {
				case '"':
					inStr = true
				case '{', '[':
					depth++
				case '}', ']':
					depth--
					done = depth == 0
				}
			}
			keep(chunk[:n])
			_, _ = s.br.Discard(n)
			if done {
				return dst, over, nil
			}
		}
	default: // number or literal: runs to the next delimiter
		for {
			chunk, err := s.chunk()
			if err != nil {
				return dst, over, err
			}
			n := 0
			for n < len(chunk) && !isDelimiter(chunk[n]) {
				n++
			}
			keep(chunk[:n])
			_, _ = s.br.Discard(n)
			if n < len(chunk) {
				return dst, over, nil
			}
		}
	}
}

// chunk returns the buffered bytes, reading more when none are buffered.
func (s *jstream) chunk() ([]byte, error) {
	if s.br.Buffered() == 0 {
		if _, err := s.br.Peek(1); err != nil {
			return nil, s.readErr(err)
		}
	}
	b, _ := s.br.Peek(s.br.Buffered())
	return b, nil
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// records reads an array of records, emitting each; null counts as empty.
func (d *decoder) records(s *jstream) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == 'n' {
		return s.skip()
	}
	empty, err := s.open('[', ']')
	if err != nil || empty {
		return err
	}
	for {
		raw, over, err := s.value(d.buf[:0], d.maxRecord)
		if err != nil {
			return err
		}
		d.buf = raw
		if over {
			d.oversized()
		} else if err := d.emit(raw); err != nil {
			return err
		}
		if more, err := s.next(']'); err != nil || !more {
			return err
		}
	}
}

// wrappedRecords reads an array of objects each holding a records array
// under member wrapper (e.g. data[0].clickLogs[]); other members are
// skipped. An element that is not an object counts as a malformed record.
func (d *decoder) wrappedRecords(s *jstream, wrapper string) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == 'n' {
		return s.skip()
	}
	empty, err := s.open('[', ']')
	if err != nil || empty {
		return err
	}
	var keyBuf []byte
	for {
		c, err := s.peek()
		if err != nil {
			return err
		}
		if c != '{' {
			d.seen++
			d.malformed("data element is not an object")
			if err := s.skip(); err != nil {
				return err
			}
		} else if empty, err := s.open('{', '}'); err != nil {
			return err
		} else if !empty {
			for {
				name, err := s.key(&keyBuf)
				if err != nil {
					return err
				}
				if string(name) == wrapper {
					err = d.records(s)
				} else {
					err = s.skip()
				}
				if err != nil {
					return err
				}
				if more, err := s.next('}'); err != nil {
					return err
				} else if !more {
					break
				}
			}
		}
		if more, err := s.next(']'); err != nil || !more {
			return err
		}
	}
}

// pageMeta is the part of an /api response's meta object we use.
type pageMeta struct {
	Pagination struct {
		Next json.RawMessage `json:"next"`
	} `json:"pagination"`
}

// envelope reads an /api response {"meta":…,"data":[…],"fail":[…]} in any
// member order, emitting records as they come. Records sit in data[]
// directly (wrapper "") or in data[i].<wrapper>[].
func (d *decoder) envelope(r io.Reader, wrapper string) (meta pageMeta, fail []failItem, err error) {
	s := &jstream{br: bufio.NewReaderSize(r, 32<<10)}
	empty, err := s.open('{', '}')
	if err != nil || empty {
		return meta, nil, err
	}
	var keyBuf []byte
	for {
		name, err := s.key(&keyBuf)
		if err != nil {
			return meta, fail, err
		}
		switch string(name) {
		case "meta":
			raw, over, err := s.value(nil, 1<<20)
			if err != nil {
				return meta, fail, err
			}
			if over || json.Unmarshal(raw, &meta) != nil {
				return meta, fail, badResponse("unreadable meta object", nil)
			}
		case "fail":
			raw, over, err := s.value(nil, 1<<20)
			if err != nil {
				return meta, fail, err
			}
			if over || json.Unmarshal(raw, &fail) != nil {
				// An unreadable fail[] is still a failure.
				fail = []failItem{{Message: "unreadable error details"}}
			}
		case "data":
			if wrapper == "" {
				err = d.records(s)
			} else {
				err = d.wrappedRecords(s, wrapper)
			}
			if err != nil {
				return meta, fail, err
			}
		default:
			if err := s.skip(); err != nil {
				return meta, fail, err
			}
		}
		if more, err := s.next('}'); err != nil {
			return meta, fail, err
		} else if !more {
			return meta, fail, nil
		}
	}
}

// nextToken returns meta.pagination.next as a string ("" when absent).
func (m *pageMeta) nextToken() string {
	raw := bytes.TrimSpace(m.Pagination.Next)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw) // a number or other scalar: pass it back as sent
}

// siemV1JSON reads an API 1.0 SIEM JSON file: one or more documents
// {"type":"MTA","data":[records]} (or bare arrays of records).
func (d *decoder) siemV1JSON(br *bufio.Reader) error {
	s := &jstream{br: br}
	var keyBuf []byte
	for {
		c, eof, err := s.peekEOF()
		if err != nil || eof {
			return err
		}
		switch c {
		case '[':
			if err := d.records(s); err != nil {
				return err
			}
		case '{':
			empty, err := s.open('{', '}')
			if err != nil {
				return err
			}
			for !empty {
				name, err := s.key(&keyBuf)
				if err != nil {
					return err
				}
				if string(name) == "data" {
					err = d.records(s)
				} else {
					err = s.skip()
				}
				if err != nil {
					return err
				}
				more, err := s.next('}')
				if err != nil {
					return err
				}
				empty = !more
			}
		default:
			return errStreamSyntax
		}
	}
}

// siemV1File reads one API 1.0 SIEM file, JSON or key_value, telling them
// apart by the first non-blank byte.
func (d *decoder) siemV1File(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	s := &jstream{br: br}
	c, eof, err := s.peekEOF()
	if err != nil || eof {
		return err
	}
	if c == '{' || c == '[' {
		return d.siemV1JSON(br)
	}
	return d.lines(br, d.keyValueLine)
}
