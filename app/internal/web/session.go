package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/sessions"
)

const (
	settingSessionKeys = "web_session_keys"
	sessionMaxAge      = 12 * 60 * 60
	csrfHeader         = "X-CSRF-Token"
	sessionCSRFKey     = "csrf"
	sessionThemeKey    = "theme"
)

// initSessions loads the cookie keys from the store, creating them on first
// start so a restart does not log users out. They are kept sealed, like
// account secrets: whoever reads the database must not be able to forge a
// session. When they cannot be opened (the sealing key changed) new keys are
// made, which only costs open pages one token refresh.
func (s *Server) initSessions(ctx context.Context) error {
	hashKey, blockKey, err := s.loadSessionKeys(ctx)
	if err != nil {
		return err
	}
	s.sessions = sessions.NewCookieStore(hashKey, blockKey)
	s.sessions.MaxAge(sessionMaxAge)

	// QRadar serves every app from the console's origin, so the cookie is
	// named per app and scoped to this app's proxy path (IBM's templates name
	// it session_<app id>).
	s.cookieName = "session_mimecast_qradar"
	s.cookiePath = "/"
	if s.opts.AppID != "" {
		s.cookieName = "session_" + s.opts.AppID
		s.cookiePath = "/console/plugins/" + s.opts.AppID + "/app_proxy"
	}
	return nil
}

func (s *Server) loadSessionKeys(ctx context.Context) (hashKey, blockKey []byte, err error) {
	hashKey, blockKey = make([]byte, 64), make([]byte, 32)
	stored, ok, err := s.store.SecretSetting(ctx, settingSessionKeys)
	switch {
	case err != nil:
		s.log.Warn("session keys cannot be read; making new ones (open pages fetch a new token)", "error", err)
	case ok:
		h, b, _ := strings.Cut(stored, ":")
		hk, err1 := base64.StdEncoding.DecodeString(h)
		bk, err2 := base64.StdEncoding.DecodeString(b)
		if err1 == nil && err2 == nil && len(hk) == len(hashKey) && len(bk) == len(blockKey) {
			return hk, bk, nil
		}
		s.log.Warn("stored session keys are malformed; making new ones")
	}
	rand.Read(hashKey)
	rand.Read(blockKey)
	value := base64.StdEncoding.EncodeToString(hashKey) + ":" + base64.StdEncoding.EncodeToString(blockKey)
	if err := s.store.SetSecretSetting(ctx, settingSessionKeys, value); err != nil {
		return nil, nil, fmt.Errorf("saving session keys: %w", err)
	}
	return hashKey, blockKey, nil
}

// session returns the request's session, or a fresh one when there is no
// cookie or it does not decode (expired, or keys changed).
func (s *Server) session(r *http.Request) *sessions.Session {
	sess, err := s.sessions.Get(r, s.cookieName)
	if err != nil {
		// Get returns a usable new session along with the decode error.
		sess.Values = map[any]any{}
	}
	return sess
}

// saveSession writes the session cookie with this app's attributes.
func (s *Server) saveSession(w http.ResponseWriter, r *http.Request, sess *sessions.Session) error {
	sess.Options = &sessions.Options{
		Path:     s.cookiePath,
		MaxAge:   sessionMaxAge,
		HttpOnly: true,
		Secure:   isHTTPS(r),
		SameSite: http.SameSiteStrictMode,
	}
	return sess.Save(r, w)
}

// isHTTPS reports whether the browser's request came over https, directly
// or through a proxy that says so.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]), "https")
}

// sessionToken returns the session's CSRF token, adding one to a session
// that has none. The caller saves the session.
func sessionToken(sess *sessions.Session) string {
	token, _ := sess.Values[sessionCSRFKey].(string)
	if token == "" {
		token = newToken()
		sess.Values[sessionCSRFKey] = token
	}
	return token
}

// newToken returns 256 random bits, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validCSRF reports whether the request carries the session's token.
func (s *Server) validCSRF(r *http.Request) bool {
	sess := s.session(r)
	want, _ := sess.Values[sessionCSRFKey].(string)
	got := r.Header.Get(csrfHeader)
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// getCSRF answers GET /api/csrf with the token bound to the session cookie
// it sets. Saving on every call also renews the cookie while the panel is
// in use.
func (s *Server) getCSRF(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	token := sessionToken(sess)
	if err := s.saveSession(w, r, sess); err != nil {
		s.internalError(w, r, fmt.Errorf("saving session: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}
