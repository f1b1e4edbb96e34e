// Package daemon wires the app together and runs it: the early /debug
// listener, the store, the collector, the web panel and QRadar set-up, with
// an ordered, bounded shutdown.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"mimecast-qradar/app/internal/collector"
	"mimecast-qradar/app/internal/config"
	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/qradar"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslog"
	"mimecast-qradar/app/internal/web"
)

// ShutdownTimeout bounds the whole shutdown; QRadar's supervisor kills the
// process after stopwaitsecs (20 s in our manifest).
const ShutdownTimeout = 15 * time.Second

// Hooks let a command (demo, tests) take part in start-up.
type Hooks struct {
	// AfterStoreOpen runs once the store is open, before collection starts
	// (demo uses it to create its account).
	AfterStoreOpen func(ctx context.Context, st *store.Store) error
	// Started runs once collection is scheduled (demo starts its first run).
	Started func(ctx context.Context, col *collector.Collector)
	// Ready is called with the listen address once the full API is up.
	Ready func(addr string)
}

// Serve runs the app until ctx is cancelled.
func Serve(ctx context.Context, cfg config.Config, version string, log *slog.Logger, hooks Hooks) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	// /debug must answer 200 from the first moment (QRadar's health check);
	// everything else answers 503 until start-up is done.
	var handler atomic.Pointer[http.Handler]
	srv := &http.Server{
		Handler:           earlyHandler(&handler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A connection test may take up to 90 s (the web package's limit).
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "version", version)

	// Components get their own context: on shutdown the HTTP server stops
	// first, then collection is cancelled and waited for, then the store closes.
	compCtx, cancelComps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelComps()
	a, err := start(compCtx, cfg, version, log, hooks)
	if err != nil {
		shutdownHTTP(srv, log)
		return err
	}
	handler.Store(&a.handler)
	log.Info("started", "store", cfg.StoreDir, "syslog_default", cfg.SyslogTarget, "qradar_api", cfg.QRadarAPI)
	if hooks.Ready != nil {
		hooks.Ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("http server stopped", "error", err)
	}
	log.Info("shutting down")
	shutdownHTTP(srv, log)
	cancelComps()
	a.close(log)
	log.Info("stopped")
	return nil
}

func earlyHandler(h *atomic.Pointer[http.Handler]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debug" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("Pong!"))
			return
		}
		if p := h.Load(); p != nil {
			(*p).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"the app is starting; try again in a moment"}` + "\n"))
	})
}

func shutdownHTTP(srv *http.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("closing http server", "error", err)
	}
}

// app holds the started components.
type app struct {
	store   *store.Store
	handler http.Handler
	closers []func(context.Context) error
}

// OpenStore opens the sealing key and the database of cfg's store.
func OpenStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	box, err := secrets.Open(cfg.StoreDir, cfg.AppUUID)
	if err != nil {
		return nil, fmt.Errorf("opening secrets key: %w", err)
	}
	return store.Open(ctx, cfg.StoreDir, box)
}

// NewCollector builds the collector for cfg on st. proxy is the panel's
// Mimecast proxy setting (shared with the panel, which refreshes it on
// save); threatHashes, when not nil, receives the SHA-256 hashes of each
// committed threat-intel page.
func NewCollector(cfg config.Config, st *store.Store, version string, log *slog.Logger,
	proxy *web.MimecastProxy, threatHashes func(context.Context, []string)) (*collector.Collector, error) {
	return collector.New(collector.Options{
		// The panel's proxy setting, else https_proxy/no_proxy from QRadar.
		Proxy:          proxy.Func(),
		Store:          st,
		SyslogTarget:   syslogTarget(cfg, st),
		SyslogOptions:  syslogOptions(cfg, log),
		AppVersion:     version,
		AllowedOrigins: cfg.AllowBaseURLs,
		Logger:         log,
		OnThreatHashes: threatHashes,
	})
}

func syslogOptions(cfg config.Config, log *slog.Logger) syslog.Options {
	return syslog.Options{CABundle: cfg.CABundle, CertDir: filepath.Join(cfg.StoreDir, "certs"), Logger: log}
}

// syslogTarget returns the effective target: the panel's setting when an
// administrator saved one, else the --syslog flag (or its default).
func syslogTarget(cfg config.Config, st *store.Store) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		v, ok, err := st.Setting(ctx, web.SettingSyslogTarget)
		if err != nil {
			return "", err
		}
		if ok && v != "" {
			return v, nil
		}
		return cfg.SyslogTarget, nil
	}
}

func start(ctx context.Context, cfg config.Config, version string, log *slog.Logger, hooks Hooks) (*app, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &app{store: st}
	fail := func(err error) (*app, error) { a.close(log); return nil, err }
	if hooks.AfterStoreOpen != nil {
		if err := hooks.AfterStoreOpen(ctx, st); err != nil {
			return fail(err)
		}
	}

	qr, err := qradar.NewManager(qradar.Options{
		BaseURL:  cfg.QRadarAPI,
		Token:    func() string { return cfg.Getenv("SEC_ADMIN_TOKEN") },
		CABundle: cfg.CABundle,
		Proxy:    cfg.QRadarProxy,
		IsQROC:   cfg.IsQROC,
		Store:    st,
		Logger:   log,
	})
	if err != nil {
		return fail(fmt.Errorf("creating QRadar set-up: %w", err))
	}
	qrDone := make(chan struct{})
	go func() { defer close(qrDone); qr.Run(ctx) }()
	a.closers = append(a.closers, func(ctx context.Context) error {
		select {
		case <-qrDone:
			return nil
		case <-ctx.Done():
			return errors.New("QRadar set-up did not stop in time")
		}
	})

	// Threat-intel hashes go to QRadar's reference set from one background
	// goroutine, so a slow console never holds up collection.
	hashes := make(chan []string, 64)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case h := <-hashes:
				if err := qr.AddReferenceHashes(ctx, h); err != nil {
					log.Warn("adding threat-intel hashes to the QRadar reference set", "count", len(h), "error", err)
				}
			}
		}
	}()
	proxy := web.NewMimecastProxy(st)
	col, err := NewCollector(cfg, st, version, log, proxy, func(ctx context.Context, h []string) {
		select {
		case hashes <- h:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return fail(fmt.Errorf("creating collector: %w", err))
	}
	if err := col.Start(ctx); err != nil {
		return fail(fmt.Errorf("starting collector: %w", err))
	}
	a.closers = append(a.closers, col.Stop)
	if hooks.Started != nil {
		hooks.Started(ctx, col)
	}

	w, err := web.New(ctx, web.Options{
		Store:                st,
		Collector:            col,
		QRadar:               qr,
		WebDir:               cfg.WebDir,
		AppID:                cfg.AppID,
		Version:              version,
		AllowedOrigins:       cfg.AllowBaseURLs,
		DefaultSyslogTarget:  cfg.SyslogTarget,
		ValidateSyslogTarget: func(t string) error { _, err := syslog.ParseTarget(t); return err },
		SendTestEvent:        testEventSender(cfg, version, log),
		SendAuditEvent:       auditEventSender(cfg, st, log),
		LogFile:              filepath.Join(cfg.StoreDir, "log", "app.log"),
		Proxy:                proxy,
		Logger:               log,
	})
	if err != nil {
		return fail(fmt.Errorf("creating web panel: %w", err))
	}
	a.handler = w.Handler()
	return a, nil
}

// testEventSender sends one collector_health event marked as a test, for
// the panel's "send test event" button.
func testEventSender(cfg config.Config, version string, log *slog.Logger) func(context.Context, string) error {
	return func(ctx context.Context, target string) error {
		s, err := syslog.Dial(ctx, target, syslogOptions(cfg, log))
		if err != nil {
			return err
		}
		defer s.Close()
		f := leef.Formatter{AppVersion: version, MaxLen: s.MaxMessageSize()}
		now := time.Now().UTC()
		msg := f.AppendHealth(nil, leef.Account{Name: "Mimecast Log Collector", LogSourceIdentifier: "mimecast-qradar-test"},
			leef.Health{Stream: model.Stream("test"), Outcome: "ok", Error: "test event sent from the configuration panel", RunStarted: now, RunEnded: now})
		if err := s.Write(msg); err != nil {
			return err
		}
		return s.Flush()
	}
}

// auditEventSender sends one configuration-change event to the effective
// syslog target.
func auditEventSender(cfg config.Config, st *store.Store, log *slog.Logger) func(context.Context, []byte) error {
	target := syslogTarget(cfg, st)
	return func(ctx context.Context, line []byte) error {
		t, err := target(ctx)
		if err != nil {
			return err
		}
		s, err := syslog.Dial(ctx, t, syslogOptions(cfg, log))
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Write(line); err != nil {
			return err
		}
		return s.Flush()
	}
}

// close stops the components in reverse order, then closes the database,
// all within ShutdownTimeout.
func (a *app) close(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](ctx); err != nil {
			log.Warn("stopping component", "error", err)
		}
	}
	if err := a.store.Close(); err != nil {
		log.Warn("closing database", "error", err)
	}
}
