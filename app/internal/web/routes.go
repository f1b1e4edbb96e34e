package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Handler returns the app's HTTP handler. Every path is relative to the app
// root: QRadar's proxy strips /console/plugins/<id>/app_proxy before
// requests arrive.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.commonHeaders, middleware.GetHead, s.csrfProtect)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
	})

	r.Get("/debug", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Pong!\n"))
	})
	r.Get("/", s.showPanel)
	r.Get("/index", s.showPanel)
	r.Get("/static/*", s.serveStatic)

	r.Group(func(r chi.Router) {
		r.Use(s.apiLimits, s.accessLog)
		r.Get("/api/csrf", s.getCSRF)

		r.Get("/api/accounts", s.listAccounts)
		r.With(s.auditAccount(auditAccountCreate)).Post("/api/accounts", s.createAccount)
		r.Get("/api/accounts/{id}", s.getAccount)
		r.With(s.auditAccount(auditAccountUpdate)).Put("/api/accounts/{id}", s.updateAccount)
		r.With(s.auditAccount(auditAccountDelete)).Delete("/api/accounts/{id}", s.deleteAccount)
		r.Post("/api/accounts/{id}/test", s.testAccount)
		r.With(s.auditAccount(auditCollectNow)).Post("/api/accounts/{id}/collect", s.collectAccount)
		r.With(s.auditAccount(auditStreamReset)).Post("/api/accounts/{id}/streams/{stream}/reset", s.resetStream)
		r.With(s.auditAccount(auditBackfill)).Post("/api/accounts/{id}/streams/{stream}/backfill", s.requestBackfill)
		r.With(s.auditAccount(auditBackfillCancel)).Delete("/api/accounts/{id}/streams/{stream}/backfill", s.cancelBackfill)
		r.Get("/api/accounts/{id}/runs", s.listRuns)

		r.Get("/api/status", s.getStatus)

		r.Get("/api/settings", s.getSettings)
		r.With(s.auditSettings).Put("/api/settings", s.putSettings)
		r.Post("/api/settings/test-syslog", s.testSyslog)

		r.Get("/api/audit", s.listAudit)
		r.Get("/api/config/export", s.exportConfig)
		r.Get("/api/support-bundle", s.supportBundle)

		r.Group(func(r chi.Router) {
			r.Use(s.auditQRadar)
			if s.qradar != nil {
				s.qradar.Routes(r)
			} else {
				s.qradarOffRoutes(r)
			}
		})
	})

	// An import carries many accounts: it has a larger body limit of its
	// own (maxImportBytes) instead of apiLimits'.
	r.Group(func(r chi.Router) {
		r.Use(s.importLimits, s.accessLog)
		r.Post("/api/config/import", s.importConfig)
	})
	return r
}

// importLimits bounds the import's body and duration.
func (s *Server) importLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxImportBytes {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d MiB", maxImportBytes>>20))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
