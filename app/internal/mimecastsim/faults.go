package mimecastsim

import (
	"strings"
	"time"
)

// FaultKind names a failure the simulator can inject.
type FaultKind string

// Fault kinds. Each applies only where it makes sense; a fault that does
// not apply to a request is neither used nor counted for it.
const (
	// Fault429 answers 429 with X-RateLimit-Limit, X-RateLimit-Remaining: 0
	// and X-RateLimit-Reset = Delay in milliseconds (default 1 s), plus
	// Retry-After when RetryAfter is set. Any endpoint.
	Fault429 FaultKind = "429"
	// Fault5xx answers Status (default 503) with a gateway error page. Any
	// endpoint.
	Fault5xx FaultKind = "5xx"
	// FaultFail200 answers HTTP 200 with a non-empty fail[]: by default a
	// retryable "err_internal_server_error"; with Code set, that code,
	// not retryable. /api/ endpoints.
	FaultFail200 FaultKind = "fail200"
	// FaultTruncated cuts the body in half: a 2.0 gzip file, a 1.0 zip or
	// plain file, or a page of the /api/ log endpoints.
	FaultTruncated FaultKind = "truncated"
	// FaultMalformedRecord puts one unreadable record in the middle of a
	// file or page: a line that is not JSON in NDJSON, a line that is not
	// key=value in key_value, an array element that is not an object in
	// JSON. The real records are all still there.
	FaultMalformedRecord FaultKind = "malformed_record"
	// FaultExpiredURL answers a /storage/ download with 403, as S3 does for
	// an expired pre-signed URL. (URLs also really expire after URLTTL.)
	FaultExpiredURL FaultKind = "expired_url"
	// FaultDuplicateFile serves a SIEM file again: the next 2.0 batch page
	// starts with the last file of the previous page, and the next 1.0 call
	// returns the previous file again with the same mc-siem-token.
	FaultDuplicateFile FaultKind = "duplicate_file"
	// FaultSlow delays the reply by Delay, then answers normally. Any
	// endpoint.
	FaultSlow FaultKind = "slow"
	// FaultUnauthorized answers 401 as for rejected credentials or a
	// revoked token. /api/, /siem/ and /oauth/token.
	FaultUnauthorized FaultKind = "401"
	// FaultForbidden answers 403 app_forbidden. /api/ and /siem/.
	FaultForbidden FaultKind = "403"
	// FaultBindingExpired answers 418 err_xdk_binding_expired. /api/.
	FaultBindingExpired FaultKind = "418"
)

// Fault is one queued failure.
type Fault struct {
	Kind FaultKind
	// Path is a prefix of the URL path the fault applies to ("" = any),
	// e.g. "/storage/", "/api/ttp/url/get-logs".
	Path string
	// Account limits the fault to one account's requests ("" = any).
	Account string
	// Count is how many requests the fault affects (0 = 1, negative =
	// every matching request until ClearFaults).
	Count int
	// Skip lets this many matching requests through before the fault
	// applies, e.g. Skip 2 truncates the third file downloaded.
	Skip int
	// Status is the HTTP status of Fault5xx (default 503).
	Status int
	// Delay is the wait of FaultSlow and the X-RateLimit-Reset of Fault429.
	Delay time.Duration
	// RetryAfter, when positive, adds Retry-After (whole seconds, rounded
	// up) to a Fault429 reply.
	RetryAfter time.Duration
	// Code is the error code of FaultFail200 (reported as not retryable).
	Code string
}

type faultState struct {
	Fault
	left int // < 0: unlimited
}

// Inject queues a fault. Faults are matched in the order injected.
func (s *Sim) Inject(f Fault) {
	left := f.Count
	if left == 0 {
		left = 1
	}
	s.faultMu.Lock()
	s.faults = append(s.faults, &faultState{Fault: f, left: left})
	s.faultMu.Unlock()
}

// ClearFaults drops every queued fault.
func (s *Sim) ClearFaults() {
	s.faultMu.Lock()
	s.faults = nil
	s.faultMu.Unlock()
}

// PendingFaults returns how many injected faults have not been used up.
func (s *Sim) PendingFaults() int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return len(s.faults)
}

// faultApplies says where each kind makes sense.
func faultApplies(k FaultKind, ep endpoint) bool {
	switch k {
	case Fault429, Fault5xx, FaultSlow:
		return true
	case FaultFail200:
		return ep == epAPI || ep == epDiscover
	case FaultUnauthorized:
		return ep == epAPI || ep == epBatch || ep == epToken
	case FaultForbidden:
		return ep == epAPI || ep == epBatch
	case FaultBindingExpired:
		return ep == epAPI
	case FaultTruncated, FaultMalformedRecord:
		return ep == epAPI || ep == epStorage
	case FaultExpiredURL:
		return ep == epStorage
	case FaultDuplicateFile:
		return ep == epAPI || ep == epBatch
	}
	return false
}

// take consumes the first queued fault of one of kinds that matches the
// request, or returns nil.
func (s *Sim) take(c *call, kinds ...FaultKind) *Fault {
	acct := ""
	if c.acct != nil {
		acct = c.acct.Name
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, f := range s.faults {
		if !containsKind(kinds, f.Kind) || !faultApplies(f.Kind, c.ep) ||
			!strings.HasPrefix(c.r.URL.Path, f.Path) || (f.Account != "" && f.Account != acct) {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		c.fault = f.Kind
		out := f.Fault
		return &out
	}
	return nil
}

func containsKind(kinds []FaultKind, k FaultKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}
