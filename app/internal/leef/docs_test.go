package leef

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

const (
	docsPath    = "../../../docs/leef-fields.md"
	tableBegin  = "<!-- BEGIN field table: generated from package leef by go test ./app/internal/leef -run TestDocs -update -->"
	tableEnd    = "<!-- END field table -->"
	noneInTable = "–"
)

// renderFieldTable renders the log type table as Markdown, the form
// docs/leef-fields.md shows it in.
func renderFieldTable() string {
	code := func(names []string) string {
		if len(names) == 0 {
			return noneInTable
		}
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = "`" + n + "`"
		}
		return strings.Join(q, ", ")
	}
	var b strings.Builder
	b.WriteString("| EventID (log type) | Stream | Product | devTime from | cat from | src | dst | usrName | Never cut |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, lt := range LogTypes() {
		m := Mapping(lt)
		cat := code(m.Cat)
		if cat == noneInTable {
			cat = "(the log type)"
		} else {
			cat += ", else the log type"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s | %s | %s | %s |\n",
			lt, m.Stream, Product(m.Stream), code(m.Time), cat, code(m.Src), code(m.Dst), code(m.UsrName), code(m.Keep))
	}
	b.WriteString("\nSeverity (`sev`) per log type: the known `cat` values, the default for any other value, and the rules that raise it.\n\n")
	b.WriteString("| EventID | `cat` value | Event name | sev |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, lt := range LogTypes() {
		m := Mapping(lt)
		for _, c := range m.Categories {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %d |\n", lt, c.Value, c.Name, c.Sev)
		}
		fmt.Fprintf(&b, "| `%s` | any other | | %d |\n", lt, m.Sev)
		for _, r := range m.SevRules {
			cond := "is `" + r.Value + "`"
			if r.Value == AnyValue {
				cond = "has a value"
			}
			fmt.Fprintf(&b, "| `%s` | any, if `%s` %s | | at least %d |\n", lt, r.Field, cond, r.Sev)
		}
	}
	return b.String()
}

func TestDocs_LeefFieldsTableMatchesTheMapping(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	before, rest, ok := strings.Cut(text, tableBegin+"\n")
	table, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the table markers %q … %q", docsPath, tableBegin, tableEnd)
	}
	want := renderFieldTable()
	if *update {
		if err := os.WriteFile(docsPath, []byte(before+tableBegin+"\n"+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if table != want {
		t.Errorf("the table in %s differs from package leef's mapping; run go test ./app/internal/leef -run TestDocs -update\n got:\n%s\nwant:\n%s", docsPath, table, want)
	}
	for _, lt := range LogTypes() {
		if !strings.Contains(table, "| `"+lt+"` | `") {
			t.Errorf("%s does not list log type %s", docsPath, lt)
		}
	}
}
