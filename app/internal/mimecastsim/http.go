package mimecastsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// endpoint classifies routes for authentication and fault matching.
type endpoint int

const (
	epOther    endpoint = iota
	epDiscover          // POST /api/login/discover-authentication: no auth
	epToken             // POST /oauth/token: client credentials in the form
	epAPI               // POST /api/...: HMAC (1.0) or Bearer (2.0)
	epBatch             // GET /siem/v1/...: Bearer only
	epStorage           // GET /storage/...: "pre-signed", no auth
)

// call is one request being answered.
type call struct {
	w     *statusWriter
	r     *http.Request
	ep    endpoint
	acct  *account
	v1    bool // authenticated with an HMAC signature
	fault FaultKind
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

type route struct {
	method  string
	ep      endpoint
	resolve func(*call) // ties an unauthenticated request to an account
	handle  func(*call)
}

func (s *Sim) routes() *http.ServeMux {
	mux := http.NewServeMux()
	add := func(pattern string, rt route) { mux.Handle(pattern, s.wrap(rt)) }
	add("/api/login/discover-authentication", route{method: http.MethodPost, ep: epDiscover, handle: s.discover})
	add("/oauth/token", route{method: http.MethodPost, ep: epToken, resolve: s.resolveClient, handle: s.token})
	for _, k := range []*siemKind{kindCG, kindCI} {
		add(k.path, route{method: http.MethodGet, ep: epBatch, handle: s.batchHandler(k)})
	}
	add("/storage/{acct}/{file}", route{method: http.MethodGet, ep: epStorage, resolve: s.resolveStorage, handle: s.storage})
	add("/api/audit/get-siem-logs", route{method: http.MethodPost, ep: epAPI, handle: s.siemV1})
	for _, le := range logEndpoints {
		add(le.path, route{method: http.MethodPost, ep: epAPI, handle: s.logsHandler(le)})
	}
	add(threatIntelPath, route{method: http.MethodPost, ep: epAPI, handle: s.threatIntel})
	for path, h := range s.awarenessRoutes() {
		add(path, route{method: http.MethodPost, ep: epAPI, handle: h})
	}
	// Any other /api/ path authenticates first, as the real gateway does,
	// then answers 404 (the §1.3 test vector signs /api/test/some-url).
	add("/api/", route{ep: epAPI, handle: func(c *call) {
		c.apiFail(http.StatusNotFound, nil, "err_resource_not_found", "The requested resource does not exist", false)
	}})
	add("/", route{ep: epOther, handle: func(c *call) { http.NotFound(c.w, c.r) }})
	return mux
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Sim) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: &statusWriter{ResponseWriter: w}, r: r, ep: rt.ep}
		defer func() {
			name := ""
			if c.acct != nil {
				name = c.acct.Name
			}
			s.logRequest(RequestLog{Time: s.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
				Account: name, Status: c.w.status, Fault: c.fault})
		}()
		if rt.method != "" && r.Method != rt.method {
			c.w.Header().Set("Allow", rt.method)
			c.apiFail(http.StatusMethodNotAllowed, nil, "err_method_not_allowed", "Use "+rt.method, false)
			return
		}
		if rt.resolve != nil {
			rt.resolve(c)
		}
		if rt.ep == epAPI || rt.ep == epBatch {
			if !s.authenticate(c) || !s.rateLimit(c) {
				return
			}
		}
		if s.genericFault(c) {
			return
		}
		rt.handle(c)
	})
}

// genericFault applies a queued fault that replaces or delays the whole
// reply. It reports whether the reply was written.
func (s *Sim) genericFault(c *call) bool {
	f := s.take(c, Fault429, Fault5xx, FaultFail200, FaultSlow, FaultUnauthorized, FaultForbidden, FaultBindingExpired)
	if f == nil {
		return false
	}
	switch f.Kind {
	case FaultSlow:
		select {
		case <-time.After(f.Delay):
		case <-c.r.Context().Done():
		}
		return false
	case Fault429:
		reset := f.Delay
		if reset <= 0 {
			reset = time.Second
		}
		limit := s.opts.RateLimit
		if limit <= 0 {
			limit = 1000
		}
		h := c.w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Milliseconds(), 10))
		if f.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
		}
		c.writeJSON(http.StatusTooManyRequests, map[string]string{"detail": fmt.Sprintf("Over throttling limit (%d/hour)", limit)})
	case Fault5xx:
		status := f.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		c.w.Header().Set("Content-Type", "text/html")
		c.w.WriteHeader(status)
		fmt.Fprintf(c.w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
	case FaultFail200:
		if f.Code != "" {
			c.apiFail(http.StatusOK, nil, f.Code, "The request was refused", false)
		} else {
			c.apiFail(http.StatusOK, nil, "err_internal_server_error", "The request could not be processed, please retry", true)
		}
	case FaultUnauthorized:
		c.unauthorized("InvalidToken", "err_xdk_invalid_signature", "0004 Invalid Signature")
	case FaultForbidden:
		c.forbidden()
	case FaultBindingExpired:
		c.apiFail(http.StatusTeapot, nil, "err_xdk_binding_expired", "The binding has expired", false)
	}
	return true
}

// rateLimit enforces Options.RateLimit per account in one-minute windows
// and sets the X-RateLimit-* headers (Reset in milliseconds, reference §7.3).
func (s *Sim) rateLimit(c *call) bool {
	limit := s.opts.RateLimit
	if limit <= 0 {
		return true
	}
	now := s.now()
	s.mu.Lock()
	a := c.acct
	if now.Sub(a.rateWindow) >= time.Minute || now.Before(a.rateWindow) {
		a.rateWindow, a.rateCount = now, 0
	}
	a.rateCount++
	count, reset := a.rateCount, a.rateWindow.Add(time.Minute).Sub(now)
	s.mu.Unlock()
	h := c.w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-count)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Milliseconds(), 10))
	if count <= limit {
		return true
	}
	c.fault = Fault429
	c.writeJSON(http.StatusTooManyRequests, map[string]string{"detail": fmt.Sprintf("Over throttling limit (%d/minute)", limit)})
	return false
}

func (c *call) writeJSON(status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // only simulator-built values are marshalled
	}
	c.writeBody(status, "application/json", body)
}

func (c *call) writeBody(status int, contentType string, body []byte) {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	c.w.Write(body)
}

// apiFail writes the meta/data/fail envelope of the /api/ endpoints
// (reference §2, §7.2) with one error.
func (c *call) apiFail(status int, key any, code, message string, retryable bool) {
	type apiError struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	}
	type failure struct {
		Key    any        `json:"key,omitempty"`
		Errors []apiError `json:"errors"`
	}
	c.writeJSON(status, map[string]any{
		"meta": map[string]any{"status": status},
		"data": []any{},
		"fail": []failure{{Key: key, Errors: []apiError{{code, message, retryable}}}},
	})
}

// v2Fail writes the API 2.0 authorisation error body {"fail":[{code,message}]}.
func (c *call) v2Fail(status int, code, message string) {
	c.writeJSON(status, map[string]any{"fail": []map[string]string{{"code": code, "message": message}}})
}

// siemError writes the error body of the /siem/ endpoints.
func (c *call) siemError(status int, code, message string) {
	c.writeJSON(status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// unauthorized answers 401 in the shape the caller's API generation uses.
func (c *call) unauthorized(v2Code, v1Code, message string) {
	switch {
	case c.ep == epToken:
		c.v2Fail(http.StatusUnauthorized, "InvalidClientIdentifier", "Client credentials are invalid")
	case c.v1 || (c.ep == epAPI && !isBearer(c.r) && c.r.Header.Get("x-mc-app-id") != ""):
		c.apiFail(http.StatusUnauthorized, nil, v1Code, message, false)
	default:
		c.v2Fail(http.StatusUnauthorized, v2Code, message)
	}
}

func (c *call) forbidden() {
	const msg = "Forbidden to perform the requested operation"
	if c.v1 {
		c.apiFail(http.StatusForbidden, nil, "app_forbidden", msg, false)
		return
	}
	c.v2Fail(http.StatusForbidden, "app_forbidden", msg)
}

// apiRequest is the body of the /api/ endpoints.
type apiRequest struct {
	Meta struct {
		Pagination struct {
			PageSize  json.RawMessage `json:"pageSize"`
			PageToken string          `json:"pageToken"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []map[string]json.RawMessage `json:"data"`
}

// item returns data[0], or an empty item.
func (r *apiRequest) item() map[string]json.RawMessage {
	if len(r.Data) == 0 {
		return map[string]json.RawMessage{}
	}
	return r.Data[0]
}

// parseAPI reads the request body; an empty body is an empty request.
func (c *call) parseAPI() (*apiRequest, bool) {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err != nil {
		c.apiFail(http.StatusBadRequest, nil, "err_request_malformed", "The request body could not be read", false)
		return nil, false
	}
	var req apiRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			c.apiFail(http.StatusBadRequest, nil, "err_request_malformed", "The request body is not valid JSON: "+err.Error(), false)
			return nil, false
		}
	}
	return &req, true
}

// fieldString returns a string field of a data item.
func fieldString(item map[string]json.RawMessage, k string) (string, bool) {
	raw, ok := item[k]
	if !ok || string(raw) == "null" {
		return "", false
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// fieldBool accepts true/false and "true"/"false".
func fieldBool(item map[string]json.RawMessage, k string) bool {
	raw, ok := item[k]
	if !ok {
		return false
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.EqualFold(s, "true")
}

// baseURL is the simulator's own origin as the client reached it, so that
// URLs it hands out work behind httptest and any listen address.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sim) discover(c *call) {
	req, ok := c.parseAPI()
	if !ok {
		return
	}
	item := req.item()
	email, _ := fieldString(item, "emailAddress")
	if email == "" {
		c.apiFail(http.StatusOK, item, "err_validation_blank", "emailAddress must not be blank", false)
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"meta": map[string]any{"status": http.StatusOK},
		"data": []any{map[string]any{
			"emailAddress": email,
			"region":       map[string]string{"api": baseURL(c.r), "code": "sim", "name": "Mimecast simulator"},
		}},
		"fail": []any{},
	})
}
