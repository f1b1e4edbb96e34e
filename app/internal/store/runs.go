package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mimecast-qradar/app/internal/model"
)

// RunHistoryPerStream bounds the run history kept per (account, stream).
const RunHistoryPerStream = 500

// StreamState returns the stored state of (account, stream); a stream that
// never ran is returned idle with nil times.
func (s *Store) StreamState(ctx context.Context, accountID int64, stream model.Stream) (model.StreamStatus, error) {
	row := s.db.QueryRowContext(ctx, `SELECT stream, state, last_run_started, last_run_ended, last_success,
		events_last_run, events_total, last_error, newest_event FROM stream_state WHERE account_id = ? AND stream = ?`,
		accountID, string(stream))
	st, err := scanState(row)
	if errors.Is(err, sql.ErrNoRows) {
		return model.StreamStatus{Stream: stream, State: model.StateIdle}, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading stream state %d/%s: %w", accountID, stream, err)
	}
	return st, nil
}

// StreamStates returns every stored stream state keyed by account id.
func (s *Store) StreamStates(ctx context.Context) (map[int64][]model.StreamStatus, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT account_id, stream, state, last_run_started, last_run_ended,
		last_success, events_last_run, events_total, last_error, newest_event FROM stream_state`)
	if err != nil {
		return nil, fmt.Errorf("reading stream states: %w", err)
	}
	defer rows.Close()
	out := map[int64][]model.StreamStatus{}
	for rows.Next() {
		var id int64
		st, err := scanState(rowWithID{rows, &id})
		if err != nil {
			return nil, fmt.Errorf("reading stream states: %w", err)
		}
		out[id] = append(out[id], st)
	}
	return out, rows.Err()
}

type rowWithID struct {
	rows *sql.Rows
	id   *int64
}

func (r rowWithID) Scan(dest ...any) error { return r.rows.Scan(append([]any{r.id}, dest...)...) }

func scanState(row scanner) (model.StreamStatus, error) {
	var st model.StreamStatus
	var stream string
	var started, ended, success, newest sql.NullInt64
	if err := row.Scan(&stream, &st.State, &started, &ended, &success, &st.EventsLastRun, &st.EventsTotal,
		&st.LastError, &newest); err != nil {
		return st, err
	}
	st.Stream = model.Stream(stream)
	st.LastRunStarted, st.LastRunEnded = fromNullMS(started), fromNullMS(ended)
	st.LastSuccess, st.NewestEvent = fromNullMS(success), fromNullMS(newest)
	return st, nil
}

// SaveStreamState stores the state of (account, stream). NextRun is not
// stored: it comes from the scheduler.
func (s *Store) SaveStreamState(ctx context.Context, accountID int64, st model.StreamStatus) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO stream_state (account_id, stream, state, last_run_started,
		last_run_ended, last_success, events_last_run, events_total, last_error, newest_event)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, stream) DO UPDATE SET state = excluded.state,
		last_run_started = excluded.last_run_started, last_run_ended = excluded.last_run_ended,
		last_success = excluded.last_success, events_last_run = excluded.events_last_run,
		events_total = excluded.events_total, last_error = excluded.last_error, newest_event = excluded.newest_event`,
		accountID, string(st.Stream), st.State, msPtr(st.LastRunStarted), msPtr(st.LastRunEnded),
		msPtr(st.LastSuccess), st.EventsLastRun, st.EventsTotal, st.LastError, msPtr(st.NewestEvent))
	if err != nil {
		return fmt.Errorf("saving stream state %d/%s: %w", accountID, st.Stream, err)
	}
	return nil
}

// AddRun appends a finished run to the history and prunes the history of
// that (account, stream) to RunHistoryPerStream rows.
func (s *Store) AddRun(ctx context.Context, r model.Run) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO runs (account_id, stream, started_at, ended_at, events, outcome, error)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.AccountID, string(r.Stream), ms(r.Started), ms(r.Ended), r.Events,
			r.Outcome, r.Error); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE account_id = ? AND stream = ? AND id NOT IN
			(SELECT id FROM runs WHERE account_id = ? AND stream = ? ORDER BY id DESC LIMIT ?)`,
			r.AccountID, string(r.Stream), r.AccountID, string(r.Stream), RunHistoryPerStream)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording run %d/%s: %w", r.AccountID, r.Stream, err)
	}
	return nil
}

// Runs returns the account's most recent runs, newest first.
func (s *Store) Runs(ctx context.Context, accountID int64, limit int) ([]model.Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, account_id, stream, started_at, ended_at, events, outcome, error
		FROM runs WHERE account_id = ? ORDER BY id DESC LIMIT ?`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("reading runs of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []model.Run
	for rows.Next() {
		var r model.Run
		var stream string
		var started, ended int64
		if err := rows.Scan(&r.ID, &r.AccountID, &stream, &started, &ended, &r.Events, &r.Outcome, &r.Error); err != nil {
			return nil, fmt.Errorf("reading runs of account %d: %w", accountID, err)
		}
		r.Stream, r.Started, r.Ended = model.Stream(stream), fromMS(started), fromMS(ended)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EventsSince sums the events delivered by runs of (account, stream) that
// started at or after since (for "events in the last 24 h").
func (s *Store) EventsSince(ctx context.Context, accountID int64, stream model.Stream, since time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(events), 0) FROM runs WHERE account_id = ? AND stream = ?
		AND started_at >= ?`, accountID, string(stream), ms(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("summing events of %d/%s: %w", accountID, stream, err)
	}
	return n, nil
}
