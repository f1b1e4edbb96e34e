package store

import (
	"context"
	"fmt"

	"mimecast-qradar/app/internal/model"
)

// QRadarObjects returns every remembered QRadar object.
func (s *Store) QRadarObjects(ctx context.Context) ([]model.QRadarObject, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, object, account_id, name, qradar_id, state, last_error, updated_at
		FROM qradar_objects ORDER BY object, account_id, name`)
	if err != nil {
		return nil, fmt.Errorf("reading qradar objects: %w", err)
	}
	defer rows.Close()
	var out []model.QRadarObject
	for rows.Next() {
		var o model.QRadarObject
		var updated int64
		if err := rows.Scan(&o.Key, &o.Object, &o.AccountID, &o.Name, &o.QRadarID, &o.State, &o.LastError, &updated); err != nil {
			return nil, fmt.Errorf("reading qradar objects: %w", err)
		}
		o.UpdatedAt = fromMS(updated)
		out = append(out, o)
	}
	return out, rows.Err()
}

// SaveQRadarObject inserts or replaces the object with o.Key.
func (s *Store) SaveQRadarObject(ctx context.Context, o model.QRadarObject) error {
	updated := o.UpdatedAt
	if updated.IsZero() {
		updated = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO qradar_objects (key, object, account_id, name, qradar_id, state, last_error, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET object = excluded.object,
		account_id = excluded.account_id, name = excluded.name, qradar_id = excluded.qradar_id, state = excluded.state,
		last_error = excluded.last_error, updated_at = excluded.updated_at`,
		o.Key, o.Object, o.AccountID, o.Name, o.QRadarID, o.State, o.LastError, ms(updated))
	if err != nil {
		return fmt.Errorf("saving qradar object %s: %w", o.Key, err)
	}
	return nil
}

// DeleteQRadarObject forgets the object with key.
func (s *Store) DeleteQRadarObject(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM qradar_objects WHERE key = ?`, key); err != nil {
		return fmt.Errorf("deleting qradar object %s: %w", key, err)
	}
	return nil
}
