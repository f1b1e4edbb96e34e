package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Setting returns a global setting; ok is false when it was never set.
func (s *Store) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading setting %s: %w", key, err)
	}
	return value, true, nil
}

// SetSetting stores a global setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("saving setting %s: %w", key, err)
	}
	return nil
}

// SecretSetting returns a global setting stored sealed (for example a proxy
// password); ok is false when it was never set.
func (s *Store) SecretSetting(ctx context.Context, key string) (value string, ok bool, err error) {
	sealed, ok, err := s.Setting(ctx, "sealed:"+key)
	if err != nil || !ok {
		return "", ok, err
	}
	plain, err := s.box.OpenValue(sealed, "setting:"+key)
	if err != nil {
		return "", true, fmt.Errorf("opening setting %s: %w", key, err)
	}
	return plain, true, nil
}

// SetSecretSetting seals and stores a global setting.
func (s *Store) SetSecretSetting(ctx context.Context, key, value string) error {
	sealed, err := s.box.Seal(value, "setting:"+key)
	if err != nil {
		return fmt.Errorf("sealing setting %s: %w", key, err)
	}
	return s.SetSetting(ctx, "sealed:"+key, sealed)
}
