package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"mimecast-qradar/app/internal/model"
)

// DefaultSchedule is the schedule of an account that has none: every 15
// minutes.
const DefaultSchedule = "*/15 * * * *"

// scheduleParser accepts the standard five cron fields (and the @hourly
// style descriptors), like cron.ParseStandard.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses an account's cron schedule: five fields (minute,
// hour, day of month, month, day of week) in the server's local time. An
// empty expression is DefaultSchedule.
func ParseSchedule(expr string) (cron.Schedule, error) {
	if expr == "" {
		expr = DefaultSchedule
	}
	s, err := scheduleParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", expr, err)
	}
	return s, nil
}

// ValidateSchedule reports whether expr is a schedule ParseSchedule accepts.
func ValidateSchedule(expr string) error {
	_, err := ParseSchedule(expr)
	return err
}

// scheduled is what the collector knows of an account between runs.
type scheduled struct {
	entry   cron.EntryID // 0 when not scheduled (disabled)
	enabled bool
	credErr string
}

// schedule replaces the account's cron job (one job per account, keyed by
// its id) so a changed schedule applies at once. Disabled accounts have no
// job. The caller holds c.mu.
func (c *Collector) scheduleLocked(a model.Account) {
	prev := c.scheduled[a.ID]
	if prev != nil && prev.entry != 0 {
		c.cron.Remove(prev.entry)
	}
	s := &scheduled{enabled: a.Enabled, credErr: a.CredentialsError}
	c.scheduled[a.ID] = s
	if !a.Enabled {
		return
	}
	sched, err := ParseSchedule(a.Schedule)
	if err != nil {
		// The web API validates schedules; one that is stored invalid anyway
		// must not stop collection.
		c.log.Error("Invalid schedule; using the default", slog.Int64("account_id", a.ID),
			slog.String("default", DefaultSchedule), slog.Any("error", err))
		sched, _ = ParseSchedule(DefaultSchedule)
	}
	id := a.ID
	s.entry = c.cron.Schedule(sched, cron.FuncJob(func() { c.scheduledRun(id) }))
}

// nextRunLocked returns the account's next scheduled run, or nil. The
// caller holds c.mu.
func (c *Collector) nextRunLocked(id int64) *time.Time {
	s := c.scheduled[id]
	if s == nil || s.entry == 0 {
		return nil
	}
	e := c.cron.Entry(s.entry)
	if !e.Valid() {
		return nil
	}
	next := e.Next
	if next.IsZero() {
		// The cron is not running (yet): what it would pick.
		next = e.Schedule.Next(time.Now())
	}
	next = next.UTC()
	return &next
}

// scheduledRun is the cron job of one account: it starts a run unless one
// is still going.
func (c *Collector) scheduledRun(id int64) {
	ctx, cancel := context.WithTimeout(c.baseCtx, bookkeepingTimeout)
	defer cancel()
	a, err := c.store.Account(ctx, id)
	if err != nil {
		c.log.Error("Scheduled run: cannot read the account", slog.Int64("account_id", id), slog.Any("error", err))
		return
	}
	if !a.Enabled {
		return
	}
	_, err = c.startRun(c.baseCtx, *a, "schedule")
	switch {
	case errors.Is(err, model.ErrRunInProgress):
		c.log.Info("Scheduled run skipped: the previous run is still going", slog.Int64("account_id", id))
	case err != nil:
		c.log.Debug("Scheduled run not started", slog.Int64("account_id", id), slog.Any("error", err))
	}
}

// cronLogger passes robfig/cron's messages to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, keysAndValues ...any) {
	l.log.Debug("cron: "+msg, keysAndValues...)
}

func (l cronLogger) Error(err error, msg string, keysAndValues ...any) {
	l.log.Error("cron: "+msg, append(keysAndValues, "error", err)...)
}
