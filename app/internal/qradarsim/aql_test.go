package qradarsim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func testSnapshot() *snapshot {
	typeID := int64(4000)
	sn := &snapshot{
		byIdent:    map[string]LogSource{"acme": {ID: 9, Name: "Mimecast - Acme", TypeID: typeID}},
		sources:    map[int64]LogSource{9: {ID: 9, Name: "Mimecast - Acme", TypeID: typeID}},
		types:      map[int64]string{typeID: "Mimecast Email Security"},
		props:      map[string][]propExpr{"Mimecast Action": {{&typeID, "action"}, {&typeID, "Act"}}, "Mimecast Result": {{&typeID, "result"}}},
		mappings:   map[string]QIDRecord{fmt.Sprintf("%d\x00receipt\x00Rej", typeID): {ID: 1, QID: 2000001, Name: "Rejected", LowLevelCategoryID: 9014}},
		qids:       map[int64]QIDRecord{2000001: {ID: 1, QID: 2000001, Name: "Rejected", LowLevelCategoryID: 9014}},
		categories: map[int64]string{9014: "Mail Policy Violation"},
	}
	return sn
}

func TestAQL_EvaluatesTheSubset(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	mk := func(ago time.Duration, host, id string, attrs ...string) event {
		ev := event{received: now.Add(-ago), device: now.Add(-ago), host: host, eventID: id, attrs: map[string]string{}}
		for _, a := range attrs {
			k, v, _ := strings.Cut(a, "=")
			ev.attrs[k] = v
		}
		return ev
	}
	events := []event{
		mk(1*time.Hour, "acme", "receipt", "cat=Rej", "action=Rej", "usrName=alice"),
		mk(2*time.Hour, "acme", "receipt", "cat=Acc", "Act=Acc"),
		mk(3*time.Hour, "acme", "ttp_attachment", "cat=ttp_attachment", "result=safe"),
		mk(4*time.Hour, "acme", "ttp_attachment", "cat=ttp_attachment", "result=malicious"),
		mk(5*time.Hour, "acme", "ttp_attachment", "cat=ttp_attachment"),
		mk(6*time.Hour, "elsewhere", "receipt", "cat=Rej", "action=Rej"),
		mk(30*time.Hour, "acme", "receipt", "cat=Rej", "action=Rej"),
	}
	tests := []struct {
		name, aql string
		col       string
		want      []string
	}{
		{"equality and time window", `SELECT "Mimecast Action" FROM events WHERE "Mimecast Action" = 'Rej' LAST 24 HOURS`, "Mimecast Action", []string{"Rej"}},
		{"second expression of a property", `SELECT "Mimecast Action" AS a FROM events WHERE "Mimecast Action" ILIKE 'acc' LAST 1 DAYS`, "a", []string{"Acc"}},
		{"NOT on NULL is unknown", `SELECT "Mimecast Result" AS r FROM events WHERE NOT "Mimecast Result" ILIKE 'safe' LAST 24 HOURS`, "r", []string{"malicious"}},
		{"IN and OR with parentheses", `SELECT "Mimecast Result" AS r FROM events WHERE ("Mimecast Action" IN ('Rej', 'x')) OR ("Mimecast Result" LIKE 'mal%') ORDER BY r ASC LAST 24 HOURS`, "r", []string{"<nil>", "malicious"}},
		{"QIDNAME and CATEGORYNAME", `SELECT QIDNAME(qid) AS q, CATEGORYNAME(category) AS c FROM events WHERE "Mimecast Action" = 'Rej' LAST 24 HOURS`, "c", []string{"Mail Policy Violation"}},
		{"standard field and alias order", `SELECT username FROM events WHERE username IS NOT NULL`, "username", []string{"alice"}},
		{"LIMIT after ORDER BY", `SELECT DATEFORMAT(devicetime, 'yyyy-MM-dd HH:mm') AS t FROM events ORDER BY devicetime DESC LIMIT 2 LAST 48 HOURS`, "t", []string{"2026-01-02 11:00", "2026-01-02 10:00"}},
		{"no window reads all", `SELECT LOGSOURCENAME(logsourceid) AS l FROM events WHERE "Mimecast Action" = 'Rej'`, "l", []string{"Mimecast - Acme", "Mimecast - Acme"}},
	}
	sn := testSnapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := parseAQL(tt.aql, sn.resolve)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range q.run(events, sn, now) {
				got = append(got, fmt.Sprint(row[tt.col]))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAQL_RefusesWhatItDoesNotSupport(t *testing.T) {
	sn := testSnapshot()
	for _, aql := range []string{
		`SELECT * FROM events`,
		`SELECT "Unknown Property" FROM events`,
		`SELECT qid FROM flows`,
		`SELECT qid FROM events GROUP BY qid`,
		`SELECT qid FROM events START '2026-01-01 00:00' STOP '2026-01-02 00:00'`,
		`SELECT NOSUCHFUNC(qid) FROM events`,
		`SELECT qid FROM events WHERE qid = `,
		`SELECT qid FROM events WHERE 'unterminated`,
	} {
		if _, err := parseAQL(aql, sn.resolve); err == nil {
			t.Errorf("%s: accepted", aql)
		}
	}
}

func TestParseLine_ReadsTheAppsSyslogLEEF(t *testing.T) {
	line := "<14>1 2026-11-22T10:00:00.5Z mimecast-acme mimecast-qradar - - - LEEF:2.0|Mimecast|Email Security|1.0|receipt|x09|" +
		"cat=Rej\tsubject=a|b=c\tdevTime=2026-11-22T09:59:58.123+0000\tdevTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ"
	ev, ok := parseLine(line)
	if !ok {
		t.Fatal("not parsed")
	}
	if ev.host != "mimecast-acme" || ev.eventID != "receipt" || ev.attrs["cat"] != "Rej" || ev.attrs["subject"] != "a|b=c" {
		t.Errorf("event %+v", ev)
	}
	if want := time.Date(2026, 11, 22, 9, 59, 58, 123e6, time.UTC); !ev.device.Equal(want) {
		t.Errorf("device time %v, want %v", ev.device, want)
	}
	if want := time.Date(2026, 11, 22, 10, 0, 0, 5e8, time.UTC); !ev.received.Equal(want) {
		t.Errorf("received %v, want %v", ev.received, want)
	}
	caret, ok := parseLine("<14>1 2026-11-22T10:00:00Z h app - - - LEEF:2.0|V|P|1|id|^|a=1^b=2")
	if !ok || caret.attrs["b"] != "2" {
		t.Errorf("caret delimiter: %+v", caret)
	}
	for _, bad := range []string{"", "plain text", "<14>1 not-a-time h app - - - LEEF:2.0|V|P|1|id|x09|a=1", "<14>1 2026-11-22T10:00:00Z h LEEF:2.0|V|P"} {
		if _, ok := parseLine(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFilter(t *testing.T) {
	obj := map[string]any{"name": `Mimecast "EU"`, "type_id": float64(4000), "parent_id": nil, "enabled": true}
	tests := []struct {
		f    string
		want bool
	}{
		{`name="Mimecast \"EU\""`, true},
		{`type_id=4000`, true},
		{`type_id=4000 and name="x"`, false},
		{`type_id=1 or enabled=true`, true},
		{`parent_id is null`, true},
		{`parent_id is not null`, false},
		{`name ilike "mimecast%"`, true},
		{`(type_id>3999 and type_id<4001)`, true},
	}
	for _, tt := range tests {
		e, err := parseFilter(tt.f)
		if err != nil {
			t.Errorf("%s: %v", tt.f, err)
			continue
		}
		if got := e.eval(obj); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.f, got, tt.want)
		}
	}
	for _, bad := range []string{`name=`, `name="open`, `a(b)="x"`, `name ~ "x"`} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
