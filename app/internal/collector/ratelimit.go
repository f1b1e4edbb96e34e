package collector

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
)

// blockedUntilKey is the store setting holding the end of the account's
// last Mimecast rate-limit block (RFC 3339), so a restart does not call
// Mimecast again before it.
func blockedUntilKey(accountID int64) string {
	return "ratelimit_blocked_until:" + strconv.FormatInt(accountID, 10)
}

// rateBudget returns the account's rate-limit budget, shared by every
// request of its streams for the collector's life. The first use seeds it
// with the block saved before a restart; later blocks are saved.
func (c *Collector) rateBudget(accountID int64) *mimecast.RateBudget {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.budgets[accountID]; b != nil {
		return b
	}
	log := c.log.With(slog.Int64("account_id", accountID))
	b := mimecast.NewRateBudget(c.loadBlockedUntil(accountID, log), func(until time.Time) {
		c.saveBlockedUntil(accountID, until, log)
	})
	c.budgets[accountID] = b
	return b
}

// loadBlockedUntil reads the saved block; a missing or unreadable one is
// no block.
func (c *Collector) loadBlockedUntil(accountID int64, log *slog.Logger) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), bookkeepingTimeout)
	defer cancel()
	v, ok, err := c.store.Setting(ctx, blockedUntilKey(accountID))
	if err != nil || !ok {
		if err != nil {
			log.Warn("Cannot read the saved Mimecast rate-limit block", slog.Any("error", err))
		}
		return time.Time{}
	}
	until, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		log.Warn("Ignoring an unreadable saved Mimecast rate-limit block", slog.Any("error", err))
		return time.Time{}
	}
	return until
}

// saveBlockedUntil saves a new block (the budget reports only later ones).
func (c *Collector) saveBlockedUntil(accountID int64, until time.Time, log *slog.Logger) {
	log.Info("Holding back the account's Mimecast requests until its rate limit resets", slog.Time("until", until))
	ctx, cancel := context.WithTimeout(context.Background(), bookkeepingTimeout)
	defer cancel()
	if err := c.store.SetSetting(ctx, blockedUntilKey(accountID), until.UTC().Format(time.RFC3339Nano)); err != nil {
		log.Error("Cannot save the Mimecast rate-limit block", slog.Any("error", err))
	}
}

// runStreamInBudget runs one stream of a as one of the streams sharing the
// account's rate-limit budget (see mimecast.RateBudget).
func (c *Collector) runStreamInBudget(ctx context.Context, src source, a model.Account, s model.Stream, log *slog.Logger) streamResult {
	ctx, leave := c.rateBudget(a.ID).Join(ctx, s)
	defer leave()
	return c.runStream(ctx, src, a, s, log)
}
