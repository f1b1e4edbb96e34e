package qradarsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// filterExpr is a parsed QRadar list filter. The simulator supports the
// forms the app uses and a little more: field op value with = != < > <= >=
// like ilike, "is null" / "is not null", joined by and/or, with parentheses.
// Nested fields (a(b)) are not supported.
type filterExpr interface{ eval(map[string]any) bool }

type (
	filterAnd  []filterExpr
	filterOr   []filterExpr
	filterCond struct {
		field string
		op    string
		value any // string, float64, bool or nil
	}
)

func (a filterAnd) eval(m map[string]any) bool {
	for _, e := range a {
		if !e.eval(m) {
			return false
		}
	}
	return true
}

func (o filterOr) eval(m map[string]any) bool {
	for _, e := range o {
		if e.eval(m) {
			return true
		}
	}
	return false
}

func (c filterCond) eval(m map[string]any) bool {
	v, present := m[c.field]
	switch c.op {
	case "is null":
		return !present || v == nil
	case "is not null":
		return present && v != nil
	}
	if v == nil {
		return false
	}
	switch want := c.value.(type) {
	case float64:
		got, ok := v.(float64)
		if !ok {
			return false
		}
		return compareNum(got, want, c.op)
	case bool:
		got, ok := v.(bool)
		return ok && ((c.op == "=" && got == want) || (c.op == "!=" && got != want))
	case string:
		got := fmt.Sprint(v)
		switch c.op {
		case "=":
			return got == want
		case "!=":
			return got != want
		case "like":
			return likeMatch(got, want, false)
		case "ilike":
			return likeMatch(got, want, true)
		}
		return compareStr(got, want, c.op)
	}
	return false
}

func compareNum(a, b float64, op string) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case ">":
		return a > b
	case "<=":
		return a <= b
	case ">=":
		return a >= b
	}
	return false
}

func compareStr(a, b, op string) bool {
	c := strings.Compare(a, b)
	switch op {
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	case ">=":
		return c >= 0
	}
	return false
}

type filterParser struct {
	s   string
	pos int
}

func parseFilter(s string) (filterExpr, error) {
	p := &filterParser{s: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q in filter", p.s[p.pos:])
	}
	return e, nil
}

func (p *filterParser) space() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *filterParser) keyword(kw string) bool {
	p.space()
	end := p.pos + len(kw)
	if end > len(p.s) || !strings.EqualFold(p.s[p.pos:end], kw) {
		return false
	}
	if end < len(p.s) && (unicode.IsLetter(rune(p.s[end])) || p.s[end] == '_') {
		return false
	}
	p.pos = end
	return true
}

func (p *filterParser) or() (filterExpr, error) {
	var terms filterOr
	for {
		t, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !p.keyword("or") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) and() (filterExpr, error) {
	var terms filterAnd
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !p.keyword("and") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) term() (filterExpr, error) {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, errors.New("missing ) in filter")
		}
		p.pos++
		return e, nil
	}
	start := p.pos
	for p.pos < len(p.s) && (unicode.IsLetter(rune(p.s[p.pos])) || unicode.IsDigit(rune(p.s[p.pos])) || p.s[p.pos] == '_') {
		p.pos++
	}
	field := p.s[start:p.pos]
	if field == "" {
		return nil, fmt.Errorf("expected a field name at %q", p.s[start:])
	}
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		return nil, fmt.Errorf("nested field filters (%s(...)) are not supported by the simulator", field)
	}
	if p.keyword("is") {
		if p.keyword("not") {
			if !p.keyword("null") {
				return nil, errors.New("expected null")
			}
			return filterCond{field: field, op: "is not null"}, nil
		}
		if !p.keyword("null") {
			return nil, errors.New("expected null")
		}
		return filterCond{field: field, op: "is null"}, nil
	}
	var op string
	switch {
	case p.keyword("ilike"):
		op = "ilike"
	case p.keyword("like"):
		op = "like"
	default:
		p.space()
		for _, o := range []string{"!=", "<=", ">=", "=", "<", ">"} {
			if strings.HasPrefix(p.s[p.pos:], o) {
				op = o
				p.pos += len(o)
				break
			}
		}
	}
	if op == "" {
		return nil, fmt.Errorf("expected an operator after %s", field)
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return filterCond{field: field, op: op, value: v}, nil
}

func (p *filterParser) value() (any, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, errors.New("missing value in filter")
	}
	if p.s[p.pos] == '"' {
		var b strings.Builder
		p.pos++
		for p.pos < len(p.s) {
			c := p.s[p.pos]
			switch {
			case c == '\\' && p.pos+1 < len(p.s):
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
			case c == '"':
				p.pos++
				return b.String(), nil
			default:
				b.WriteByte(c)
				p.pos++
			}
		}
		return nil, errors.New("unterminated string in filter")
	}
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ' ' && p.s[p.pos] != ')' {
		p.pos++
	}
	word := p.s[start:p.pos]
	switch strings.ToLower(word) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	n, err := strconv.ParseFloat(word, 64)
	if err != nil {
		return nil, fmt.Errorf("value %q must be quoted", word)
	}
	return n, nil
}

// likeMatch matches SQL LIKE patterns: % any run, _ one character.
func likeMatch(s, pattern string, fold bool) bool {
	if fold {
		s, pattern = strings.ToLower(s), strings.ToLower(pattern)
	}
	sr, pr := []rune(s), []rune(pattern)
	// Dynamic programming over runes.
	prev := make([]bool, len(sr)+1)
	prev[0] = true
	for _, pc := range pr {
		cur := make([]bool, len(sr)+1)
		if pc == '%' {
			cur[0] = prev[0]
		}
		for i := 1; i <= len(sr); i++ {
			switch pc {
			case '%':
				cur[i] = prev[i] || cur[i-1]
			case '_':
				cur[i] = prev[i-1]
			default:
				cur[i] = prev[i-1] && sr[i-1] == pc
			}
		}
		prev = cur
	}
	return prev[len(sr)]
}
