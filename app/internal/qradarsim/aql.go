package qradarsim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The AQL subset the simulator understands (enough for the app's curated
// searches):
//
//	SELECT expr [AS alias], ... FROM events
//	  [WHERE cond] [ORDER BY expr [ASC|DESC], ...] [LIMIT n]
//	  [LAST n MINUTES|HOURS|DAYS]
//
// expr is a field (a standard field below, or a custom property by name,
// "double-quoted" when it has spaces), a 'string', a number, or one of
// QIDNAME(qid), LOGSOURCENAME(logsourceid), LOGSOURCETYPENAME(devicetype),
// CATEGORYNAME(category), DATEFORMAT(expr, 'java pattern'), LOWER(expr),
// UPPER(expr). cond combines expr = != <> < > <= >= expr, expr [NOT] IN
// (...), expr [NOT] LIKE|ILIKE 'pattern', expr IS [NOT] NULL with AND, OR,
// NOT and parentheses, using SQL's three-valued logic.
//
// Standard fields: starttime, endtime (the syslog header time, as QRadar's
// receive time), devicetime (LEEF devTime), sourceip (LEEF src),
// destinationip (dst), username (usrName), logsourceid, devicetype, qid,
// category, eventcount. A custom property's value is the first of its LEEF
// expressions (for the event's log source type) whose key the event carries.

var builtinFields = []string{"starttime", "endtime", "devicetime", "sourceip", "destinationip", "username",
	"logsourceid", "devicetype", "qid", "category", "eventcount"}

var functions = map[string]int{ // name -> number of arguments
	"QIDNAME": 1, "LOGSOURCENAME": 1, "LOGSOURCETYPENAME": 1, "CATEGORYNAME": 1, "DATEFORMAT": 2, "LOWER": 1, "UPPER": 1,
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokQuoted
	tokString
	tokNumber
	tokPunct
	tokEOF
)

type token struct {
	kind tokKind
	text string
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"' || c == '\'':
			q := byte(c)
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated %c quote", q)
				}
				if s[j] == q {
					if j+1 < len(s) && s[j+1] == q { // doubled quote
						b.WriteByte(q)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			kind := tokString
			if q == '"' {
				kind = tokQuoted
			}
			out = append(out, token{kind, b.String()})
			i = j + 1
		case unicode.IsDigit(c):
			j := i
			for j < len(s) && unicode.IsDigit(rune(s[j])) {
				j++
			}
			out = append(out, token{tokNumber, s[i:j]})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '.') {
				j++
			}
			out = append(out, token{tokIdent, s[i:j]})
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "!=", "<>", "<=", ">=":
				out = append(out, token{tokPunct, two})
				i += 2
				continue
			}
			if !strings.ContainsRune("(),=<>*", c) {
				return nil, fmt.Errorf("unexpected character %q", c)
			}
			out = append(out, token{tokPunct, string(c)})
			i++
		}
	}
	return append(out, token{kind: tokEOF}), nil
}

// query is a parsed AQL query.
type query struct {
	columns []column
	where   cond
	order   []orderTerm
	limit   int
	last    time.Duration
}

type column struct {
	name string
	expr valueExpr
}

type orderTerm struct {
	expr  valueExpr
	alias string // set when the term names a column
	desc  bool
}

// evalCtx is one event and what the simulator knows about QRadar's side.
type evalCtx struct {
	ev   *event
	snap *snapshot
}

type valueExpr interface{ value(*evalCtx) any }

type (
	fieldRef struct {
		name     string
		property bool // a custom property, else a standard field
	}
	literal  struct{ v any }
	funcCall struct {
		name string
		args []valueExpr
	}
)

func (l literal) value(*evalCtx) any { return l.v }

func (f fieldRef) value(c *evalCtx) any {
	if f.property {
		return c.snap.property(c.ev, f.name)
	}
	ev := c.ev
	attr := func(k string) any {
		if v, ok := ev.attrs[k]; ok && v != "" {
			return v
		}
		return nil
	}
	switch f.name {
	case "starttime", "endtime":
		return ev.received.UnixMilli()
	case "devicetime":
		return ev.device.UnixMilli()
	case "sourceip":
		return attr("src")
	case "destinationip":
		return attr("dst")
	case "username":
		return attr("usrName")
	case "logsourceid":
		return c.snap.logSource(ev).ID
	case "devicetype":
		return c.snap.logSource(ev).TypeID
	case "qid":
		return c.snap.qid(ev).QID
	case "category":
		return c.snap.qid(ev).LowLevelCategoryID
	case "eventcount":
		return int64(1)
	}
	return nil
}

func (f funcCall) value(c *evalCtx) any {
	arg := f.args[0].value(c)
	switch f.name {
	case "QIDNAME":
		n, _ := toInt(arg)
		return c.snap.qidName(n)
	case "LOGSOURCENAME":
		n, _ := toInt(arg)
		return c.snap.logSourceName(n)
	case "LOGSOURCETYPENAME":
		n, _ := toInt(arg)
		return c.snap.typeName(n)
	case "CATEGORYNAME":
		n, _ := toInt(arg)
		return c.snap.categoryName(n)
	case "DATEFORMAT":
		ms, ok := toInt(arg)
		if !ok {
			return nil
		}
		pattern, _ := f.args[1].value(c).(string)
		layout := javaLayout(pattern)
		if layout == "" {
			return nil
		}
		return time.UnixMilli(ms).UTC().Format(layout)
	case "LOWER", "UPPER":
		if arg == nil {
			return nil
		}
		if f.name == "LOWER" {
			return strings.ToLower(fmt.Sprint(arg))
		}
		return strings.ToUpper(fmt.Sprint(arg))
	}
	return nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// tv is SQL's three-valued truth.
type tv int8

const (
	tvFalse tv = iota
	tvTrue
	tvUnknown
)

type cond interface{ test(*evalCtx) tv }

type (
	andCond []cond
	orCond  []cond
	notCond struct{ c cond }
	cmpCond struct {
		l, r valueExpr
		op   string
	}
	inCond struct {
		l    valueExpr
		list []valueExpr
		not  bool
	}
	likeCond struct {
		l, pattern valueExpr
		fold, not  bool
	}
	nullCond struct {
		l   valueExpr
		not bool
	}
)

func (a andCond) test(c *evalCtx) tv {
	out := tvTrue
	for _, x := range a {
		switch x.test(c) {
		case tvFalse:
			return tvFalse
		case tvUnknown:
			out = tvUnknown
		}
	}
	return out
}

func (o orCond) test(c *evalCtx) tv {
	out := tvFalse
	for _, x := range o {
		switch x.test(c) {
		case tvTrue:
			return tvTrue
		case tvUnknown:
			out = tvUnknown
		}
	}
	return out
}

func (n notCond) test(c *evalCtx) tv {
	switch n.c.test(c) {
	case tvTrue:
		return tvFalse
	case tvFalse:
		return tvTrue
	}
	return tvUnknown
}

func truth(b bool) tv {
	if b {
		return tvTrue
	}
	return tvFalse
}

func (n tv) negate(not bool) tv {
	if !not || n == tvUnknown {
		return n
	}
	return truth(n == tvFalse)
}

// compare orders two non-nil values: numerically when both are numbers,
// else as strings.
func compare(a, b any) int {
	ai, aok := toInt(a)
	bi, bok := toInt(b)
	if aok && bok {
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func (k cmpCond) test(c *evalCtx) tv {
	l, r := k.l.value(c), k.r.value(c)
	if l == nil || r == nil {
		return tvUnknown
	}
	n := compare(l, r)
	switch k.op {
	case "=":
		return truth(n == 0)
	case "!=", "<>":
		return truth(n != 0)
	case "<":
		return truth(n < 0)
	case ">":
		return truth(n > 0)
	case "<=":
		return truth(n <= 0)
	case ">=":
		return truth(n >= 0)
	}
	return tvUnknown
}

func (k inCond) test(c *evalCtx) tv {
	l := k.l.value(c)
	if l == nil {
		return tvUnknown
	}
	for _, e := range k.list {
		if v := e.value(c); v != nil && compare(l, v) == 0 {
			return truth(true).negate(k.not)
		}
	}
	return truth(false).negate(k.not)
}

func (k likeCond) test(c *evalCtx) tv {
	l, p := k.l.value(c), k.pattern.value(c)
	if l == nil || p == nil {
		return tvUnknown
	}
	return truth(likeMatch(fmt.Sprint(l), fmt.Sprint(p), k.fold)).negate(k.not)
}

func (k nullCond) test(c *evalCtx) tv {
	return truth(k.l.value(c) == nil).negate(k.not)
}

// parser builds a query; resolve says whether a name is a custom property
// (true), a standard field (false), or unknown (error).
type parser struct {
	toks    []token
	pos     int
	resolve func(name string) (property bool, err error)
}

func parseAQL(s string, resolve func(string) (bool, error)) (*query, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, resolve: resolve}
	return p.query()
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) keyword(kw string) bool {
	if p.isKeyword(kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw string) error {
	if !p.keyword(kw) {
		return fmt.Errorf("expected %s near %q", kw, p.peek().text)
	}
	return nil
}

func (p *parser) punct(s string) bool {
	t := p.peek()
	if t.kind == tokPunct && t.text == s {
		p.pos++
		return true
	}
	return false
}

var reserved = []string{"FROM", "WHERE", "ORDER", "LIMIT", "LAST", "AS", "AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC", "BY", "START", "STOP", "GROUP", "HAVING"}

func (p *parser) query() (*query, error) {
	q := &query{}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	if p.punct("*") {
		return nil, errors.New("SELECT * is not supported by the simulator")
	}
	for {
		e, err := p.valueExpr()
		if err != nil {
			return nil, err
		}
		col := column{expr: e, name: defaultName(e)}
		if p.keyword("AS") {
			t := p.next()
			if t.kind != tokIdent && t.kind != tokQuoted && t.kind != tokString {
				return nil, fmt.Errorf("expected an alias after AS, got %q", t.text)
			}
			col.name = t.text
		}
		q.columns = append(q.columns, col)
		if !p.punct(",") {
			break
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tokIdent || !strings.EqualFold(t.text, "events") {
		return nil, fmt.Errorf("only FROM events is supported by the simulator, got %q", t.text)
	}
	if p.keyword("WHERE") {
		c, err := p.orCond()
		if err != nil {
			return nil, err
		}
		q.where = c
	}
	if p.isKeyword("GROUP") || p.isKeyword("HAVING") {
		return nil, errors.New("GROUP BY and HAVING are not supported by the simulator")
	}
	if p.keyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			var term orderTerm
			t := p.peek()
			if (t.kind == tokQuoted || t.kind == tokIdent) && slices.ContainsFunc(q.columns, func(c column) bool { return c.name == t.text }) {
				term.alias = t.text
				p.pos++
			} else {
				e, err := p.valueExpr()
				if err != nil {
					return nil, err
				}
				term.expr = e
			}
			if p.keyword("DESC") {
				term.desc = true
			} else {
				p.keyword("ASC")
			}
			q.order = append(q.order, term)
			if !p.punct(",") {
				break
			}
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tokNumber || err != nil {
			return nil, fmt.Errorf("expected a number after LIMIT, got %q", t.text)
		}
		q.limit = n
	}
	if p.keyword("LAST") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tokNumber || err != nil {
			return nil, fmt.Errorf("expected a number after LAST, got %q", t.text)
		}
		unit := strings.ToUpper(p.next().text)
		switch unit {
		case "MINUTE", "MINUTES":
			q.last = time.Duration(n) * time.Minute
		case "HOUR", "HOURS":
			q.last = time.Duration(n) * time.Hour
		case "DAY", "DAYS":
			q.last = time.Duration(n) * 24 * time.Hour
		default:
			return nil, fmt.Errorf("expected MINUTES, HOURS or DAYS after LAST %d, got %q", n, unit)
		}
	}
	if p.isKeyword("START") {
		return nil, errors.New("START/STOP is not supported by the simulator; use LAST n HOURS")
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q at the end of the query", t.text)
	}
	return q, nil
}

func defaultName(e valueExpr) string {
	switch x := e.(type) {
	case fieldRef:
		return x.name
	case funcCall:
		var args []string
		for _, a := range x.args {
			args = append(args, defaultName(a))
		}
		return strings.ToLower(x.name) + "_" + strings.Join(args, "_")
	case literal:
		return fmt.Sprint(x.v)
	}
	return "column"
}

func (p *parser) valueExpr() (valueExpr, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return literal{t.text}, nil
	case tokNumber:
		n, _ := strconv.ParseInt(t.text, 10, 64)
		return literal{n}, nil
	case tokQuoted:
		return p.field(t.text)
	case tokIdent:
		if p.punct("(") {
			name := strings.ToUpper(t.text)
			n, ok := functions[name]
			if !ok {
				return nil, fmt.Errorf("function %s is not supported by the simulator", t.text)
			}
			f := funcCall{name: name}
			for !p.punct(")") {
				if len(f.args) > 0 && !p.punct(",") {
					return nil, fmt.Errorf("expected , or ) in %s(...)", name)
				}
				a, err := p.valueExpr()
				if err != nil {
					return nil, err
				}
				f.args = append(f.args, a)
			}
			if len(f.args) != n {
				return nil, fmt.Errorf("%s takes %d arguments, got %d", name, n, len(f.args))
			}
			return f, nil
		}
		if slices.ContainsFunc(reserved, func(r string) bool { return strings.EqualFold(r, t.text) }) {
			return nil, fmt.Errorf("unexpected keyword %s", t.text)
		}
		return p.field(t.text)
	}
	return nil, fmt.Errorf("expected a field, string or number, got %q", t.text)
}

func (p *parser) field(name string) (valueExpr, error) {
	if b := slices.IndexFunc(builtinFields, func(f string) bool { return strings.EqualFold(f, name) }); b >= 0 {
		return fieldRef{name: builtinFields[b]}, nil
	}
	prop, err := p.resolve(name)
	if err != nil {
		return nil, err
	}
	return fieldRef{name: name, property: prop}, nil
}

func (p *parser) orCond() (cond, error) {
	var terms orCond
	for {
		c, err := p.andCond()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
		if !p.keyword("OR") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) andCond() (cond, error) {
	var terms andCond
	for {
		c, err := p.notCond()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
		if !p.keyword("AND") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) notCond() (cond, error) {
	if p.keyword("NOT") {
		c, err := p.notCond()
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	if p.punct("(") {
		c, err := p.orCond()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, errors.New("missing ) in WHERE")
		}
		return c, nil
	}
	return p.predicate()
}

func (p *parser) predicate() (cond, error) {
	l, err := p.valueExpr()
	if err != nil {
		return nil, err
	}
	if p.keyword("IS") {
		not := p.keyword("NOT")
		if err := p.expectKeyword("NULL"); err != nil {
			return nil, err
		}
		return nullCond{l: l, not: not}, nil
	}
	not := p.keyword("NOT")
	switch {
	case p.keyword("IN"):
		if !p.punct("(") {
			return nil, errors.New("expected ( after IN")
		}
		c := inCond{l: l, not: not}
		for !p.punct(")") {
			if len(c.list) > 0 && !p.punct(",") {
				return nil, errors.New("expected , or ) in IN (...)")
			}
			v, err := p.valueExpr()
			if err != nil {
				return nil, err
			}
			c.list = append(c.list, v)
		}
		return c, nil
	case p.keyword("LIKE"), p.keyword("ILIKE"):
		fold := strings.EqualFold(p.toks[p.pos-1].text, "ILIKE")
		r, err := p.valueExpr()
		if err != nil {
			return nil, err
		}
		return likeCond{l: l, pattern: r, fold: fold, not: not}, nil
	case not:
		return nil, errors.New("expected IN, LIKE or ILIKE after NOT")
	}
	t := p.next()
	if t.kind != tokPunct || !slices.Contains([]string{"=", "!=", "<>", "<", ">", "<=", ">="}, t.text) {
		return nil, fmt.Errorf("expected a comparison, got %q", t.text)
	}
	r, err := p.valueExpr()
	if err != nil {
		return nil, err
	}
	return cmpCond{l: l, r: r, op: t.text}, nil
}

// run evaluates q over the events received in its time window.
func (q *query) run(events []event, snap *snapshot, now time.Time) []map[string]any {
	type row struct {
		vals []any
		ctx  *evalCtx
	}
	var rows []row
	for i := range events {
		ev := &events[i]
		if q.last > 0 && ev.received.Before(now.Add(-q.last)) {
			continue
		}
		c := &evalCtx{ev: ev, snap: snap}
		if q.where != nil && q.where.test(c) != tvTrue {
			continue
		}
		vals := make([]any, len(q.columns))
		for j, col := range q.columns {
			vals[j] = col.expr.value(c)
		}
		rows = append(rows, row{vals, c})
	}
	if len(q.order) > 0 {
		key := func(r row, t orderTerm) any {
			if t.alias != "" {
				return r.vals[slices.IndexFunc(q.columns, func(c column) bool { return c.name == t.alias })]
			}
			return t.expr.value(r.ctx)
		}
		slices.SortStableFunc(rows, func(a, b row) int {
			for _, t := range q.order {
				va, vb := key(a, t), key(b, t)
				var n int
				switch {
				case va == nil && vb == nil:
					n = 0
				case va == nil:
					n = -1
				case vb == nil:
					n = 1
				default:
					n = compare(va, vb)
				}
				if t.desc {
					n = -n
				}
				if n != 0 {
					return n
				}
			}
			return 0
		})
	}
	if q.limit > 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		m := make(map[string]any, len(q.columns))
		for j, col := range q.columns {
			m[col.name] = r.vals[j]
		}
		out = append(out, m)
	}
	return out
}
