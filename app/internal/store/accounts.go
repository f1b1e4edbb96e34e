package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
)

const accountColumns = `id, name, enabled, api_version, base_url, client_id, app_id, streams, schedule,
	log_source_identifier, initial_lookback_hours, created_at, updated_at`

// CreateAccount inserts a, sealing its secrets, and sets a.ID and the
// timestamps. A taken name or log source identifier gives ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, a *model.Account) error {
	now := s.now().UTC()
	streams, err := json.Marshal(a.Streams)
	if err != nil {
		return fmt.Errorf("encoding streams: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, enabled, api_version, base_url, client_id, app_id,
			streams, schedule, log_source_identifier, initial_lookback_hours, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.Name, a.Enabled, a.APIVersion, a.BaseURL, a.ClientID, a.AppID, string(streams), a.Schedule,
			a.LogSourceIdentifier, a.InitialLookbackHours, ms(now), ms(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		a.ID = id
		return s.writeSecrets(ctx, tx, a)
	})
	if isUniqueViolation(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("creating account: %w", err)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	a.CredentialsError = ""
	return nil
}

// UpdateAccount replaces every stored field of a, secrets included: an empty
// secret field removes that secret. Callers merge "unchanged" secrets first.
func (s *Store) UpdateAccount(ctx context.Context, a *model.Account) error {
	now := s.now().UTC()
	streams, err := json.Marshal(a.Streams)
	if err != nil {
		return fmt.Errorf("encoding streams: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET name = ?, enabled = ?, api_version = ?, base_url = ?,
			client_id = ?, app_id = ?, streams = ?, schedule = ?, log_source_identifier = ?,
			initial_lookback_hours = ?, updated_at = ? WHERE id = ?`,
			a.Name, a.Enabled, a.APIVersion, a.BaseURL, a.ClientID, a.AppID, string(streams), a.Schedule,
			a.LogSourceIdentifier, a.InitialLookbackHours, ms(now), a.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.writeSecrets(ctx, tx, a)
	})
	switch {
	case isUniqueViolation(err):
		return ErrConflict
	case errors.Is(err, ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("updating account: %w", err)
	}
	a.UpdatedAt = now
	a.CredentialsError = ""
	return nil
}

func (s *Store) writeSecrets(ctx context.Context, tx *sql.Tx, a *model.Account) error {
	for _, field := range model.SecretFields {
		value := *a.Secret(field)
		if value == "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM account_secrets WHERE account_id = ? AND field = ?`, a.ID, field); err != nil {
				return err
			}
			continue
		}
		sealed, err := s.box.Seal(value, secretAD(a.ID, field))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_secrets (account_id, field, sealed) VALUES (?, ?, ?)
			ON CONFLICT (account_id, field) DO UPDATE SET sealed = excluded.sealed`, a.ID, field, sealed); err != nil {
			return err
		}
	}
	return nil
}

// secretAD is the associated data binding a sealed secret to its account and
// field, so a ciphertext moved to another row does not open.
func secretAD(accountID int64, field string) string {
	return "account:" + strconv.FormatInt(accountID, 10) + ":" + field
}

// Account returns one account with its secrets opened. When a secret was
// sealed with another key, the account is returned with CredentialsError set
// and that secret empty.
func (s *Store) Account(ctx context.Context, id int64) (*model.Account, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading account %d: %w", id, err)
	}
	if err := s.loadSecrets(ctx, []*model.Account{a}); err != nil {
		return nil, err
	}
	return a, nil
}

// ListAccounts returns every account ordered by name, secrets opened.
func (s *Store) ListAccounts(ctx context.Context) ([]model.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY name COLLATE NOCASE, id`)
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	defer rows.Close()
	var ptrs []*model.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("listing accounts: %w", err)
		}
		ptrs = append(ptrs, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	if err := s.loadSecrets(ctx, ptrs); err != nil {
		return nil, err
	}
	out := make([]model.Account, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out, nil
}

// DeleteAccount removes an account with its secrets, checkpoints, state and
// run history.
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("deleting account %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanAccount(row scanner) (*model.Account, error) {
	var a model.Account
	var streams string
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Name, &a.Enabled, &a.APIVersion, &a.BaseURL, &a.ClientID, &a.AppID, &streams,
		&a.Schedule, &a.LogSourceIdentifier, &a.InitialLookbackHours, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(streams), &a.Streams); err != nil {
		return nil, fmt.Errorf("decoding streams of account %d: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	return &a, nil
}

func (s *Store) loadSecrets(ctx context.Context, accounts []*model.Account) error {
	if len(accounts) == 0 {
		return nil
	}
	byID := make(map[int64]*model.Account, len(accounts))
	for _, a := range accounts {
		byID[a.ID] = a
	}
	rows, err := s.db.QueryContext(ctx, `SELECT account_id, field, sealed FROM account_secrets`)
	if err != nil {
		return fmt.Errorf("reading secrets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var field, sealed string
		if err := rows.Scan(&id, &field, &sealed); err != nil {
			return fmt.Errorf("reading secrets: %w", err)
		}
		a := byID[id]
		if a == nil || a.Secret(field) == nil {
			continue
		}
		plain, err := s.box.OpenValue(sealed, secretAD(id, field))
		switch {
		case errors.Is(err, secrets.ErrKeyChanged):
			a.CredentialsError = "re-enter credentials: the stored " + field + " was sealed with a different key (the app's key changed)"
		case err != nil:
			a.CredentialsError = "re-enter credentials: the stored " + field + " cannot be read"
		default:
			*a.Secret(field) = plain
		}
	}
	return rows.Err()
}
