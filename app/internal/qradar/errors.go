package qradar

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors for the HTTP statuses callers branch on. An *APIError
// matches the sentinel of its status with errors.Is.
var (
	ErrUnauthorized  = errors.New("qradar: unauthorized (401)")
	ErrForbidden     = errors.New("qradar: forbidden (403)")
	ErrNotFound      = errors.New("qradar: not found (404)")
	ErrConflict      = errors.New("qradar: conflict (409)")
	ErrUnprocessable = errors.New("qradar: unprocessable (422)")

	// ErrNoToken is returned, without any request being sent, when the token
	// function returns an empty string (SEC_ADMIN_TOKEN is not set).
	ErrNoToken = errors.New("qradar: SEC_ADMIN_TOKEN is not set")

	// ErrUnreachable wraps transport failures: the console could not be
	// reached or did not answer in time.
	ErrUnreachable = errors.New("qradar: console unreachable")

	// ErrUntrusted wraps TLS verification failures: the console's
	// certificate is not signed by a trusted CA.
	ErrUntrusted = errors.New("qradar: console certificate not trusted")
)

// APIError is a non-2xx answer of the QRadar REST API, decoded from QRadar's
// error body:
//
//	{"http_response":{"code":409,"message":"..."},"code":1001,"message":"...","description":"..."}
//
// Code is unique per endpoint only, so callers branch on Status plus the
// endpoint they called, and on Code only for that endpoint.
type APIError struct {
	Method      string
	Path        string // path below /api, without the query
	Status      int    // HTTP status
	Code        int    // QRadar's unique code, 0 when absent
	Message     string
	Description string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "qradar: %s %s: %d %s", e.Method, e.Path, e.Status, strings.ToLower(http.StatusText(e.Status)))
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if text := e.Text(); text != "" {
		b.WriteString(": ")
		b.WriteString(text)
	}
	return b.String()
}

// Text is QRadar's own explanation: the description when it has one, else
// the message.
func (e *APIError) Text() string {
	if e.Description != "" && e.Description != "null" {
		return e.Description
	}
	return e.Message
}

// Is lets errors.Is match an *APIError against the status sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrUnprocessable:
		return e.Status == http.StatusUnprocessableEntity
	}
	return false
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// CodeOf returns QRadar's unique code of an *APIError in err's chain, or 0.
func CodeOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// isServerError reports whether err is a 5xx answer.
func isServerError(err error) bool {
	return StatusOf(err) >= 500
}
