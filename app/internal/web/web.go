// Package web serves the Mimecast API Configuration panel and its JSON API
// (design §5): accounts, status with lag, run history, the syslog target and
// the proxy for Mimecast connections, the QRadar set-up view, configuration
// export and import, the audit trail of configuration changes and the
// support bundle, behind QRadar's app proxy.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/sessions"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// Collector is what the web layer needs from the collector: scheduling
// changes, on-demand runs, re-collections, live status and connection
// tests.
type Collector interface {
	// AccountSaved (re)schedules an account; it runs once when created or
	// enabled.
	AccountSaved(ctx context.Context, id int64, created bool)
	// AccountDeleted stops scheduling an account.
	AccountDeleted(ctx context.Context, id int64)
	// CollectNow starts a run; model.ErrRunInProgress and
	// model.ErrAccountDisabled are answered with 409.
	CollectNow(ctx context.Context, id int64) error
	// ResetCheckpoint forgets a stream's saved position (after the
	// administrator confirmed it, e.g. for an invalid SIEM token), so its
	// next run starts from the account's initial lookback.
	ResetCheckpoint(ctx context.Context, id int64, stream model.Stream) error
	// Backfill asks for the stream's records between from and to to be
	// collected again in its next runs; those QRadar already received are
	// skipped. model.ErrInvalidBackfill (wrapped with the reason) is
	// answered with 400, model.ErrBackfillPending with 409 and
	// store.ErrNotFound (no such account) with 404.
	Backfill(ctx context.Context, id int64, stream model.Stream, from, to time.Time) error
	// CancelBackfill drops the stream's pending re-collection;
	// store.ErrNotFound when there is none (404).
	CancelBackfill(ctx context.Context, id int64, stream model.Stream) error
	// Status returns the state of every account and stream.
	Status(ctx context.Context) (model.Status, error)
	// Test checks the account's credentials and each selected stream's
	// permission without collecting anything.
	Test(ctx context.Context, a model.Account) model.TestResult
}

// QRadar is the optional QRadar set-up component. Routes registers the
// full design §5 paths (/api/qradar, /api/qradar/setup, /api/qradar/deploy,
// /api/searches, /api/searches/{name}/run) on a router that already applies
// the session, CSRF, body-limit and JSON-error middleware.
type QRadar interface {
	Routes(r chi.Router)
	// RequestReconcile asks for a reconcile soon; it must not block.
	RequestReconcile()
}

// Options are the dependencies and settings of the web server.
type Options struct {
	Store     *store.Store
	Collector Collector
	QRadar    QRadar // nil: QRadar set-up is off and the panel says why

	// WebDir holds templates/ and static/. Templates are parsed once in New.
	WebDir string
	// AppID is QRADAR_APP_ID; it names and scopes the session cookie. May be "".
	AppID   string
	Version string
	// AllowedOrigins are extra Mimecast origins (--allow-base-url).
	AllowedOrigins []string

	// DefaultSyslogTarget is the target used when none was saved in the panel.
	DefaultSyslogTarget string
	// ValidateSyslogTarget checks a target URL; nil uses a basic check.
	ValidateSyslogTarget func(string) error
	// SendTestEvent sends one health event to target.
	SendTestEvent func(ctx context.Context, target string) error
	// SendAuditEvent sends one complete syslog message (no framing), a
	// collector_config_change event, to the syslog target in effect. It is
	// called in the background for each audit entry; a failure is logged
	// and never fails the change. nil: audit entries stay in the store.
	SendAuditEvent func(ctx context.Context, line []byte) error
	// Actor names the QRadar user behind a request, for the audit trail;
	// "" falls back to the X-QRadar-User header, then to
	// "panel user (unknown)". nil: only those fallbacks.
	Actor func(r *http.Request) string
	// LogFile is the app's log (<store>/log/app.log); the support bundle
	// carries its last MiB. "": the bundle says there is no log.
	LogFile string
	// Now is the clock for lag and history windows; nil means time.Now.
	Now func() time.Time
	// Proxy is the proxy chooser the collector uses (NewMimecastProxy on the
	// same store); saving the proxy in the panel refreshes it. nil: the
	// server makes its own, reachable through ProxyFunc.
	Proxy *MimecastProxy

	Logger *slog.Logger
}

// Server is the HTTP side of the app. Create it with New.
type Server struct {
	store     *store.Store
	collector Collector
	qradar    QRadar
	opts      Options
	log       *slog.Logger

	page         *template.Template
	staticDir    string
	assetVersion string

	sessions   *sessions.CookieStore
	cookieName string
	cookiePath string

	now func() time.Time

	proxy *MimecastProxy

	// auditQueue holds the audit events waiting to be sent; auditSending
	// is true while a goroutine sends them.
	auditMu      sync.Mutex
	auditQueue   []auditLine
	auditSending bool
	// gaps caches the longest gap between runs of each cron schedule.
	gaps sync.Map // schedule string -> time.Duration
}

// SettingSyslogTarget is the settings key of the syslog target chosen in
// the panel; an empty or missing value means Options.DefaultSyslogTarget.
const SettingSyslogTarget = "syslog_target"

// New checks the options, parses the panel's templates, hashes the static
// assets and loads (or creates, on first start) the session keys.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("web: no store")
	}
	if opts.Collector == nil {
		return nil, errors.New("web: no collector")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		store:     opts.Store,
		collector: opts.Collector,
		qradar:    opts.QRadar,
		opts:      opts,
		log:       log,
		staticDir: filepath.Join(opts.WebDir, "static"),
		now:       time.Now,
	}
	if opts.Now != nil {
		s.now = opts.Now
	}
	if s.proxy = opts.Proxy; s.proxy == nil {
		s.proxy = NewMimecastProxy(opts.Store)
	}
	page, err := template.ParseFiles(filepath.Join(opts.WebDir, "templates", "index.html"))
	if err != nil {
		return nil, fmt.Errorf("parsing panel templates in %s: %w", opts.WebDir, err)
	}
	s.page = page
	if fi, err := os.Stat(s.staticDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("web: static directory %s is missing", s.staticDir)
	}
	if s.assetVersion, err = hashDir(s.staticDir); err != nil {
		return nil, fmt.Errorf("hashing static assets: %w", err)
	}
	if err := s.initSessions(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
