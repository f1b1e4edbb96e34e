package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

const (
	// siemRetention and logRetention bound the initial lookback: Mimecast
	// keeps SIEM files 7 days and answers audit/TTP/DLP queries 60 days back.
	siemRetention = 7 * 24 * time.Hour
	logRetention  = 60 * 24 * time.Hour
	// defaultLookback applies when an account has no initial lookback.
	defaultLookback = 24 * time.Hour
	// maxStreamsPerAccount runs at most this many streams of one account at
	// once (Mimecast's rate limits are per account or application).
	maxStreamsPerAccount = 3
	// maxAccountsAtOnce runs at most this many accounts at once.
	maxAccountsAtOnce = 4
	// bookkeepingTimeout bounds state, history and checkpoint writes, which
	// use a context that shutdown does not cancel: a flushed page is still
	// committed, and a stopped run still records why it stopped.
	bookkeepingTimeout = 10 * time.Second
	// healthDialTimeout bounds connecting to the target only to send a
	// health event.
	healthDialTimeout = 10 * time.Second
)

// Reasons a run is cancelled (context causes, shown as the stream error).
var (
	errStopping        = errors.New("run interrupted: the collector is stopping")
	errAccountDisabled = errors.New("run stopped: the account was disabled")
	errAccountDeleted  = errors.New("run stopped: the account was deleted")
)

// source is what the collector needs from a Mimecast client (the mimecast
// package's *Client satisfies it).
type source interface {
	CheckAuth(ctx context.Context) error
	CheckStream(ctx context.Context, s model.Stream) error
	SIEMBatch(ctx context.Context, logType string, start time.Time, nextPage string, pageSize int) (mimecast.BatchPage, error)
	DownloadSIEMFile(ctx context.Context, f mimecast.BatchFile, fn func(*model.Record) error) (mimecast.DecodeStats, error)
	SIEMBatchCI(ctx context.Context, ciType string, start time.Time, nextPage string, pageSize int) (mimecast.BatchPage, error)
	SIEMLogsV1(ctx context.Context, token string, start time.Time, onFile func(name string), fn func(*model.Record) error) (mimecast.SIEMFileResult, error)
	Logs(ctx context.Context, q mimecast.LogQuery, fn func(*model.Record) error) (mimecast.LogPage, error)
	ThreatIntel(ctx context.Context, feed model.Stream, start, end time.Time, token string, fn func(*model.Record) error) (string, mimecast.DecodeStats, error)
	Awareness(ctx context.Context, kind string, fn func(*model.Record) error) (mimecast.DecodeStats, error)
}

// accountRun is one run of one account in progress.
type accountRun struct {
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu      sync.Mutex
	pending map[model.Stream]bool // streams not finished yet (waiting or running)
	failed  []error               // one per failed stream, for RunOnce
	more    bool                  // a stream used its budget before catching up
}

func (r *accountRun) isPending(s model.Stream) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[s]
}

func (r *accountRun) finished(s model.Stream, more bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, s)
	r.more = r.more || more
	if err != nil {
		r.failed = append(r.failed, fmt.Errorf("%s: %w", s, err))
	}
}

// streamResult is the outcome of one stream of a run.
type streamResult struct {
	stream    model.Stream
	started   time.Time
	ended     time.Time
	events    int64
	newest    time.Time // newest record delivered in this run
	malformed int64
	more      bool // the budget ended the run before the stream caught up
	err       error
}

// startRun registers a run of a and starts it in the background, unless the
// account has one in progress (model.ErrRunInProgress). parent is the
// context the run derives from.
func (c *Collector) startRun(parent context.Context, a model.Account, reason string) (*accountRun, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, errStopping
	}
	if _, ok := c.runs[a.ID]; ok {
		return nil, model.ErrRunInProgress
	}
	ctx, cancel := context.WithCancelCause(parent)
	r := &accountRun{cancel: cancel, done: make(chan struct{}), pending: map[model.Stream]bool{}}
	for _, s := range a.Streams {
		r.pending[s] = true
	}
	c.runs[a.ID] = r
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.runs, a.ID)
			c.mu.Unlock()
			cancel(nil)
			close(r.done)
		}()
		c.runAccount(ctx, a, r, reason)
	}()
	return r, nil
}

// runAccount runs every selected stream of a, at most maxStreamsPerAccount
// at once, after waiting for one of the maxAccountsAtOnce slots.
func (c *Collector) runAccount(ctx context.Context, a model.Account, r *accountRun, reason string) {
	log := c.log.With(slog.Int64("account_id", a.ID), slog.String("account", a.Name))
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		for _, s := range a.Streams {
			now := c.now()
			c.finishStream(a, r, streamResult{stream: s, started: now, ended: now, err: context.Cause(ctx)}, log)
		}
		return
	}
	log.Info("Collection run started", slog.String("reason", reason), slog.Any("streams", a.Streams))
	started := c.now()

	// An account whose secrets cannot be opened sends nothing to Mimecast:
	// its requests would go out with empty credentials.
	var accountErr error
	var src source
	switch {
	case a.CredentialsError != "":
		accountErr = errors.New(a.CredentialsError)
	default:
		var err error
		if src, err = c.newSource(a); err != nil {
			accountErr = err
		} else if err := src.CheckAuth(ctx); err != nil && !errors.Is(err, mimecast.ErrPermission) {
			// One cheap call up front: refused credentials end the run
			// with one request instead of one failure per stream.
			accountErr = err
		}
	}

	var mu sync.Mutex
	var fatal error // an error that ends the whole account's run (401/418)
	var finished []streamResult
	sem := make(chan struct{}, maxStreamsPerAccount)
	var wg sync.WaitGroup
	for _, s := range a.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := streamResult{stream: s, started: c.now()}
			ran := false // runStream sends its own health event
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				res.started = c.now()
				if accountErr != nil {
					res.err = accountErr
				} else {
					res, ran = c.runStreamInBudget(ctx, src, a, s, log), true
				}
			case <-ctx.Done():
				res.err = context.Cause(ctx)
			}
			if res.err != nil && ctx.Err() != nil && errors.Is(res.err, context.Canceled) {
				res.err = context.Cause(ctx)
			}
			if !ran {
				res.ended = c.now()
				c.sendHealth(a, res, nil, log.With(slog.String("stream", string(s))))
			}
			if res.err != nil && isAccountFatal(res.err) {
				mu.Lock()
				if fatal == nil {
					fatal = res.err
					r.cancel(res.err)
				}
				mu.Unlock()
			}
			res.ended = c.now()
			c.finishStream(a, r, res, log)
			mu.Lock()
			finished = append(finished, res)
			mu.Unlock()
		}()
	}
	wg.Wait()

	// 401/418 end the account's run with every stream in error (design §7),
	// also those that finished before the credentials were refused.
	if fatal != nil {
		for _, res := range finished {
			if res.err == nil {
				// The history keeps the stream's own outcome.
				res.err = fatal
				c.saveState(a, res, false, log)
			}
		}
	}
	log.Info("Collection run ended", slog.Duration("duration", c.now().Sub(started)))
}

// isAccountFatal reports errors that concern the whole account: refused
// credentials or an expired API 1.0 key.
func isAccountFatal(err error) bool {
	return errors.Is(err, mimecast.ErrAuth) || errors.Is(err, mimecast.ErrKeyExpired)
}

// finishStream records a stream's outcome (state, history) and marks it
// finished in the run.
func (c *Collector) finishStream(a model.Account, r *accountRun, res streamResult, log *slog.Logger) {
	log = log.With(slog.String("stream", string(res.stream)))
	if res.err != nil {
		log.Error("Stream run failed", slog.Int64("events", res.events), slog.Any("error", res.err))
	} else {
		log.Info("Stream run done", slog.Int64("events", res.events))
	}
	if res.malformed > 0 {
		log.Warn("Malformed records skipped", slog.Int64("count", res.malformed))
	}
	c.saveState(a, res, true, log)
	r.finished(res.stream, res.more, res.err)
}

// saveState writes the stream's state and, with history, adds the run to
// the run history.
func (c *Collector) saveState(a model.Account, res streamResult, history bool, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), bookkeepingTimeout)
	defer cancel()
	st, err := c.store.StreamState(ctx, a.ID, res.stream)
	if err != nil {
		log.Error("Cannot read stream state", slog.Any("error", err))
		return
	}
	started, ended := res.started.UTC(), res.ended.UTC()
	st.Stream = res.stream
	st.LastRunStarted, st.LastRunEnded = &started, &ended
	st.EventsLastRun = res.events
	if history {
		// Saved again without history only to change the outcome: the
		// events were counted the first time.
		st.EventsTotal += res.events
	}
	if !res.newest.IsZero() && (st.NewestEvent == nil || res.newest.After(*st.NewestEvent)) {
		n := res.newest.UTC()
		st.NewestEvent = &n
	}
	run := model.Run{AccountID: a.ID, Stream: res.stream, Started: started, Ended: ended, Events: res.events, Outcome: "ok"}
	if res.err != nil {
		st.State, st.LastError = model.StateError, res.err.Error()
		run.Outcome, run.Error = "error", res.err.Error()
	} else {
		st.State, st.LastError = model.StateIdle, ""
		st.LastSuccess = &ended
	}
	if err := c.store.SaveStreamState(ctx, a.ID, st); err != nil {
		// A deleted account has no state to save.
		log.Warn("Cannot save stream state", slog.Any("error", err))
		return
	}
	if !history {
		return
	}
	if err := c.store.AddRun(ctx, run); err != nil {
		log.Warn("Cannot record the run", slog.Any("error", err))
	}
}

// streamRun is one stream of one account's run.
type streamRun struct {
	c      *Collector
	acct   model.Account
	stream model.Stream
	src    source
	d      *delivery
	budget int  // files or pages left in this run
	more   bool // the budget ran out
	// keepKeys: the identities of the records a time-window stream
	// delivers are kept (store.Progress.Delivered) for its backfills.
	keepKeys bool
	now      time.Time
	log      *slog.Logger
}

// runStream collects one stream until it is caught up or its budget is
// used, then sends its health event.
func (c *Collector) runStream(ctx context.Context, src source, a model.Account, stream model.Stream, log *slog.Logger) (res streamResult) {
	log = log.With(slog.String("stream", string(stream)))
	res = streamResult{stream: stream, started: c.now()}
	var d *delivery
	defer func() {
		if p := recover(); p != nil {
			log.Error("Stream run panicked", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			res.err = fmt.Errorf("internal error: %v", p)
		}
		if d != nil {
			res.events, res.newest, res.malformed = d.delivered, d.newest, d.malformed
		}
		if res.err != nil && ctx.Err() != nil && errors.Is(res.err, context.Canceled) {
			// Say why the run was cancelled (stopping, disabled, deleted,
			// or another stream's 401/418) rather than "context canceled".
			res.err = context.Cause(ctx)
		}
		res.ended = c.now()
		c.sendHealth(a, res, d, log)
		if d != nil {
			d.fwd.Close()
		}
	}()
	if !stream.IsSupported() {
		res.err = fmt.Errorf("this version does not collect the %s stream", stream)
		return res
	}
	d, res.err = c.openDelivery(ctx, a, log)
	if res.err != nil {
		return res
	}
	data, err := c.store.Checkpoint(ctx, a.ID, stream)
	if err != nil {
		res.err = err
		return res
	}
	s := &streamRun{c: c, acct: a, stream: stream, src: src, d: d, budget: c.maxFiles, now: c.now().UTC(), log: log}
	_, s.keepKeys = model.BackfillRetention(stream)
	switch {
	case stream == model.StreamSIEM && a.APIVersion == model.APIVersion1:
		res.err = s.siemV1(ctx, data)
	case stream == model.StreamSIEM:
		res.err = s.siemBatch(ctx, data, cgBatch)
	case stream == model.StreamSIEMCI && a.APIVersion != model.APIVersion2:
		res.err = errCINeedsAPI2
	case stream == model.StreamSIEMCI:
		res.err = s.siemBatch(ctx, data, ciBatch)
	case stream == model.StreamThreatIntelCustomer || stream == model.StreamThreatIntelGrid:
		res.err = s.window(ctx, data, s.threatIntelSpec())
	case stream == model.StreamAwarenessTraining:
		res.err = s.awareness(ctx, data)
	default:
		res.err = s.window(ctx, data, s.logsSpec())
		if s.keepKeys && d.delivered > 0 {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
			if err := c.store.PruneDelivered(wctx, a.ID, stream, store.MaxDeliveredKeys); err != nil {
				log.Warn("Cannot prune the delivered-record identities", slog.Any("error", err))
			}
			cancel()
		}
	}
	// Only a run that moved on counts as "more to do": a window stream
	// whose re-read overlap alone exceeds the budget delivers nothing new.
	res.more = s.more && d.delivered > 0
	return res
}

// openDelivery connects to the syslog target, read afresh for every stream
// run so a changed setting applies at the next run.
func (c *Collector) openDelivery(ctx context.Context, a model.Account, log *slog.Logger) (*delivery, error) {
	target, err := c.opts.SyslogTarget(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the syslog target: %w", err)
	}
	fwd, maxLen, err := c.dial(ctx, target)
	if err != nil {
		return nil, &deliveryError{target: target, err: err, dialing: true}
	}
	return &delivery{
		fwd:    fwd,
		target: target,
		format: &leef.Formatter{AppVersion: c.opts.AppVersion, MaxLen: maxLen, Now: c.now},
		acct:   leef.Account{Name: a.Name, LogSourceIdentifier: a.LogSourceIdentifier},
		log:    log,
	}, nil
}

// commit makes the checkpoint cp durable after flushing every event before
// it. This order is the at-least-once guarantee (design §7): a checkpoint
// never names a position whose events might not have reached the target.
func (s *streamRun) commit(ctx context.Context, cp any) error {
	data, err := encodeCheckpoint(cp)
	if err != nil {
		return err
	}
	return s.commitProgress(ctx, store.Progress{Checkpoint: data})
}

// commitProgress flushes, then saves p (a checkpoint, a backfill's
// position, delivered identities) in one transaction, with commit's order.
func (s *streamRun) commitProgress(ctx context.Context, p store.Progress) error {
	if err := s.d.flush(); err != nil {
		return err
	}
	if hook := s.c.opts.BeforeCommit; hook != nil {
		if err := hook(s.acct.ID, s.stream); err != nil {
			return fmt.Errorf("committing checkpoint: %w", err)
		}
	}
	// The events are out: commit even when the run is being cancelled, so
	// the next run does not send them again.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	return s.c.store.Commit(wctx, s.acct.ID, s.stream, p)
}

// budgetUsed notes that the stream stopped at its per-run budget; the
// next run continues from the checkpoint.
func (s *streamRun) budgetUsed() {
	s.more = true
	s.log.Info("Per-run budget reached; the next run continues", slog.Int("budget", s.c.maxFiles))
}

// initialStart is where a stream without checkpoint starts: the account's
// initial lookback, at most as far back as Mimecast keeps the data.
func (s *streamRun) initialStart(retention time.Duration) time.Time {
	lookback := time.Duration(s.acct.InitialLookbackHours) * time.Hour
	if lookback <= 0 {
		lookback = defaultLookback
	}
	lookback = min(lookback, retention)
	return s.now.Add(-lookback).UTC()
}

// sendHealth sends the stream's collector_health event, best effort: a
// failure is logged and changes nothing else. It is skipped when the target
// itself failed.
func (c *Collector) sendHealth(a model.Account, res streamResult, d *delivery, log *slog.Logger) {
	if isDeliveryError(res.err) {
		return
	}
	if d == nil {
		ctx, cancel := context.WithTimeout(context.Background(), healthDialTimeout)
		defer cancel()
		var err error
		if d, err = c.openDelivery(ctx, a, log); err != nil {
			log.Warn("Cannot send the health event", slog.Any("error", err))
			return
		}
		defer d.fwd.Close()
	}
	h := leef.Health{
		Stream:     res.stream,
		Outcome:    "ok",
		Events:     res.events,
		LagSeconds: -1,
		RunStarted: res.started,
		RunEnded:   res.ended,
	}
	if res.err != nil {
		h.Outcome, h.Error = "error", res.err.Error()
	}
	newest := res.newest
	ctx, cancel := context.WithTimeout(context.Background(), bookkeepingTimeout)
	defer cancel()
	if st, err := c.store.StreamState(ctx, a.ID, res.stream); err == nil && st.NewestEvent != nil && st.NewestEvent.After(newest) {
		newest = *st.NewestEvent
	}
	if !newest.IsZero() {
		h.LagSeconds = int64(max(0, res.ended.Sub(newest).Seconds()))
	}
	msg := d.format.AppendHealth(nil, d.acct, h)
	if err := d.fwd.Write(msg); err != nil {
		log.Warn("Cannot send the health event", slog.Any("error", err))
		return
	}
	if err := d.fwd.Flush(); err != nil {
		log.Warn("Cannot send the health event", slog.Any("error", err))
	}
}
