package mimecastsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"mime"
	"net/http"
	"strings"
	"time"
)

func isBearer(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Bearer")
}

// authenticate ties an /api/ or /siem/ request to an account by its Bearer
// token or its API 1.0 signature, and answers 401/403/418 when it cannot.
func (s *Sim) authenticate(c *call) bool {
	h := c.r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		s.mu.RLock()
		b, ok := s.tokens[strings.TrimSpace(cred)]
		s.mu.RUnlock()
		if !ok {
			c.unauthorized("InvalidToken", "", "The access token is invalid")
			return false
		}
		if !s.now().Before(b.expires) {
			c.unauthorized("TokenExpired", "", "The access token has expired")
			return false
		}
		c.acct = b.acct
	case scheme == "MC" && c.ep == epAPI:
		if !s.verifySignature(c, cred) {
			return false
		}
	case scheme == "MC":
		c.unauthorized("InvalidToken", "", "API 2.0 endpoints need a Bearer token")
		return false
	default:
		c.unauthorized("InvalidToken", "err_xdk_invalid_signature", "Authorization header missing or malformed")
		return false
	}
	s.mu.RLock()
	forbidden := c.acct.Forbidden
	s.mu.RUnlock()
	for _, p := range forbidden {
		if strings.HasPrefix(c.r.URL.Path, p) {
			c.forbidden()
			return false
		}
	}
	return true
}

// verifySignature checks `Authorization: MC <accessKey>:<signature>` as in
// reference §1.2: base64(HMAC-SHA1(base64decode(secretKey),
// x-mc-date ":" x-mc-req-id ":" path ":" appKey)).
func (s *Sim) verifySignature(c *call, cred string) bool {
	c.v1 = true
	i := strings.LastIndexByte(cred, ':')
	date, reqID, appID := c.r.Header.Get("x-mc-date"), c.r.Header.Get("x-mc-req-id"), c.r.Header.Get("x-mc-app-id")
	if i <= 0 || date == "" || reqID == "" || appID == "" {
		c.apiFail(http.StatusUnauthorized, nil, "err_xdk_invalid_signature", "0004 Invalid Signature", false)
		return false
	}
	accessKey, sig := cred[:i], cred[i+1:]
	var a *account
	s.mu.RLock()
	for _, x := range s.accounts {
		if x.AccessKey != "" && x.AccessKey == accessKey {
			a = x
			break
		}
	}
	var acct Account
	if a != nil {
		acct = a.Account
	}
	s.mu.RUnlock()
	if a == nil {
		c.apiFail(http.StatusUnauthorized, nil, "err_xdk_invalid_signature", "0004 Invalid Signature", false)
		return false
	}
	c.acct = a
	if appID != acct.AppID {
		c.apiFail(http.StatusUnauthorized, nil, "err_developer_key", "The application id is not valid for this access key", false)
		return false
	}
	want, err := Signature(acct.SecretKey, date, reqID, c.r.URL.Path, acct.AppKey)
	if err != nil || !hmac.Equal([]byte(sig), []byte(want)) {
		c.apiFail(http.StatusUnauthorized, nil, "err_xdk_invalid_signature", "0004 Invalid Signature", false)
		return false
	}
	if s.opts.MaxClockSkew > 0 {
		t, err := time.Parse(time.RFC1123, date)
		if d := s.now().Sub(t); err != nil || d > s.opts.MaxClockSkew || d < -s.opts.MaxClockSkew {
			c.apiFail(http.StatusUnauthorized, nil, "err_xdk_invalid_signature", "x-mc-date is missing or too far from the current time", false)
			return false
		}
	}
	if acct.BindingExpired {
		c.apiFail(http.StatusTeapot, nil, "err_xdk_binding_expired", "The binding has expired", false)
		return false
	}
	return true
}

// Signature computes an API 1.0 request signature (reference §1.2). The
// secret key is base64, as Mimecast delivers it.
func Signature(secretKey, date, reqID, path, appKey string) (string, error) {
	key, err := base64.StdEncoding.DecodeString(secretKey)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha1.New, key)
	m.Write([]byte(date + ":" + reqID + ":" + path + ":" + appKey))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// resolveClient ties a token request to its account (for the request log
// and per-account faults) before faults are applied.
func (s *Sim) resolveClient(c *call) {
	if c.r.ParseForm() != nil {
		return
	}
	id := c.r.PostForm.Get("client_id")
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.accounts {
		if id != "" && a.ClientID == id {
			c.acct = a
			return
		}
	}
}

// token is POST /oauth/token (reference §6.1): client credentials in a form
// body, a Bearer token valid for TokenTTL (1799 s).
func (s *Sim) token(c *call) {
	mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		c.v2Fail(http.StatusBadRequest, "InvalidRequest", "the body must be application/x-www-form-urlencoded")
		return
	}
	form := c.r.PostForm
	if form.Get("grant_type") != "client_credentials" {
		c.v2Fail(http.StatusBadRequest, "UnsupportedGrantType", "grant_type must be client_credentials")
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	tok, ok := s.issueToken(id, secret)
	if !ok {
		c.acct = nil
		c.v2Fail(http.StatusUnauthorized, "InvalidClientIdentifier", "Client credentials are invalid")
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
		"scope":        "",
	})
}

// issueToken returns a new access token for the account with these client
// credentials.
func (s *Sim) issueToken(id, secret string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a *account
	for _, x := range s.accounts {
		if id != "" && x.ClientID == id && subtle.ConstantTimeCompare([]byte(x.ClientSecret), []byte(secret)) == 1 {
			a = x
		}
	}
	if a == nil {
		return "", false
	}
	now := s.now()
	for t, b := range s.tokens {
		if now.After(b.expires) {
			delete(s.tokens, t)
		}
	}
	s.tokenSeq++
	m := hmac.New(sha256.New, s.secret)
	m.Write(binary.BigEndian.AppendUint64([]byte("access-token"), s.tokenSeq))
	tok := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	s.tokens[tok] = bearer{acct: a, expires: now.Add(s.opts.TokenTTL)}
	return tok, true
}
