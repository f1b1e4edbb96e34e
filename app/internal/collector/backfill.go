package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// Backfill records a re-collection of stream between from and to for
// account id (see model.Backfill). A from older than Mimecast keeps the
// stream's data is moved up to that horizon (those records are gone), and a
// to in the future down to now; a period that ends before the horizon, an
// empty period, or a stream the account does not collect or that cannot be
// re-collected is refused with model.ErrInvalidBackfill. A pending
// re-collection of the stream is model.ErrBackfillPending. The stream's
// next run starts it; nothing runs now.
func (c *Collector) Backfill(ctx context.Context, id int64, stream model.Stream, from, to time.Time) error {
	a, err := c.store.Account(ctx, id)
	if err != nil {
		return err
	}
	retention, ok := model.BackfillRetention(stream)
	if !ok {
		return fmt.Errorf("%w: the %s stream is a snapshot of the present and cannot be re-collected", model.ErrInvalidBackfill, stream)
	}
	if !a.HasStream(stream) {
		return fmt.Errorf("%w: the account does not collect the %s stream", model.ErrInvalidBackfill, stream)
	}
	now := c.now().UTC()
	horizon := now.Add(-retention)
	from, to = from.UTC(), to.UTC()
	if to.After(now) {
		to = now
	}
	switch {
	case !from.Before(to):
		return fmt.Errorf("%w: the period must end after it starts", model.ErrInvalidBackfill)
	case !to.After(horizon):
		return fmt.Errorf("%w: Mimecast keeps %s data for %d days; the period ends before %s",
			model.ErrInvalidBackfill, stream, int(retention.Hours()/24), horizon.Format(time.RFC3339))
	}
	if from.Before(horizon) {
		from = horizon
	}
	b := model.Backfill{From: from, To: to, Requested: now}
	if err := c.store.CreateBackfill(ctx, id, stream, b); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return model.ErrBackfillPending
		}
		return err
	}
	c.log.Info("Re-collection requested", slog.Int64("account_id", id), slog.String("stream", string(stream)),
		slog.Time("from", from), slog.Time("to", to))
	return nil
}

// CancelBackfill drops the pending re-collection of (id, stream);
// store.ErrNotFound when there is none. A run carrying it out stops at its
// next commit: what it delivered until then stays delivered.
func (c *Collector) CancelBackfill(ctx context.Context, id int64, stream model.Stream) error {
	if err := c.store.DeleteBackfill(ctx, id, stream, time.Time{}); err != nil {
		return err
	}
	c.log.Info("Re-collection cancelled", slog.Int64("account_id", id), slog.String("stream", string(stream)))
	return nil
}

// endBackfill records the end of a backfill's run: a finished backfill is
// removed, a cancelled one (store.ErrBackfillGone) ends quietly.
func (s *streamRun) endBackfill(ctx context.Context, b *model.Backfill, done bool, err error) error {
	switch {
	case errors.Is(err, store.ErrBackfillGone):
		s.log.Info("Re-collection cancelled", slog.Int64("delivered", b.Delivered), slog.Int64("skipped", b.Skipped))
		return nil
	case err != nil || !done:
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := s.c.store.DeleteBackfill(wctx, s.acct.ID, s.stream, b.Requested); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.log.Info("Re-collection finished", slog.Time("from", b.From), slog.Time("to", b.To),
		slog.Int64("delivered", b.Delivered), slog.Int64("skipped", b.Skipped))
	return nil
}
