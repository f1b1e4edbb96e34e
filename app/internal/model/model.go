// Package model holds the plain types shared by the store, the Mimecast
// client, the collector, the LEEF formatter and the web panel. It does no I/O.
package model

import (
	"errors"
	"slices"
	"time"
)

// Stream names a kind of Mimecast data collected per account. The names are a
// contract (design §2): they appear in the HTTP API, the store and LEEF.
type Stream string

// The streams of design §2.
const (
	StreamSIEM                Stream = "siem"
	StreamAudit               Stream = "audit"
	StreamTTPURL              Stream = "ttp_url"
	StreamTTPAttachment       Stream = "ttp_attachment"
	StreamTTPImpersonation    Stream = "ttp_impersonation"
	StreamDLP                 Stream = "dlp"
	StreamMessageRelease      Stream = "message_release"
	StreamArchiveSearch       Stream = "archive_search"
	StreamThreatIntelCustomer Stream = "threat_intel_customer"
	StreamThreatIntelGrid     Stream = "threat_intel_grid"
	StreamSIEMCI              Stream = "siem_ci"
	StreamAwarenessTraining   Stream = "awareness_training"
)

// CoreStreams are the streams every collector build supports; they are the
// default selection for a new account.
var CoreStreams = []Stream{StreamSIEM, StreamAudit, StreamTTPURL, StreamTTPAttachment, StreamTTPImpersonation, StreamDLP}

// SupportedStreams lists every stream the collector can collect, in display
// order. A stream is added here only once it is collected end to end.
var SupportedStreams = append(slices.Clone(CoreStreams),
	StreamMessageRelease, StreamArchiveSearch, StreamThreatIntelCustomer, StreamThreatIntelGrid,
	StreamSIEMCI, StreamAwarenessTraining)

// IsSupported reports whether s names a stream the collector can collect.
func (s Stream) IsSupported() bool { return slices.Contains(SupportedStreams, s) }

// API generations.
const (
	APIVersion1 = "1.0"
	APIVersion2 = "2.0"
)

// SIEM log types under the names of design §2 (EventID in LEEF). API 1.0
// spellings (jrnl, spameventthread, ...) are mapped to these by the decoder.
const (
	LogReceipt           = "receipt"
	LogProcess           = "process"
	LogDelivery          = "delivery"
	LogJournal           = "journal"
	LogAV                = "av"
	LogSpam              = "spam"
	LogInternalEmailProt = "internal_email_protect"
	LogImpersonationProt = "impersonation_protect"
	LogURLProtect        = "url_protect"
	LogAttachmentProtect = "attachment_protect"
	LogAudit             = "audit"
	LogTTPURL            = "ttp_url"
	LogTTPAttachment     = "ttp_attachment"
	LogTTPImpersonation  = "ttp_impersonation"
	LogDLP               = "dlp"
	LogCollectorHealth   = "collector_health"

	// Log types of the streams of mimecast-more-streams.md.
	LogMessageRelease     = "message_release"
	LogArchiveSearch      = "archive_search"
	LogThreatIntelMalware = "threat_intel_malware"
	LogCIEntities         = "ci_entities"
	LogCIMailflow         = "ci_mailflow"
	LogCIURLClick         = "ci_urlclick"
	LogAwarenessSafeScore = "awareness_safe_score"
	LogAwarenessPerf      = "awareness_performance"
	LogAwarenessWatchlist = "awareness_watchlist"
	LogAwarenessPhishing  = "awareness_phishing_user"
)

// SIEMLogTypes are the ten Cloud Gateway SIEM (MTA) log types.
var SIEMLogTypes = []string{LogReceipt, LogProcess, LogDelivery, LogJournal, LogAV, LogSpam,
	LogInternalEmailProt, LogImpersonationProt, LogURLProtect, LogAttachmentProtect}

// Account is one Mimecast account connection. Secret fields hold plaintext in
// memory only; the store seals them at rest and the API never returns them.
type Account struct {
	ID                   int64     `json:"id"`
	Name                 string    `json:"name"`
	Enabled              bool      `json:"enabled"`
	APIVersion           string    `json:"api_version"`
	BaseURL              string    `json:"base_url"`
	ClientID             string    `json:"client_id"`
	ClientSecret         string    `json:"-"`
	AppID                string    `json:"app_id"`
	AppKey               string    `json:"-"`
	AccessKey            string    `json:"-"`
	SecretKey            string    `json:"-"`
	Streams              []Stream  `json:"streams"`
	Schedule             string    `json:"schedule"`
	LogSourceIdentifier  string    `json:"log_source_identifier"`
	InitialLookbackHours int       `json:"initial_lookback_hours"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`

	// CredentialsError is set by the store when a sealed secret of this
	// account cannot be opened (the sealing key changed). No request may be
	// sent for the account until the credentials are entered again.
	CredentialsError string `json:"-"`
}

// Secret field names, as used in the API (`<field>_set`) and as associated
// data when sealing.
const (
	SecretClientSecret = "client_secret"
	SecretAppKey       = "app_key"
	SecretAccessKey    = "access_key"
	SecretSecretKey    = "secret_key"
)

// SecretFields lists the account's secret fields in a stable order.
var SecretFields = []string{SecretClientSecret, SecretAppKey, SecretAccessKey, SecretSecretKey}

// Secret returns a pointer to the named secret field, or nil.
func (a *Account) Secret(field string) *string {
	switch field {
	case SecretClientSecret:
		return &a.ClientSecret
	case SecretAppKey:
		return &a.AppKey
	case SecretAccessKey:
		return &a.AccessKey
	case SecretSecretKey:
		return &a.SecretKey
	}
	return nil
}

// HasStream reports whether the account collects s.
func (a *Account) HasStream(s Stream) bool { return slices.Contains(a.Streams, s) }

// Record is one Mimecast log record as decoded from a response, ready for the
// LEEF formatter.
//
// Raw is the record as one JSON object with every original field, Mimecast's
// spelling kept (an API 1.0 key_value line is turned into a JSON object of
// strings). Decoders reuse Raw's backing array: a consumer must copy it if it
// keeps it past the callback that received the record.
type Record struct {
	Stream  Stream
	LogType string    // EventID: a Log* constant
	Raw     []byte    // one JSON object
	Time    time.Time // the record's own time; zero when the record has none
	ID      string    // stable identity when the record has one, else ""
}

// StreamStatus is the state of one (account, stream) as shown by
// GET /api/status (design §5). Times are nil before the first run.
type StreamStatus struct {
	Stream         Stream     `json:"stream"`
	State          string     `json:"state"` // idle, running, error, disabled
	LastRunStarted *time.Time `json:"last_run_started"`
	LastRunEnded   *time.Time `json:"last_run_ended"`
	LastSuccess    *time.Time `json:"last_success"`
	EventsLastRun  int64      `json:"events_last_run"`
	EventsTotal    int64      `json:"events_total"`
	LastError      string     `json:"last_error"`
	NextRun        *time.Time `json:"next_run"`
	// NewestEvent is the time of the newest record delivered, for lag.
	NewestEvent *time.Time `json:"newest_event"`
	// Backfill is the stream's pending re-collection, nil when none.
	Backfill *Backfill `json:"backfill,omitempty"`
}

// Backfill is an administrator's request to collect a stream's records
// between From and To again (issue #10, "guided backfill"). Records that
// were delivered before are suppressed by the duplicate filter, so only
// what QRadar never received is sent. It stays pending until the period
// was read to its end; the stream's regular runs carry it out after their
// own catch-up, within the same per-run budget.
type Backfill struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Requested time.Time `json:"requested"`
	// Delivered counts records sent so far, Skipped those suppressed as
	// already delivered.
	Delivered int64 `json:"delivered"`
	Skipped   int64 `json:"skipped"`
}

// BackfillRetention reports whether stream s can be re-collected and how
// far back: Mimecast keeps SIEM files 7 days and answers the log endpoints
// 60 days back. The threat intel feeds and awareness training data are
// snapshots of the present, not a history, so they cannot.
func BackfillRetention(s Stream) (time.Duration, bool) {
	switch s {
	case StreamSIEM, StreamSIEMCI:
		return 7 * 24 * time.Hour, true
	case StreamAudit, StreamTTPURL, StreamTTPAttachment, StreamTTPImpersonation, StreamDLP,
		StreamMessageRelease, StreamArchiveSearch:
		return 60 * 24 * time.Hour, true
	}
	return 0, false
}

// Stream states.
const (
	StateIdle     = "idle"
	StateRunning  = "running"
	StateError    = "error"
	StateDisabled = "disabled"
)

// AccountStatus groups the stream states of one account.
type AccountStatus struct {
	ID      int64          `json:"id"`
	Name    string         `json:"name"`
	Enabled bool           `json:"enabled"`
	Streams []StreamStatus `json:"streams"`
}

// Status is the body of GET /api/status.
type Status struct {
	Accounts []AccountStatus `json:"accounts"`
}

// TestResult is the body of POST /api/accounts/{id}/test.
type TestResult struct {
	OK      bool               `json:"ok"`
	Error   string             `json:"error"`
	Streams []StreamTestResult `json:"streams"`
}

// StreamTestResult is the permission check of one stream.
type StreamTestResult struct {
	Stream Stream `json:"stream"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
}

// Errors for starting a collection run on demand (HTTP 409).
var (
	ErrRunInProgress   = errors.New("a collection run is already in progress for this account")
	ErrAccountDisabled = errors.New("the account is disabled")
	// ErrBackfillPending: the stream has a re-collection that has not
	// finished; cancel it first (HTTP 409).
	ErrBackfillPending = errors.New("a re-collection of this stream is already pending")
	// ErrInvalidBackfill wraps why a re-collection request was refused
	// (HTTP 422): a stream that cannot be re-collected or is not selected,
	// or a period outside what Mimecast keeps.
	ErrInvalidBackfill = errors.New("invalid re-collection")
)

// QRadarObject is one object the app manages in QRadar (design §6.1), as
// remembered in the store. Key is a stable identity chosen by the reconciler
// (for example "log_source:account:5" or "qid:receipt"), so a renamed account
// still finds its log source.
type QRadarObject struct {
	Key       string    `json:"-"`
	Object    string    `json:"object"` // log_source_type, log_source_group, log_source, qid, event_mapping, property, reference_set
	AccountID int64     `json:"account_id"`
	Name      string    `json:"name"`
	QRadarID  string    `json:"qradar_id"`
	State     string    `json:"state"` // ok, pending, error
	LastError string    `json:"last_error"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Run is one finished collection run of one (account, stream), kept in the
// store's bounded run history.
type Run struct {
	ID        int64     `json:"id"`
	AccountID int64     `json:"account_id"`
	Stream    Stream    `json:"stream"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
	Events    int64     `json:"events"`
	Outcome   string    `json:"outcome"` // ok or error
	Error     string    `json:"error"`
}
