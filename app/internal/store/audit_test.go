package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestAudit_NewestFirstWithPagingAndDetails(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i, action := range []string{"account_create", "account_update", "settings_update"} {
		e := &AuditEntry{Time: base.Add(time.Duration(i) * time.Minute), Actor: "alice", Action: action,
			Target: "Acme EU", Details: map[string]string{"n": strings.Repeat("x", i)}}
		if err := s.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == 0 {
			t.Fatal("AddAudit did not set the ID")
		}
	}
	got, err := s.AuditEntries(ctx, 2, 0)
	if err != nil || len(got) != 2 || got[0].Action != "settings_update" || got[1].Action != "account_update" {
		t.Fatalf("first page = %+v, %v", got, err)
	}
	if got[0].Details["n"] != "xx" || !got[0].Time.Equal(base.Add(2*time.Minute)) || got[0].Actor != "alice" {
		t.Errorf("entry read back = %+v", got[0])
	}
	older, err := s.AuditEntries(ctx, 10, got[1].ID)
	if err != nil || len(older) != 1 || older[0].Action != "account_create" {
		t.Fatalf("older page = %+v, %v", older, err)
	}
	// An entry without time or details gets the store's clock and {}.
	e := &AuditEntry{Actor: "bob", Action: "collect_now"}
	if err := s.AddAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.Time.IsZero() {
		t.Error("AddAudit did not set the time")
	}
	latest, _ := s.AuditEntries(ctx, 1, 0)
	if latest[0].Details == nil || len(latest[0].Details) != 0 {
		t.Errorf("details of an entry without details = %#v, want empty map", latest[0].Details)
	}
}

func TestAudit_IsAppendOnly(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	e := &AuditEntry{Actor: "alice", Action: "account_delete", Target: "Acme"}
	if err := s.AddAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE audit_log SET actor = 'mallory' WHERE id = ?`, e.ID)
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE of an audit entry: err = %v, want refusal", err)
	}
	got, _ := s.AuditEntries(ctx, 1, 0)
	if got[0].Actor != "alice" {
		t.Errorf("actor after refused update = %q", got[0].Actor)
	}
}

func TestAudit_PrunedToTheBound(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	// Fill the trail to its bound in one statement (adding them one by one
	// would be slow), then add three more.
	_, err := s.db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO audit_log (at, actor, action, target, details) SELECT i, 'seed', 'seed', '', '{}' FROM n`, AuditMaxEntries)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.AddAudit(ctx, &AuditEntry{Actor: "alice", Action: "settings_update"}); err != nil {
			t.Fatal(err)
		}
	}
	var count, oldest int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(id) FROM audit_log`).Scan(&count, &oldest); err != nil {
		t.Fatal(err)
	}
	if count != AuditMaxEntries || oldest != 4 {
		t.Errorf("after pruning: %d entries, oldest id %d; want %d entries from id 4", count, oldest, AuditMaxEntries)
	}
}
