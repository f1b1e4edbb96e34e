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
	"sync/atomic"
	"time"

	"mimecast-qradar/app/internal/config"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
)

// ShutdownTimeout bounds the whole shutdown; QRadar's supervisor kills the
// process after stopwaitsecs (20 s in our manifest).
const ShutdownTimeout = 15 * time.Second

// Serve runs the app until ctx is cancelled. ready, when not nil, is called
// with the listen address once the full API is up.
func Serve(ctx context.Context, cfg config.Config, version string, log *slog.Logger, ready func(addr string)) error {
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
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "version", version)

	app, err := start(ctx, cfg, version, log)
	if err != nil {
		shutdownHTTP(srv, log)
		return err
	}
	h := app.handler
	handler.Store(&h)
	log.Info("started", "store", cfg.StoreDir)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("http server stopped", "error", err)
	}
	log.Info("shutting down")
	shutdownHTTP(srv, log)
	app.close(log)
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

// app holds the started components in start-up order.
type app struct {
	store   *store.Store
	handler http.Handler
	closers []func(context.Context) error
}

func start(ctx context.Context, cfg config.Config, version string, log *slog.Logger) (*app, error) {
	box, err := secrets.Open(cfg.StoreDir, cfg.AppUUID)
	if err != nil {
		return nil, fmt.Errorf("opening secrets key: %w", err)
	}
	st, err := store.Open(ctx, cfg.StoreDir, box)
	if err != nil {
		return nil, err
	}
	a := &app{store: st}
	a.handler = http.NotFoundHandler()
	return a, nil
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
