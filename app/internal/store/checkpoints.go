package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"mimecast-qradar/app/internal/model"
)

// Checkpoint returns the stored checkpoint of (account, stream), or nil when
// there is none yet.
func (s *Store) Checkpoint(ctx context.Context, accountID int64, stream model.Stream) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM checkpoints WHERE account_id = ? AND stream = ?`,
		accountID, string(stream)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint %d/%s: %w", accountID, stream, err)
	}
	return data, nil
}

// SaveCheckpoint stores the checkpoint of (account, stream). The write is
// durable when it returns: the collector calls it only after the events
// before the checkpoint were flushed to the syslog target.
func (s *Store) SaveCheckpoint(ctx context.Context, accountID int64, stream model.Stream, data []byte) error {
	return s.Commit(ctx, accountID, stream, Progress{Checkpoint: data})
}

// DeleteCheckpoint forgets the checkpoint of (account, stream) and what it
// knows of the records delivered, so the next run starts from the
// account's initial lookback as if new.
func (s *Store) DeleteCheckpoint(ctx context.Context, accountID int64, stream model.Stream) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"checkpoints", "dedup_sets", "delivered"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE account_id = ? AND stream = ?`,
				accountID, string(stream)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting checkpoint %d/%s: %w", accountID, stream, err)
	}
	return nil
}

// ResetCheckpoint replaces the checkpoint of (account, stream) with keep
// (nil: deletes it) and drops the duplicate-filter sets named in drop, in
// one transaction. The other sets and the delivered identities stay, so a
// stream restarting from its initial lookback still knows what it sent.
func (s *Store) ResetCheckpoint(ctx context.Context, accountID int64, stream model.Stream, keep []byte, drop []string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if keep == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE account_id = ? AND stream = ?`, accountID, string(stream))
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE checkpoints SET data = ?, updated_at = ? WHERE account_id = ? AND stream = ?`,
				keep, ms(s.now()), accountID, string(stream))
		}
		if err != nil {
			return err
		}
		return deleteSets(ctx, tx, accountID, stream, drop)
	})
	if err != nil {
		return fmt.Errorf("resetting checkpoint %d/%s: %w", accountID, stream, err)
	}
	return nil
}
