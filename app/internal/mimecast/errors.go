package mimecast

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Error kinds. Every error the client returns for a failed Mimecast call
// wraps one of these, so callers can branch with errors.Is; *APIError and
// *RateLimitError carry the details.
var (
	// ErrAuth: the credentials were refused (HTTP 401, invalid signature,
	// invalid client). The whole account is affected.
	ErrAuth = errors.New("authentication failed")
	// ErrPermission: authenticated, but the account may not read this data
	// (HTTP 403). Only the stream concerned is affected.
	ErrPermission = errors.New("permission denied")
	// ErrKeyExpired: the API 1.0 access key binding expired (HTTP 418).
	ErrKeyExpired = errors.New("access key expired: create new keys")
	// ErrRateLimited: Mimecast's rate limit stopped the request: it still
	// answered 429 after the allowed retries, or the account's RateBudget
	// holds requests back for longer than the client waits.
	ErrRateLimited = errors.New("rate limited by Mimecast")
	// ErrServer: Mimecast answered 5xx (or a retryable failure) after the
	// allowed retries; try again on the next run.
	ErrServer = errors.New("Mimecast server error")
	// ErrInvalidSIEMToken: API 1.0 get-siem-logs refused the saved token.
	ErrInvalidSIEMToken = errors.New("the SIEM token is invalid")
	// ErrFileExpired: a pre-signed SIEM file URL is no longer valid.
	ErrFileExpired = errors.New("SIEM file URL expired")
	// ErrBadResponse: the response could not be read (unparseable, corrupt or
	// truncated body, or over a size limit).
	ErrBadResponse = errors.New("bad response from Mimecast")
	// ErrRejected: Mimecast refused the request itself (HTTP 400/404/409 or
	// a non-retryable error in fail[]).
	ErrRejected = errors.New("request rejected by Mimecast")
	// ErrNetwork: Mimecast could not be reached or stopped answering
	// (connection failure or time-out).
	ErrNetwork = errors.New("cannot reach Mimecast")
)

// APIError describes an error answer from Mimecast. Its Error text is in
// plain words and never holds a secret; Unwrap returns Kind.
type APIError struct {
	Kind    error  // one of the Err* kinds
	Status  int    // HTTP status, 0 when not from a status line
	Code    string // Mimecast error code, e.g. err_xdk_invalid_signature
	Message string // Mimecast's message (redacted, shortened)
	hint    string // what the operator should do
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.hint != "" {
		b.WriteString(": ")
		b.WriteString(e.hint)
	}
	var detail []string
	if e.Status != 0 {
		detail = append(detail, "HTTP "+strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		detail = append(detail, e.Code)
	}
	if e.Message != "" {
		detail = append(detail, e.Message)
	}
	if len(detail) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(detail, ": "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the error kind.
func (e *APIError) Unwrap() error { return e.Kind }

// RateLimitError is returned when Mimecast's rate limit stopped a request
// (see ErrRateLimited). The account's next request should not be sent
// before Until.
type RateLimitError struct {
	Until time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v until %s; the next run continues", ErrRateLimited, e.Until.UTC().Format("15:04:05 MST"))
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// badResponse returns an ErrBadResponse error with a plain description and
// an optional cause.
func badResponse(detail string, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s", ErrBadResponse, detail)
	}
	return fmt.Errorf("%w: %s: %w", ErrBadResponse, detail, cause)
}

// Known Mimecast error codes with a meaning of their own.
const (
	codeInvalidSIEMToken  = "err_audit_siem_invalid_token"
	codeBindingExpired    = "err_xdk_binding_expired"
	codeIncorrectRegion   = "err_audit_log_incorrect_region"
	codeInvalidSignature  = "err_xdk_invalid_signature"
	codeDeveloperKey      = "err_developer_key"
	codeInvalidClient     = "InvalidClientIdentifier"
	codeAppForbidden      = "app_forbidden"
	maxErrorMessageLength = 300
)

// classify maps an HTTP status and a Mimecast error code to an error kind and
// a hint for the operator. version selects the wording of credential hints.
func classify(status int, code string, retryable bool, version string) (kind error, hint string) {
	authHint := "check the client ID and client secret"
	if version == model.APIVersion1 {
		authHint = "check the application ID, application key, access key and secret key"
	}
	switch {
	case code == codeInvalidSIEMToken:
		return ErrInvalidSIEMToken, "start again without the saved token"
	case code == codeBindingExpired:
		return ErrKeyExpired, ""
	case code == codeIncorrectRegion:
		return ErrAuth, "the account belongs to another region: choose its regional base URL"
	case code == codeInvalidSignature, code == codeDeveloperKey, code == codeInvalidClient:
		return ErrAuth, authHint
	case code == codeAppForbidden:
		return ErrPermission, "give the API application a role that may read this data"
	}
	switch {
	case status == 401:
		return ErrAuth, authHint
	case status == 403:
		return ErrPermission, "give the API application a role that may read this data"
	case status == 418:
		return ErrKeyExpired, ""
	case status == 429:
		return ErrRateLimited, ""
	case status >= 500:
		return ErrServer, "try again later"
	case strings.HasPrefix(code, "err_xdk_"):
		// The err_xdk_ family comes from Mimecast's authentication layer.
		return ErrAuth, authHint
	case retryable:
		return ErrServer, "try again later"
	case status == 404:
		return ErrRejected, "endpoint not found: check the base URL"
	}
	return ErrRejected, ""
}
