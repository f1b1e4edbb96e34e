// Package collector pulls each account's Mimecast streams on a schedule and
// hands the records, as LEEF, to the syslog sender, committing a stream's
// checkpoint only after what came before it was flushed to the target.
//
// One cron job per enabled account (keyed by account id, replaced when the
// account is saved) starts a run; a run is also started by CollectNow and
// when an account is created or enabled. An account has at most one run at
// a time; a run collects every selected stream (at most three at once) until
// each is caught up or has used its per-run budget, and at most four
// accounts run at once. Each stream run uses its own syslog connection and
// ends with a collector_health event.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslog"
)

// DefaultMaxFilesPerRun is the per-run budget of each stream: SIEM files, or
// pages of a log endpoint. The design requires at least 1,000.
const DefaultMaxFilesPerRun = 1000

// DefaultAwarenessInterval is how often the awareness_training snapshot is
// collected: its rows are scores and counters that change slowly, and a
// full collection reads every user's rows.
const DefaultAwarenessInterval = 24 * time.Hour

// Options configure a Collector.
type Options struct {
	Store *store.Store
	// SyslogTarget returns the effective target URL (tcp://, tls://, udp://,
	// file://); it is read at each stream run.
	SyslogTarget  func(ctx context.Context) (string, error)
	SyslogOptions syslog.Options
	AppVersion    string
	// AllowedOrigins are the extra Mimecast origins (--allow-base-url).
	AllowedOrigins []string
	// HTTPClient is passed to the Mimecast client; nil uses its default.
	HTTPClient *http.Client
	// Proxy chooses the proxy of Mimecast requests (the panel's setting,
	// else the environment's); nil means the environment's.
	Proxy  func(*http.Request) (*url.URL, error)
	Logger *slog.Logger // nil: slog.Default()
	// Now is the clock of the collector and of its Mimecast clients; nil
	// means time.Now.
	Now func() time.Time
	// MaxFilesPerRun is the per-run budget of each stream (files or pages);
	// 0 means DefaultMaxFilesPerRun. Only tests set it lower.
	MaxFilesPerRun int
	// BeforeCommit, when set, is called between a successful flush and the
	// checkpoint write; an error aborts the stream as a crash there would
	// (a test hook).
	BeforeCommit func(accountID int64, stream model.Stream) error
	// ClientOptions, when set, adjusts the Mimecast client options of every
	// run (a test hook, e.g. for short waits).
	ClientOptions func(*mimecast.Options)
	// OnThreatHashes, when set, receives the distinct SHA-256 hashes of the
	// threat intel indicators delivered on each page, after that page's
	// checkpoint was committed (for QRadar's reference set). It runs on the
	// stream's goroutine, so it must hand the work off and return quickly;
	// ctx is the run's and ends with it. A page sent again after a crash
	// passes its hashes again.
	OnThreatHashes func(ctx context.Context, hashes []string)
	// AwarenessInterval is the least time between two full collections of
	// the awareness_training snapshot; runs in between skip it. 0 means
	// DefaultAwarenessInterval.
	AwarenessInterval time.Duration
}

// Collector schedules and runs collection. It is safe for concurrent use.
type Collector struct {
	opts     Options
	store    *store.Store
	log      *slog.Logger
	now      func() time.Time
	maxFiles int
	cron     *cron.Cron
	slots    chan struct{} // one per account run in progress, at most maxAccountsAtOnce

	// baseCtx is the parent of every run; Stop cancels it.
	baseCtx context.Context
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup // runs in progress

	// newSource and dial make the Mimecast client and the syslog sender;
	// they are fields so the package's tests can count or fail them.
	newSource func(a model.Account) (source, error)
	dial      func(ctx context.Context, target string) (forwarder, int, error)
	// batchPageSize and logsPageSize are the page sizes asked of Mimecast;
	// fields so the tests can page through small data sets.
	batchPageSize int
	logsPageSize  int

	mu        sync.Mutex
	started   bool
	stopped   bool
	scheduled map[int64]*scheduled
	runs      map[int64]*accountRun
	budgets   map[int64]*mimecast.RateBudget // by account id; see rateBudget
}

// New returns a collector. Nothing runs until Start (or RunOnce).
func New(opts Options) (*Collector, error) {
	if opts.Store == nil {
		return nil, errors.New("collector: a store is required")
	}
	if opts.SyslogTarget == nil {
		return nil, errors.New("collector: a syslog target is required")
	}
	c := &Collector{
		opts:      opts,
		store:     opts.Store,
		log:       opts.Logger,
		now:       opts.Now,
		maxFiles:  opts.MaxFilesPerRun,
		slots:     make(chan struct{}, maxAccountsAtOnce),
		scheduled: map[int64]*scheduled{},
		runs:      map[int64]*accountRun{},
		budgets:   map[int64]*mimecast.RateBudget{},

		batchPageSize: batchPageSize,
		logsPageSize:  logsPageSize,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxFiles <= 0 {
		c.maxFiles = DefaultMaxFilesPerRun
	}
	if c.opts.AwarenessInterval <= 0 {
		c.opts.AwarenessInterval = DefaultAwarenessInterval
	}
	cl := cronLogger{c.log}
	c.cron = cron.New(cron.WithParser(scheduleParser), cron.WithLogger(cl), cron.WithChain(cron.Recover(cl)))
	c.baseCtx, c.cancel = context.WithCancelCause(context.Background())
	c.newSource = c.mimecastClient
	c.dial = c.syslogSender
	return c, nil
}

func (c *Collector) mimecastClient(a model.Account) (source, error) {
	opts := mimecast.Options{
		HTTPClient:     c.opts.HTTPClient,
		AllowedOrigins: c.opts.AllowedOrigins,
		Logger:         c.log.With(slog.Int64("account_id", a.ID)),
		Proxy:          c.opts.Proxy,
		Now:            c.now,
		RateBudget:     c.rateBudget(a.ID),
	}
	if c.opts.ClientOptions != nil {
		c.opts.ClientOptions(&opts)
	}
	cl, err := mimecast.New(mimecast.Credentials{
		APIVersion: a.APIVersion, BaseURL: a.BaseURL,
		ClientID: a.ClientID, ClientSecret: a.ClientSecret,
		AppID: a.AppID, AppKey: a.AppKey, AccessKey: a.AccessKey, SecretKey: a.SecretKey,
	}, opts)
	if err != nil {
		return nil, err
	}
	return cl, nil
}

func (c *Collector) syslogSender(ctx context.Context, target string) (forwarder, int, error) {
	opts := c.opts.SyslogOptions
	if opts.Logger == nil {
		opts.Logger = c.log
	}
	s, err := syslog.Dial(ctx, target, opts)
	if err != nil {
		return nil, 0, err
	}
	return s, s.MaxMessageSize(), nil
}

// Start loads the accounts, schedules the enabled ones and marks those whose
// credentials cannot be opened. It returns at once; ctx is only used for
// loading (Stop ends the runs).
func (c *Collector) Start(ctx context.Context) error {
	accounts, err := c.store.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("starting collector: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errStopping
	}
	if c.started {
		return nil
	}
	for _, a := range accounts {
		c.scheduleLocked(a)
		if a.Enabled && a.CredentialsError != "" {
			c.markCredentialsError(ctx, a)
		}
	}
	c.cron.Start()
	c.started = true
	c.log.Info("Collector started", slog.Int("accounts", len(accounts)))
	return nil
}

// markCredentialsError shows every stream of a in error with the
// credentials message, without any request.
func (c *Collector) markCredentialsError(ctx context.Context, a model.Account) {
	for _, s := range a.Streams {
		st, err := c.store.StreamState(ctx, a.ID, s)
		if err == nil {
			st.Stream, st.State, st.LastError = s, model.StateError, a.CredentialsError
			err = c.store.SaveStreamState(ctx, a.ID, st)
		}
		if err != nil {
			c.log.Error("Cannot save stream state", slog.Int64("account_id", a.ID), slog.String("stream", string(s)),
				slog.Any("error", err))
		}
	}
}

// Stop stops the scheduler, cancels the runs in progress and waits for them
// to end, at most until ctx ends. Checkpoints of flushed work are still
// committed. It is safe to call more than once.
func (c *Collector) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.cron.Stop()
	c.cancel(errStopping)
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for collection runs to end: %w", ctx.Err())
	}
}

// Wait blocks until no run is in progress.
func (c *Collector) Wait() { c.wg.Wait() }

// AccountSaved applies a created or updated account at once: its cron job is
// replaced (new schedule, or none when disabled) and a run starts when the
// account was created or has just been enabled or given readable
// credentials. Disabling an account stops its run in progress.
func (c *Collector) AccountSaved(ctx context.Context, id int64, created bool) {
	a, err := c.store.Account(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		c.AccountDeleted(ctx, id)
		return
	}
	if err != nil {
		c.log.Error("Cannot apply the saved account", slog.Int64("account_id", id), slog.Any("error", err))
		return
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	prev := c.scheduled[id]
	c.scheduleLocked(*a)
	run := c.runs[id]
	c.mu.Unlock()

	if !a.Enabled {
		if run != nil {
			run.cancel(errAccountDisabled)
		}
		return
	}
	newlyEnabled := prev == nil || !prev.enabled
	credentialsFixed := prev != nil && prev.credErr != "" && a.CredentialsError == ""
	if !created && !newlyEnabled && !credentialsFixed {
		return
	}
	if _, err := c.startRun(c.baseCtx, *a, "account saved"); err != nil {
		c.log.Info("Run after save not started", slog.Int64("account_id", id), slog.Any("error", err))
	}
}

// AccountDeleted removes the account's cron job and rate-limit budget and
// stops its run.
func (c *Collector) AccountDeleted(_ context.Context, id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.scheduled[id]; s != nil && s.entry != 0 {
		c.cron.Remove(s.entry)
	}
	delete(c.scheduled, id)
	delete(c.budgets, id)
	if r := c.runs[id]; r != nil {
		r.cancel(errAccountDeleted)
	}
}

// CollectNow starts a run of the account in the background. It returns
// model.ErrRunInProgress when one is going, model.ErrAccountDisabled for a
// disabled account and store.ErrNotFound for an unknown one.
func (c *Collector) CollectNow(ctx context.Context, id int64) error {
	a, err := c.store.Account(ctx, id)
	if err != nil {
		return err
	}
	if !a.Enabled {
		return model.ErrAccountDisabled
	}
	_, err = c.startRun(c.baseCtx, *a, "collect now")
	return err
}

// RunOnce collects every enabled account until each selected stream is
// caught up (repeating runs whose budget ran out), and returns an error
// naming every stream that failed.
func (c *Collector) RunOnce(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.baseCtx, func() { cancel(context.Cause(c.baseCtx)) })
	defer stop()

	accounts, err := c.store.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("collecting once: %w", err)
	}
	var errs []error
	for len(accounts) > 0 {
		type started struct {
			a model.Account
			r *accountRun
		}
		var runs []started
		for _, a := range accounts {
			if !a.Enabled {
				continue
			}
			r, err := c.startRun(ctx, a, "once")
			if err != nil {
				errs = append(errs, fmt.Errorf("account %q: %w", a.Name, err))
				continue
			}
			runs = append(runs, started{a, r})
		}
		accounts = nil
		for _, s := range runs {
			<-s.r.done
			for _, err := range s.r.failed {
				errs = append(errs, fmt.Errorf("account %q: %w", s.a.Name, err))
			}
			if s.r.more && len(s.r.failed) == 0 && ctx.Err() == nil {
				accounts = append(accounts, s.a)
			}
		}
	}
	return errors.Join(errs...)
}

// ResetCheckpoint forgets the stream's position, so its next run starts
// from the account's initial lookback, but keeps what the stream knows of
// the records it delivered (the duplicate filter, and for API 1.0 SIEM the
// names of the files delivered and the keys for a switch to 2.0): records
// QRadar already received are recognised and not sent again.
func (c *Collector) ResetCheckpoint(ctx context.Context, id int64, stream model.Stream) error {
	// Holding c.mu keeps a run from starting (and reading the old
	// checkpoint) while it is reset.
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.runs[id]; ok {
		return model.ErrRunInProgress
	}
	data, err := c.store.Checkpoint(ctx, id, stream)
	if err != nil {
		return err
	}
	sets, err := c.store.DedupSets(ctx, id, stream)
	if err != nil {
		return err
	}
	keep, drop := resetPosition(data, sets)
	if err := c.store.ResetCheckpoint(ctx, id, stream, keep, drop); err != nil {
		return err
	}
	c.log.Info("Checkpoint reset", slog.Int64("account_id", id), slog.String("stream", string(stream)))
	return nil
}

// Status returns the state of every account's selected streams (design §5).
func (c *Collector) Status(ctx context.Context) (model.Status, error) {
	accounts, err := c.store.ListAccounts(ctx)
	if err != nil {
		return model.Status{}, fmt.Errorf("reading status: %w", err)
	}
	states, err := c.store.StreamStates(ctx)
	if err != nil {
		return model.Status{}, fmt.Errorf("reading status: %w", err)
	}
	backfills, err := c.store.Backfills(ctx)
	if err != nil {
		return model.Status{}, fmt.Errorf("reading status: %w", err)
	}
	out := model.Status{Accounts: []model.AccountStatus{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range accounts {
		as := model.AccountStatus{ID: a.ID, Name: a.Name, Enabled: a.Enabled, Streams: []model.StreamStatus{}}
		stored := map[model.Stream]model.StreamStatus{}
		for _, st := range states[a.ID] {
			stored[st.Stream] = st
		}
		run := c.runs[a.ID]
		next := c.nextRunLocked(a.ID)
		for _, s := range a.Streams {
			st, ok := stored[s]
			if !ok {
				st = model.StreamStatus{Stream: s, State: model.StateIdle}
			}
			switch {
			case !a.Enabled:
				st.State = model.StateDisabled
			case run != nil && run.isPending(s):
				st.State = model.StateRunning
			case a.CredentialsError != "":
				st.State, st.LastError = model.StateError, a.CredentialsError
			}
			if a.Enabled {
				st.NextRun = next
			}
			if b, ok := backfills[a.ID][s]; ok {
				st.Backfill = &b
			}
			as.Streams = append(as.Streams, st)
		}
		out.Accounts = append(out.Accounts, as)
	}
	return out, nil
}

// Test checks the account's credentials and, when they are accepted, the
// permission of each selected stream. It sends nothing when the stored
// credentials cannot be opened.
func (c *Collector) Test(ctx context.Context, a model.Account) model.TestResult {
	res := model.TestResult{Streams: []model.StreamTestResult{}}
	fail := func(msg string) model.TestResult {
		res.Error = msg
		for _, s := range a.Streams {
			res.Streams = append(res.Streams, model.StreamTestResult{Stream: s, Error: "not checked: " + msg})
		}
		return res
	}
	if a.CredentialsError != "" {
		return fail(a.CredentialsError)
	}
	src, err := c.newSource(a)
	if err != nil {
		return fail(err.Error())
	}
	if err := src.CheckAuth(ctx); err != nil {
		return fail(err.Error())
	}
	res.OK = true
	for _, s := range a.Streams {
		r := model.StreamTestResult{Stream: s, OK: true}
		switch {
		case !s.IsSupported():
			r.OK, r.Error = false, fmt.Sprintf("this version does not collect the %s stream", s)
		default:
			if err := src.CheckStream(ctx, s); err != nil {
				r.OK, r.Error = false, testError(err)
			}
		}
		res.OK = res.OK && r.OK
		res.Streams = append(res.Streams, r)
	}
	return res
}

// testError words a failed stream check for the panel. A refusal (403) is
// shown as the client words it, e.g. "permission denied: not licensed or
// no permission for the Threat Intel feed: …", without the chain of
// "checking …: fetching …:" that the logs keep.
func testError(err error) string {
	var apiErr *mimecast.APIError
	if errors.Is(err, mimecast.ErrPermission) && errors.As(err, &apiErr) {
		return apiErr.Error()
	}
	return err.Error()
}
