package qradar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Store is what the manager needs from the app's store: the accounts, and
// the QRadar objects it manages (design §6.1: ids remembered in the store).
type Store interface {
	ListAccounts(ctx context.Context) ([]model.Account, error)
	QRadarObjects(ctx context.Context) ([]model.QRadarObject, error)
	SaveQRadarObject(ctx context.Context, o model.QRadarObject) error // upsert by o.Key
	DeleteQRadarObject(ctx context.Context, key string) error
}

// Options configure a Manager. Zero durations take the documented defaults.
type Options struct {
	BaseURL     string        // --qradar-api; "" = QRadar set-up off
	Token       func() string // reads SEC_ADMIN_TOKEN on every attempt
	CABundle    string        // REQUESTS_CA_BUNDLE
	Proxy       string        // QRADAR_REST_PROXY
	IsQROC      bool          // IS_QROC=true: no admin endpoints
	Store       Store
	Logger      *slog.Logger
	Now         func() time.Time
	HTTPTimeout time.Duration // per request; default DefaultTimeout

	// RetryMin and RetryMax bound the backoff after a failed reconcile:
	// the first retry waits RetryMin (default 1 min), each further one twice
	// as long, up to RetryMax (default 10 min).
	RetryMin, RetryMax time.Duration
	// ResyncEvery is the pause between reconciles while all is well
	// (default 1 h), so objects an administrator deleted come back.
	ResyncEvery time.Duration
	// SearchTimeout bounds a curated search run (default 30 s, design §5).
	SearchTimeout time.Duration
	// MaxVersion caps the API version (default MaxTestedVersion).
	MaxVersion string
}

// Object kinds, as stored in model.QRadarObject.Object.
const (
	ObjLogSourceType  = "log_source_type"
	ObjLogSourceGroup = "log_source_group"
	ObjLogSource      = "log_source"
	ObjQID            = "qid"
	ObjEventMapping   = "event_mapping"
	ObjProperty       = "property"
	ObjPropertyExpr   = "property_expression"
	ObjReferenceSet   = "reference_set"
)

// Object and overall states.
const (
	StateOK        = "ok"
	StatePending   = "pending"
	StateError     = "error"
	StateOff       = "off"
	StateDisabled  = "disabled"  // log source of a deleted account
	StateRecreated = "recreated" // deleted in QRadar, created again
)

// Manager owns QRadar's side of the integration: it reconciles in the
// background, runs searches and deploys on request, and serves the panel's
// /api/qradar and /api/searches endpoints.
type Manager struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	offWhy   string // non-empty: set-up is off, and why
	wake     chan struct{}
	after    func(time.Duration) <-chan time.Time
	pollWait time.Duration // first Ariel poll interval

	// reconcileMu serialises reconciles (the background loop, Reconcile
	// callers and AddReferenceHashes), so two never race on the same objects.
	reconcileMu sync.Mutex

	mu     sync.Mutex
	st     status
	client *Client
}

type status struct {
	state         string
	message       string
	authorised    bool
	running       bool
	attempted     bool
	apiVersion    string
	typeName      string
	deployNeeded  bool
	deployMessage string
	lastAttempt   time.Time
	lastSuccess   time.Time
	nextAttempt   time.Time
}

// NewManager checks the options and returns a manager; it does no I/O.
func NewManager(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("qradar: NewManager needs a Store")
	}
	if opts.Token == nil {
		opts.Token = func() string { return "" }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Minute
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 10 * time.Minute
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = opts.RetryMin
	}
	if opts.ResyncEvery <= 0 {
		opts.ResyncEvery = time.Hour
	}
	if opts.SearchTimeout <= 0 {
		opts.SearchTimeout = 30 * time.Second
	}
	if opts.BaseURL != "" {
		if _, err := parseBaseURL(opts.BaseURL); err != nil {
			return nil, err
		}
	}
	if opts.Proxy != "" {
		if u, err := url.Parse(opts.Proxy); err != nil || u.Host == "" {
			return nil, fmt.Errorf("qradar: invalid QRADAR_REST_PROXY %q", redactURL(opts.Proxy))
		}
	}
	m := &Manager{
		opts:     opts,
		log:      orDiscard(opts.Logger),
		now:      opts.Now,
		wake:     make(chan struct{}, 1),
		after:    time.After,
		pollWait: 250 * time.Millisecond,
	}
	switch {
	case opts.BaseURL == "":
		m.offWhy = "QRadar set-up is off: no QRadar API address is configured. Inside QRadar it comes from QRADAR_CONSOLE_FQDN; elsewhere set --qradar-api (QRADAR_API_URL)."
	case opts.IsQROC:
		m.offWhy = "QRadar set-up is off: this is QRadar on Cloud (IS_QROC=true), where apps cannot use the admin endpoints that create log sources, event names and properties. Create them by hand as docs/qradar-setup.md describes; the searches still work."
	}
	m.st = status{state: StatePending, message: "QRadar set-up has not run yet.", authorised: opts.Token() != ""}
	if m.offWhy != "" {
		m.st = status{state: StateOff, message: m.offWhy}
	}
	return m, nil
}

// setupOff reports whether reconciling is off (no API URL, or QRadar on
// Cloud).
func (m *Manager) setupOff() bool { return m.offWhy != "" }

// RequestReconcile asks for a reconcile now. It never blocks: a request
// made while a reconcile runs queues exactly one more, and further requests
// are merged into that one.
func (m *Manager) RequestReconcile() {
	if m.setupOff() {
		return
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx is done: at once, then after every request, after
// a backoff (RetryMin doubling up to RetryMax) while attempts fail, and every
// ResyncEvery while all is well. It never blocks its caller's start-up: run
// it in its own goroutine.
func (m *Manager) Run(ctx context.Context) {
	if m.setupOff() {
		m.log.Info("qradar set-up off", "reason", m.offWhy)
		<-ctx.Done()
		return
	}
	defer func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.client != nil {
			m.client.Close()
		}
	}()
	failures := 0
	var wait <-chan time.Time // nil: first attempt at once
	first := true
	for {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-m.wake:
				// An administrator (or an account change) asked for an attempt
				// now: start the backoff again from its shortest step.
				failures = 0
			case <-wait:
			}
		}
		first = false
		if ctx.Err() != nil {
			return
		}
		// Drop a request queued before this attempt began: this attempt
		// serves it.
		select {
		case <-m.wake:
		default:
		}
		delay := m.opts.ResyncEvery
		if err := m.Reconcile(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			delay = backoff(failures, m.opts.RetryMin, m.opts.RetryMax)
		} else {
			failures = 0
		}
		m.mu.Lock()
		m.st.nextAttempt = m.now().Add(delay)
		m.mu.Unlock()
		wait = m.after(delay)
	}
}

// backoff returns the wait before retry number failures (1-based).
func backoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Reconcile runs one reconcile now and waits for it. It returns an error when
// QRadar could not be set up completely; the state (GET /api/qradar) says why.
func (m *Manager) Reconcile(ctx context.Context) error {
	if m.setupOff() {
		return errors.New(m.offWhy)
	}
	m.reconcileMu.Lock()
	defer m.reconcileMu.Unlock()

	m.mu.Lock()
	m.st.running = true
	m.st.lastAttempt = m.now()
	m.mu.Unlock()

	c, err := m.newClient()
	var res result
	if err == nil {
		m.mu.Lock()
		old := m.client
		m.client = c
		m.mu.Unlock()
		if old != nil {
			old.Close()
		}
		r := newReconciler(m, c)
		res, err = r.run(ctx)
	}
	m.finish(res, err)
	if err == nil && res.rowErrors > 0 {
		err = fmt.Errorf("qradar: %d objects could not be set up", res.rowErrors)
	}
	return err
}

func (m *Manager) newClient() (*Client, error) {
	return NewClient(ClientOptions{
		BaseURL:    m.opts.BaseURL,
		Token:      m.opts.Token,
		CABundle:   m.opts.CABundle,
		Proxy:      m.opts.Proxy,
		Timeout:    m.opts.HTTPTimeout,
		MaxVersion: m.opts.MaxVersion,
		Logger:     m.log,
	})
}

// apiClient returns the client of the last reconcile, or a new one.
func (m *Manager) apiClient() (*Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		return m.client, nil
	}
	c, err := m.newClient()
	if err != nil {
		return nil, err
	}
	m.client = c
	return c, nil
}

// result sums up one reconcile for the state.
type result struct {
	apiVersion   string
	typeName     string
	typeNote     string // why the fallback type is used
	rowErrors    int
	recreated    []string
	deployNeeded bool
	logSources   int
	events       int
	properties   int
}

func (m *Manager) finish(res result, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &m.st
	st.running = false
	st.attempted = true
	if res.apiVersion != "" {
		st.apiVersion = res.apiVersion
	}
	if res.typeName != "" {
		st.typeName = res.typeName
	}
	if err != nil {
		st.state = StateError
		st.authorised = !(errors.Is(err, ErrNoToken) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden))
		st.message = m.failureMessage(err)
		m.log.Warn("qradar set-up failed", "error", err)
		return
	}
	st.authorised = true
	st.lastSuccess = m.now()
	st.deployNeeded = res.deployNeeded
	var parts []string
	switch {
	case res.rowErrors > 0:
		st.state = StateError
		parts = append(parts, fmt.Sprintf("%d QRadar objects could not be set up; each one's error says why. The app tries again later, or click Set up now.", res.rowErrors))
	case res.deployNeeded:
		st.state = StatePending
		parts = append(parts, "QRadar holds staged changes for the app's log sources: click Deploy changes so they take effect (a deploy also pushes other administrators' staged changes).")
	default:
		st.state = StateOK
		parts = append(parts, fmt.Sprintf("QRadar is set up: %d log sources, %d event names, %d properties.", res.logSources, res.events, res.properties))
	}
	if res.typeNote != "" {
		parts = append(parts, res.typeNote)
	} else if res.typeName != "" {
		parts = append(parts, fmt.Sprintf("Log source type: %s.", res.typeName))
	}
	if len(res.recreated) > 0 {
		parts = append(parts, fmt.Sprintf("Deleted in QRadar and created again: %s.", strings.Join(res.recreated, ", ")))
	}
	st.message = strings.Join(parts, " ")
	m.log.Info("qradar set-up done", "state", st.state, "api_version", st.apiVersion, "log_source_type", st.typeName,
		"object_errors", res.rowErrors, "deploy_needed", res.deployNeeded)
}

// failureMessage turns a reconcile failure into what the administrator must
// do, in plain words.
func (m *Manager) failureMessage(err error) string {
	return m.failureAdvice(err) + " Collection goes on meanwhile."
}

func (m *Manager) failureAdvice(err error) string {
	var ae *APIError
	switch {
	case errors.Is(err, ErrNoToken):
		return "The app is not authorised to use the QRadar API yet (no SEC_ADMIN_TOKEN). In Admin → Extensions Management, authorise the app with a user who has the Admin capability, then click Deploy Changes in QRadar."
	case errors.Is(err, ErrUnauthorized):
		return "QRadar refused the app's token (401). Authorise the app again in Admin → Extensions Management, then click Deploy Changes in QRadar: a new authorisation only works after a deploy."
	case errors.As(err, &ae) && ae.Status == 403:
		return fmt.Sprintf("QRadar refused a request (403: %s). The user who authorised the app lacks a capability: authorise the app with a user who has the Admin capability, then click Deploy Changes.", ae.Text())
	case errors.Is(err, ErrUntrusted):
		return fmt.Sprintf("The QRadar console's TLS certificate (%s) is not trusted. Add its CA to the bundle named by REQUESTS_CA_BUNDLE.", m.opts.BaseURL)
	case errors.Is(err, ErrUnreachable):
		return fmt.Sprintf("The QRadar console at %s cannot be reached: %v. Check the address (QRADAR_CONSOLE_FQDN or --qradar-api) and that the console is up.", m.opts.BaseURL, unwrapAll(err))
	case isServerError(err):
		return fmt.Sprintf("QRadar answered with a server error (%v). The app tries again later.", err)
	}
	return fmt.Sprintf("QRadar set-up failed: %v. The app tries again later, or click Set up now.", err)
}

// unwrapAll returns the innermost error's text, which is the useful part of
// a transport error.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// State is the body of GET /api/qradar (design §5); fields after Objects
// are additions.
type State struct {
	Configured    bool                 `json:"configured"`
	Authorised    bool                 `json:"authorised"`
	State         string               `json:"state"`
	Message       string               `json:"message"`
	Objects       []model.QRadarObject `json:"objects"`
	Running       bool                 `json:"running"`
	APIVersion    string               `json:"api_version"`
	LogSourceType string               `json:"log_source_type"`
	DeployNeeded  bool                 `json:"deploy_needed"`
	DeployMessage string               `json:"deploy_message"`
	IsQROC        bool                 `json:"is_qroc"`
	LastAttempt   *time.Time           `json:"last_attempt"`
	LastSuccess   *time.Time           `json:"last_success"`
	NextAttempt   *time.Time           `json:"next_attempt"`
}

// State returns the set-up state and the remembered objects. It never waits
// for a reconcile.
func (m *Manager) State(ctx context.Context) (State, error) {
	s := State{Configured: m.opts.BaseURL != "", IsQROC: m.opts.IsQROC, Objects: []model.QRadarObject{}}
	if m.setupOff() {
		s.State, s.Message = StateOff, m.offWhy
		return s, nil
	}
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	s.Authorised, s.State, s.Message = st.authorised, st.state, st.message
	s.Running, s.APIVersion, s.LogSourceType = st.running, st.apiVersion, st.typeName
	s.DeployNeeded, s.DeployMessage = st.deployNeeded, st.deployMessage
	s.LastAttempt, s.LastSuccess, s.NextAttempt = timePtr(st.lastAttempt), timePtr(st.lastSuccess), timePtr(st.nextAttempt)
	// The token is checked live, so the panel shows the instruction at once
	// rather than after the next (backed-off) attempt.
	if m.opts.Token() == "" {
		s.Authorised = false
		s.State = StateError
		s.Message = m.failureMessage(ErrNoToken)
	}
	objs, err := m.opts.Store.QRadarObjects(ctx)
	if err != nil {
		return s, fmt.Errorf("reading qradar objects: %w", err)
	}
	slices.SortStableFunc(objs, func(a, b model.QRadarObject) int {
		if c := strings.Compare(objectOrder(a.Object), objectOrder(b.Object)); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if objs != nil {
		s.Objects = objs
	}
	return s, nil
}

func objectOrder(kind string) string {
	order := []string{ObjLogSourceType, ObjLogSourceGroup, ObjLogSource, ObjProperty, ObjPropertyExpr, ObjQID, ObjEventMapping, ObjReferenceSet}
	if i := slices.Index(order, kind); i >= 0 {
		return string(rune('a' + i))
	}
	return "z" + kind
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
