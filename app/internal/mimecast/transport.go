package mimecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// authKind says how a request is authenticated.
type authKind int

const (
	authAPI   authKind = iota // Bearer token (2.0) or HMAC signature (1.0)
	authNone                  // pre-signed file URLs, discovery
	authToken                 // the OAuth token request itself
)

// request describes one logical call; do may send it several times.
type request struct {
	method      string
	url         string // absolute URL
	query       url.Values
	body        []byte
	contentType string
	accept      string
	auth        authKind
	file        bool   // pre-signed SIEM file: 403/404/410 mean expired
	feature     string // separately licensed data, named in the hint of a 403 (e.g. "the Threat Intel feed")
}

// errTimedOut is the cancellation cause set by the call and stall timers.
var errTimedOut = errors.New("timed out")

// Back-off bounds.
const (
	serverBackoffBase = time.Second
	serverBackoffCap  = 30 * time.Second
	rateLimitFallback = 5 * time.Second // first wait on 429 without headers
	rateLimitCeiling  = 15 * time.Minute
)

// do sends r with authentication, time-outs and retries: 429 and 5xx and
// network failures are retried up to maxRetries times with capped, jittered
// waits; an API 2.0 401 is retried once with a fresh token. Each attempt of
// an API call (not of a file download) first passes the account's
// RateBudget, and its response feeds the budget; a 429 blocks the whole
// account. It returns a 2xx response whose body is guarded by the stall
// timer; the caller closes it.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	retries := 0
	refreshed := false
	for {
		if !r.file {
			// Mimecast's quota is the account's: wait while the account is
			// blocked or this stream has used its share (see RateBudget).
			wait, err := c.budget.take(ctx, c.now(), c.maxWait)
			if err != nil {
				return nil, err
			}
			if wait > 0 {
				c.log.Info("waiting for the Mimecast rate limit", "url", redactRawURL(r.url), "wait", wait)
				if err := c.sleep(ctx, min(wait+jitter(wait), c.maxWait)); err != nil {
					return nil, err
				}
			}
		}
		var token string
		if r.auth == authAPI && c.version == model.APIVersion2 {
			t, err := c.accessToken(ctx)
			if err != nil {
				return nil, err
			}
			token = t
		}
		resp, err := c.attempt(ctx, r, token)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !errors.Is(err, ErrNetwork) || retries >= c.maxRetries {
				return nil, err
			}
			d := c.backoff(retries)
			c.log.Warn("mimecast request failed, retrying", "url", redactRawURL(r.url), "error", err, "wait", d)
			if err := c.sleep(ctx, d); err != nil {
				return nil, err
			}
			retries++
			continue
		}
		if !r.file && resp.StatusCode != http.StatusTooManyRequests {
			c.budget.observe(resp.Header, c.now())
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		status := resp.StatusCode
		code, msg, retryable := c.readErrorBody(resp)
		switch {
		case status == http.StatusUnauthorized && r.auth == authAPI && c.version == model.APIVersion2 && !refreshed:
			// Tokens can be revoked or expire early: fetch a new one once.
			c.log.Info("mimecast answered 401, retrying with a fresh token", "url", redactRawURL(r.url))
			c.dropToken(token)
			refreshed = true
			continue
		case status == http.StatusTooManyRequests:
			now := c.now()
			wait, ok := rateLimitWait(resp.Header, now)
			if !ok {
				wait = min(rateLimitFallback<<retries, rateLimitCeiling)
			}
			until := now.Add(wait)
			c.log.Warn("mimecast rate limit reached", "url", redactRawURL(r.url), "until", until,
				"quota", resp.Header.Get("X-RateLimit-Limit"))
			if !r.file {
				// The next attempt waits in take, with every other request
				// of the account.
				c.budget.block(until)
			}
			if retries >= c.maxRetries {
				return nil, &RateLimitError{Until: until}
			}
			if r.file {
				// Storage is outside Mimecast's quota: only this download waits.
				if err := c.sleep(ctx, min(wait+jitter(wait), c.maxWait)); err != nil {
					return nil, err
				}
			}
			retries++
			continue
		case status >= 500:
			if retries < c.maxRetries {
				d := c.backoff(retries)
				c.log.Warn("mimecast server error, retrying", "url", redactRawURL(r.url), "status", status, "wait", d)
				if err := c.sleep(ctx, d); err != nil {
					return nil, err
				}
				retries++
				continue
			}
		case r.file && (status == http.StatusUnauthorized || status == http.StatusForbidden ||
			status == http.StatusNotFound || status == http.StatusGone):
			// Storage refuses a pre-signed URL whose signature lapsed; the
			// file must be listed again, the credentials are not at fault.
			return nil, &APIError{Kind: ErrFileExpired, Status: status, Code: code, Message: msg,
				hint: "the pre-signed URL is no longer valid; request the batch again"}
		case r.auth == authToken && (status == http.StatusBadRequest || status == http.StatusUnauthorized):
			return nil, &APIError{Kind: ErrAuth, Status: status, Code: code, Message: msg,
				hint: "check the client ID and client secret"}
		}
		kind, hint := classify(status, code, retryable, c.version)
		if kind == ErrPermission && r.feature != "" {
			hint = permissionHint(r.feature)
		}
		return nil, &APIError{Kind: kind, Status: status, Code: code, Message: msg, hint: hint}
	}
}

// permissionHint words a refusal to read a separately licensed feature: a
// 403 there usually means the account lacks the product, not only a role.
func permissionHint(feature string) string {
	return "not licensed or no permission for " + feature +
		": check that the account has it and give the API application a role that may read it"
}

// attempt sends r once. Errors are network failures (wrapping ErrNetwork),
// refusals by our own guards, or the caller's context error.
func (c *Client) attempt(ctx context.Context, r *request, token string) (*http.Response, error) {
	target := r.url
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	actx, cancel := context.WithCancelCause(ctx)
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, body)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("building request for %s: %w", redactRawURL(r.url), err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.auth == authAPI {
		if c.version == model.APIVersion2 {
			req.Header.Set("Authorization", "Bearer "+token)
		} else {
			c.signV1(req.Header, req.URL.Path)
		}
	}
	timer := time.AfterFunc(c.callTO, func() { cancel(errTimedOut) })
	start := time.Now()
	resp, err := c.hc.Do(req)
	timer.Stop()
	if err != nil {
		defer cancel(nil)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.transportError(actx, r, err)
	}
	c.log.Debug("mimecast request", "method", r.method, "url", redactURL(req.URL), "status", resp.StatusCode,
		"elapsed", time.Since(start).Round(time.Millisecond))
	resp.Body = &guardedBody{rc: resp.Body, ctx: actx, parent: ctx, cancel: cancel, timer: timer, stall: c.stallTO}
	return resp, nil
}

// transportError turns an error from http.Client.Do into one that names the
// URL without its query (pre-signed signatures) and wraps ErrNetwork when it
// is worth retrying.
func (c *Client) transportError(actx context.Context, r *request, err error) error {
	where := r.method + " " + redactRawURL(r.url)
	if errors.Is(context.Cause(actx), errTimedOut) {
		return fmt.Errorf("%w: %s: no answer within %v", ErrNetwork, where, c.callTO)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, errRedirect) || errors.Is(err, errBlockedAddress) {
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%w: %s: %s", ErrNetwork, where, c.scrub(err.Error()))
}

// guardedBody enforces the stall time-out on a response body and words read
// errors: a read blocked longer than stall cancels the request.
type guardedBody struct {
	rc     io.ReadCloser
	ctx    context.Context // the attempt's context
	parent context.Context // the caller's context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	stall  time.Duration
}

func (b *guardedBody) Read(p []byte) (int, error) {
	// The timer runs only while we wait inside Read, so a slow consumer
	// (e.g. a blocked syslog target) does not count as a stalled server.
	b.timer.Reset(b.stall)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err == nil || err == io.EOF {
		return n, err
	}
	switch {
	case b.parent.Err() != nil:
		return n, b.parent.Err()
	case errors.Is(context.Cause(b.ctx), errTimedOut):
		return n, fmt.Errorf("%w: no data received for %v", ErrNetwork, b.stall)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, badResponse("response body truncated", nil)
	}
	return n, fmt.Errorf("%w: reading response: %w", ErrNetwork, err)
}

func (b *guardedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// readErrorBody reads a small error body and extracts Mimecast's first error
// code and message from any of its error shapes:
// 1.0 and /api: {"fail":[{"errors":[{"code","message","retryable"}]}]};
// 2.0 OAuth:    {"fail":[{"code","message"}]};
// 2.0 SIEM:     {"error":{"code","message"}};
// OAuth RFC:    {"error":"...","error_description":"..."}.
func (c *Client) readErrorBody(resp *http.Response) (code, msg string, retryable bool) {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // allow connection reuse
	code, msg, retryable = parseErrorBody(data)
	return c.scrub(code), c.scrub(msg), retryable
}

// failItem is one element of a Mimecast fail[] array in either shape.
type failItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Errors  []struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"errors"`
}

// firstFailure returns the first code and message in fail.
func firstFailure(fail []failItem) (code, msg string, retryable bool) {
	for _, f := range fail {
		for _, e := range f.Errors {
			return e.Code, e.Message, e.Retryable
		}
		if f.Code != "" || f.Message != "" {
			return f.Code, f.Message, false
		}
	}
	if len(fail) > 0 {
		return "", "unspecified failure", false
	}
	return "", "", false
}

func parseErrorBody(data []byte) (code, msg string, retryable bool) {
	var body struct {
		Fail             []failItem      `json:"fail"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Detail           string          `json:"detail"`
		Message          string          `json:"message"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return "", "", false
	}
	if code, msg, retryable = firstFailure(body.Fail); code != "" || msg != "" {
		return code, msg, retryable
	}
	if len(body.Error) > 0 {
		var obj struct{ Code, Message string }
		var str string
		if json.Unmarshal(body.Error, &obj) == nil && (obj.Code != "" || obj.Message != "") {
			return obj.Code, obj.Message, false
		}
		if json.Unmarshal(body.Error, &str) == nil {
			return str, body.ErrorDescription, false
		}
	}
	if body.Detail != "" {
		return "", body.Detail, false
	}
	return "", body.Message, false
}

// backoff returns the wait before retry number n (0-based) after a server
// or network failure: exponential from 1 s, capped at 30 s and MaxWait,
// with jitter in its upper half.
func (c *Client) backoff(n int) time.Duration {
	d := min(serverBackoffBase<<min(n, 10), serverBackoffCap, c.maxWait)
	return d/2 + rand.N(d/2+1)
}

// jitter returns a random extra wait of up to a tenth of d plus 100 ms, so
// that several collectors rate-limited together do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	return rand.N(d/10 + 100*time.Millisecond)
}

// rateLimitWait reads how long a 429 asks us to wait: Retry-After (seconds
// or an HTTP date) wins, else X-RateLimit-Reset (see resetWait). The result
// is clamped to [0, 15 min].
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	ra := strings.TrimSpace(h.Get("Retry-After"))
	if ra == "" {
		return resetWait(h.Get("X-RateLimit-Reset"), now)
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(ra, 64); err == nil && !math.IsNaN(secs) {
		d = time.Duration(min(secs, rateLimitCeiling.Seconds()) * float64(time.Second))
	} else if t, err := http.ParseTime(ra); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return max(0, min(d, rateLimitCeiling)), true
}

// resetWait reads an X-RateLimit-Reset value: milliseconds until the quota
// refills (Mimecast's documented unit). Some peers read it as an epoch time
// (reference §7.3), so a value that can only be one — at least 1e9, which
// as milliseconds would be over eleven days — is taken as the epoch time,
// in milliseconds from 1e12 on, else in seconds. The wait is clamped to
// [0, 15 min].
func resetWait(v string, now time.Time) (time.Duration, bool) {
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(n) {
		return 0, false
	}
	var d time.Duration
	switch {
	case n >= 1e12:
		d = time.UnixMilli(int64(min(n, math.MaxInt64/2))).Sub(now)
	case n >= 1e9:
		d = time.Unix(int64(n), 0).Sub(now)
	default:
		d = time.Duration(min(n, float64(rateLimitCeiling.Milliseconds())) * float64(time.Millisecond))
	}
	return max(0, min(d, rateLimitCeiling)), true
}
