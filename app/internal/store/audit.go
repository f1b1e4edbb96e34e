package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// AuditMaxEntries bounds the audit trail; adding an entry beyond it deletes
// the oldest.
const AuditMaxEntries = 10_000

// AuditEntry is one configuration change in the audit trail. Details never
// hold a secret: a changed secret is recorded as "changed".
type AuditEntry struct {
	ID      int64             `json:"id"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Target  string            `json:"target"`
	Details map[string]string `json:"details"`
}

// AddAudit appends e to the audit trail, setting its ID (and its Time when
// zero), and prunes the trail to AuditMaxEntries.
func (s *Store) AddAudit(ctx context.Context, e *AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("recording audit entry %s: %w", e.Action, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)`,
			ms(e.Time), e.Actor, e.Action, e.Target, string(b))
		if err != nil {
			return err
		}
		if e.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_log WHERE id <= ?`, e.ID-AuditMaxEntries)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording audit entry %s: %w", e.Action, err)
	}
	return nil
}

// AuditEntries returns at most limit entries, newest first, older than the
// entry beforeID (0: from the newest).
func (s *Store) AuditEntries(ctx context.Context, limit int, beforeID int64) ([]AuditEntry, error) {
	q := `SELECT id, at, actor, action, target, details FROM audit_log ORDER BY id DESC LIMIT ?`
	args := []any{limit}
	if beforeID > 0 {
		q = `SELECT id, at, actor, action, target, details FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?`
		args = []any{beforeID, limit}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &details); err != nil {
			return nil, fmt.Errorf("reading the audit trail: %w", err)
		}
		e.Time = fromMS(at)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil || e.Details == nil {
			e.Details = map[string]string{}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
