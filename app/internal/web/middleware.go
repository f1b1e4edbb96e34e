package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// apiTimeout bounds an API request's work. Connection tests and QRadar
// searches are the slowest (tens of seconds); the daemon's http.Server
// write timeout must be longer than this.
const apiTimeout = 90 * time.Second

// recoverer turns a panic in a handler into a logged 500, so bad input
// never takes the process down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.internalError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// commonHeaders names the app in Server, as QRadar's app templates do, and
// keeps the panel to its own assets: no inline script, framed only by the
// console (same origin).
func (s *Server) commonHeaders(next http.Handler) http.Handler {
	server := strings.TrimSpace("QRadar App " + s.opts.AppID)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Server", server)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
		next.ServeHTTP(w, r)
	})
}

// csrfProtect refuses every request with an unsafe method unless it
// carries the session's token in X-CSRF-Token. It runs before routing, so a
// refused request has no effect whatever its path.
func (s *Server) csrfProtect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !s.validCSRF(r) {
				writeError(w, http.StatusForbidden, "missing or invalid CSRF token (X-CSRF-Token): reload the page and try again")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// apiLimits bounds the body and the duration of API requests, including
// those of routes other packages register.
func (s *Server) apiLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, errBodyTooLarge.Error())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// accessLog logs each API request at debug level: method, path, status and
// duration, never bodies.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"duration_ms", time.Since(start).Milliseconds())
	})
}
