package qradar

import (
	"slices"
	"testing"

	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/model"
)

// TestEvents_CoverEveryCatTheLEEFFormatterEmits cross-checks the QID table
// with the leef package's log type table: every cat value leef knows (and
// the log type itself, used when a record has no cat field) is mapped, with
// the same severity, and the table maps nothing leef never emits.
func TestEvents_CoverEveryCatTheLEEFFormatterEmits(t *testing.T) {
	type pair struct{ eventID, cat string }
	emitted := map[pair]int{} // -> leef's sev
	for _, lt := range leef.LogTypes() {
		m := leef.Mapping(lt)
		emitted[pair{lt, lt}] = m.Sev
		for _, c := range m.Categories {
			emitted[pair{lt, c.Value}] = c.Sev
		}
	}
	// Health events carry the run's outcome as cat (leef.AppendHealth).
	emitted[pair{model.LogCollectorHealth, "ok"}] = 1
	emitted[pair{model.LogCollectorHealth, "error"}] = 7
	if !slices.Contains(leef.LogTypes(), LogMessageRelease) {
		emitted[pair{LogMessageRelease, LogMessageRelease}] = leef.Mapping(LogMessageRelease).Sev
	}

	mapped := map[pair]bool{}
	names := map[string]bool{}
	for _, e := range Events() {
		p := pair{e.EventID, e.Cat}
		if mapped[p] {
			t.Errorf("%s/%s mapped twice", e.EventID, e.Cat)
		}
		mapped[p] = true
		if names[e.Name] {
			t.Errorf("QID name %q used twice", e.Name)
		}
		names[e.Name] = true
		sev, ok := emitted[p]
		switch {
		case !ok:
			t.Errorf("%s/%s is mapped but the LEEF formatter never emits it (QID records cannot be deleted)", e.EventID, e.Cat)
		case sev != e.Severity:
			t.Errorf("%s/%s: QID severity %d, LEEF sev %d", e.EventID, e.Cat, e.Severity, sev)
		}
		if len(e.Categories) == 0 || e.Categories[len(e.Categories)-1] != "General Audit Event" {
			t.Errorf("%s/%s: categories %v must end with General Audit Event", e.EventID, e.Cat, e.Categories)
		}
	}
	for p := range emitted {
		if !mapped[p] {
			t.Errorf("the LEEF formatter emits %s/%s but no QID maps it", p.eventID, p.cat)
		}
	}
	for _, lt := range model.SIEMLogTypes {
		if !mapped[pair{lt, lt}] {
			t.Errorf("log type %s has no mapping", lt)
		}
	}
}
