package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mimecast-qradar/app/internal/model"
)

// MaxDeliveredKeys bounds the delivered-record identities kept per
// (account, stream); beyond it the oldest are dropped, after which a
// replay of their records is no longer recognised.
const MaxDeliveredKeys = 200_000

// ErrBackfillGone is returned by Commit when the backfill it updates was
// cancelled meanwhile. Everything else in the commit was saved.
var ErrBackfillGone = errors.New("the re-collection was cancelled")

// Progress is what a collection step commits at once, after the events it
// names were flushed to the syslog target: the stream's checkpoint and/or
// its pending backfill's position and counts, with the identities of the
// records delivered since the previous commit.
type Progress struct {
	Checkpoint []byte // nil: unchanged
	// Backfill, when set, updates the pending backfill's counts and
	// position (BackfillPosition).
	Backfill         *model.Backfill
	BackfillPosition []byte
	Delivered        []int64
	// Sets are named duplicate-filter sets replacing the stored ones;
	// DeleteSets names sets to drop.
	Sets       map[string][]byte
	DeleteSets []string
}

// Commit saves p for (account, stream) in one transaction. When p.Backfill
// is set and the backfill no longer exists, the rest is still saved and
// ErrBackfillGone is returned.
func (s *Store) Commit(ctx context.Context, accountID int64, stream model.Stream, p Progress) error {
	gone := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := ms(s.now())
		if p.Checkpoint != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (account_id, stream, data, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (account_id, stream) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
				accountID, string(stream), p.Checkpoint, now); err != nil {
				return err
			}
		}
		if len(p.Delivered) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO delivered (account_id, stream, key, seq) VALUES (?, ?, ?, ?)
				ON CONFLICT DO UPDATE SET seq = excluded.seq`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, k := range p.Delivered {
				if _, err := st.ExecContext(ctx, accountID, string(stream), k, now); err != nil {
					return err
				}
			}
		}
		if err := deleteSets(ctx, tx, accountID, stream, p.DeleteSets); err != nil {
			return err
		}
		for name, data := range p.Sets {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dedup_sets (account_id, stream, name, data) VALUES (?, ?, ?, ?)
				ON CONFLICT (account_id, stream, name) DO UPDATE SET data = excluded.data`,
				accountID, string(stream), name, data); err != nil {
				return err
			}
		}
		if p.Backfill != nil {
			res, err := tx.ExecContext(ctx, `UPDATE backfills SET delivered = ?, skipped = ?, position = ?
				WHERE account_id = ? AND stream = ? AND requested = ?`,
				p.Backfill.Delivered, p.Backfill.Skipped, p.BackfillPosition, accountID, string(stream), ms(p.Backfill.Requested))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			gone = n == 0
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving progress %d/%s: %w", accountID, stream, err)
	}
	if gone {
		return ErrBackfillGone
	}
	return nil
}

// DedupSets returns the duplicate-filter sets of (account, stream) by name.
func (s *Store) DedupSets(ctx context.Context, accountID int64, stream model.Stream) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, data FROM dedup_sets WHERE account_id = ? AND stream = ?`,
		accountID, string(stream))
	if err != nil {
		return nil, fmt.Errorf("reading duplicate filter %d/%s: %w", accountID, stream, err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name string
		var data []byte
		if err := rows.Scan(&name, &data); err != nil {
			return nil, fmt.Errorf("reading duplicate filter %d/%s: %w", accountID, stream, err)
		}
		out[name] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading duplicate filter %d/%s: %w", accountID, stream, err)
	}
	return out, nil
}

// deleteSets drops the named duplicate-filter sets of (account, stream).
func deleteSets(ctx context.Context, tx *sql.Tx, accountID int64, stream model.Stream, names []string) error {
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dedup_sets WHERE account_id = ? AND stream = ? AND name = ?`,
			accountID, string(stream), name); err != nil {
			return err
		}
	}
	return nil
}

// IsDelivered reports whether a record with identity key was delivered for
// (account, stream) and is still remembered.
func (s *Store) IsDelivered(ctx context.Context, accountID int64, stream model.Stream, key int64) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM delivered WHERE account_id = ? AND stream = ? AND key = ?`,
		accountID, string(stream), key).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading delivered records %d/%s: %w", accountID, stream, err)
	}
	return true, nil
}

// PruneDelivered drops the oldest identities of (account, stream) beyond
// the newest keep.
func (s *Store) PruneDelivered(ctx context.Context, accountID int64, stream model.Stream, keep int) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM delivered WHERE account_id = ? AND stream = ? AND key IN
		(SELECT key FROM delivered WHERE account_id = ? AND stream = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`,
		accountID, string(stream), accountID, string(stream), keep)
	if err != nil {
		return fmt.Errorf("pruning delivered records %d/%s: %w", accountID, stream, err)
	}
	return nil
}

// CreateBackfill records a pending backfill of (account, stream); ErrConflict
// when one is pending already.
func (s *Store) CreateBackfill(ctx context.Context, accountID int64, stream model.Stream, b model.Backfill) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO backfills (account_id, stream, from_time, to_time, requested)
		VALUES (?, ?, ?, ?, ?)`, accountID, string(stream), ms(b.From), ms(b.To), ms(b.Requested))
	if isUniqueViolation(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("recording backfill %d/%s: %w", accountID, stream, err)
	}
	return nil
}

// Backfill returns the pending backfill of (account, stream) and its
// position, or nil when there is none.
func (s *Store) Backfill(ctx context.Context, accountID int64, stream model.Stream) (*model.Backfill, []byte, error) {
	var b model.Backfill
	var from, to, requested int64
	var pos []byte
	err := s.db.QueryRowContext(ctx, `SELECT from_time, to_time, requested, delivered, skipped, position
		FROM backfills WHERE account_id = ? AND stream = ?`, accountID, string(stream)).
		Scan(&from, &to, &requested, &b.Delivered, &b.Skipped, &pos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading backfill %d/%s: %w", accountID, stream, err)
	}
	b.From, b.To, b.Requested = fromMS(from), fromMS(to), fromMS(requested)
	return &b, pos, nil
}

// Backfills returns every pending backfill by account and stream.
func (s *Store) Backfills(ctx context.Context) (map[int64]map[model.Stream]model.Backfill, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT account_id, stream, from_time, to_time, requested, delivered, skipped FROM backfills`)
	if err != nil {
		return nil, fmt.Errorf("reading backfills: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[model.Stream]model.Backfill{}
	for rows.Next() {
		var id, from, to, requested int64
		var stream string
		var b model.Backfill
		if err := rows.Scan(&id, &stream, &from, &to, &requested, &b.Delivered, &b.Skipped); err != nil {
			return nil, fmt.Errorf("reading backfills: %w", err)
		}
		b.From, b.To, b.Requested = fromMS(from), fromMS(to), fromMS(requested)
		if out[id] == nil {
			out[id] = map[model.Stream]model.Backfill{}
		}
		out[id][model.Stream(stream)] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading backfills: %w", err)
	}
	return out, nil
}

// DeleteBackfill ends the backfill of (account, stream): cancelled (any
// backfill, requested zero) or finished (only the one requested then, not
// one requested again meanwhile). ErrNotFound when there is none.
func (s *Store) DeleteBackfill(ctx context.Context, accountID int64, stream model.Stream, requested time.Time) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM backfills WHERE account_id = ? AND stream = ? AND (? OR requested = ?)`,
		accountID, string(stream), requested.IsZero(), ms(requested))
	if err != nil {
		return fmt.Errorf("deleting backfill %d/%s: %w", accountID, stream, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}
