// Package mimecast is the client of the Mimecast API used by the collector:
// API 2.0 (OAuth2 client credentials, Cloud Gateway and Cloud Integrated
// SIEM batch files) and API 1.0 (HMAC signed calls, get-siem-logs), plus the
// endpoints shared by both generations: the audit, TTP, DLP, held release
// and archive search logs, the threat intel malware feeds (STIX) and the
// Awareness Training data sets. Records are decoded as a stream, one at a
// time, into model.Record values.
package mimecast

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Credentials of one account (plaintext in memory only).
type Credentials struct {
	APIVersion   string // model.APIVersion1 or model.APIVersion2
	BaseURL      string
	ClientID     string // 2.0
	ClientSecret string // 2.0
	AppID        string // 1.0
	AppKey       string // 1.0
	AccessKey    string // 1.0
	SecretKey    string // 1.0, base64 as Mimecast delivers it
}

// Limits bound what one response can make the client hold or do. Zero
// fields take the defaults shown.
type Limits struct {
	MaxRecordBytes       int   // one record; larger records are skipped and counted as malformed (1 MiB)
	MaxDecompressedBytes int64 // one file or response body after decompression (2 GiB)
	MaxZipMembers        int   // members of one API 1.0 SIEM zip (1000)
	MaxZipBytes          int64 // compressed size of one API 1.0 SIEM zip (512 MiB)
}

// Default limits.
const (
	DefaultMaxRecordBytes       = 1 << 20
	DefaultMaxDecompressedBytes = 2 << 30
	DefaultMaxZipMembers        = 1000
	DefaultMaxZipBytes          = 512 << 20
)

// Options tune a Client. The zero value is ready for production use.
type Options struct {
	// HTTPClient nil means NewHTTPClient: proxy from the environment, the
	// dial guard against link-local and metadata addresses, time-outs. A
	// client given here keeps its own transport (tests, simulators); only
	// its redirect policy is replaced (same host only).
	HTTPClient *http.Client
	// Proxy chooses the proxy of each request sent by the default client
	// (NewHTTPClient); nil means the environment (HTTPS_PROXY, NO_PROXY).
	// The daemon passes the panel's proxy setting here. Ignored when
	// HTTPClient is set.
	Proxy          func(*http.Request) (*url.URL, error)
	AllowedOrigins []string                                         // extra exact origins from --allow-base-url
	Logger         *slog.Logger                                     // nil: discard
	Now            func() time.Time                                 // nil: time.Now
	MaxRetries     int                                              // retries for 429/5xx/network errors per call; 0 means 2, negative means none
	MaxWait        time.Duration                                    // longest rate-limit wait (a longer one fails at once) and clamp for one back-off wait; 0 means 60 s
	Sleep          func(ctx context.Context, d time.Duration) error // nil: a real sleep ended by ctx; tests record waits
	// RateBudget is the account's rate-limit budget, to be shared by every
	// client of the account (see RateBudget); nil gives the client one of
	// its own.
	RateBudget *RateBudget

	CallTimeout  time.Duration // time allowed until response headers arrive; 0 means 2 min
	StallTimeout time.Duration // longest wait for more response body bytes; 0 means 60 s
	Limits       Limits
	SIEMFormat   string // API 1.0 get-siem-logs fileFormat: "json" (default) or "key_value"
	TempDir      string // where API 1.0 SIEM zips are spooled while read; "" means os.TempDir()
	UserAgent    string // "" means "mimecast-qradar"
}

// Client talks to one Mimecast account. It is safe for concurrent use.
type Client struct {
	version    string
	base       string // origin of the API, e.g. https://api.services.mimecast.com
	creds      Credentials
	secretKey  []byte // API 1.0 secret key, base64-decoded
	hc         *http.Client
	origins    []string
	log        *slog.Logger
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	maxRetries int
	maxWait    time.Duration
	callTO     time.Duration
	stallTO    time.Duration
	limits     Limits
	siemFormat string
	tempDir    string
	userAgent  string
	secrets    []string // plaintext secrets to scrub from server-provided text
	budget     *RateBudget

	fetchMu  sync.Mutex // serialises token fetches
	tokMu    sync.Mutex // guards token and tokenDue
	token    string
	tokenDue time.Time // when to fetch a new token (ahead of expiry)
}

// New validates the credentials and the base URL (against the allow-list)
// and returns a client. No request is sent.
func New(creds Credentials, opts Options) (*Client, error) {
	c := &Client{
		version:    creds.APIVersion,
		creds:      creds,
		hc:         opts.HTTPClient,
		log:        opts.Logger,
		now:        opts.Now,
		sleep:      opts.Sleep,
		maxRetries: opts.MaxRetries,
		maxWait:    opts.MaxWait,
		callTO:     opts.CallTimeout,
		stallTO:    opts.StallTimeout,
		limits:     opts.Limits,
		siemFormat: opts.SIEMFormat,
		tempDir:    opts.TempDir,
		userAgent:  opts.UserAgent,
		budget:     opts.RateBudget,
	}
	for _, o := range opts.AllowedOrigins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("allowed origins: %w", err)
		}
		c.origins = append(c.origins, n)
	}
	var problems []error
	switch creds.APIVersion {
	case model.APIVersion2:
		if creds.ClientID == "" {
			problems = append(problems, errors.New("client ID is required"))
		}
		if creds.ClientSecret == "" {
			problems = append(problems, errors.New("client secret is required"))
		}
		c.secrets = []string{creds.ClientSecret}
	case model.APIVersion1:
		for _, f := range []struct{ name, v string }{
			{"application ID", creds.AppID}, {"application key", creds.AppKey},
			{"access key", creds.AccessKey}, {"secret key", creds.SecretKey},
		} {
			if f.v == "" {
				problems = append(problems, errors.New(f.name+" is required"))
			}
		}
		if creds.SecretKey != "" {
			key, err := decodeSecretKey(creds.SecretKey)
			if err != nil {
				problems = append(problems, errors.New("secret key is not valid base64"))
			}
			c.secretKey = key
		}
		c.secrets = []string{creds.AppKey, creds.AccessKey, creds.SecretKey}
	default:
		problems = append(problems, fmt.Errorf("API version must be %q or %q", model.APIVersion1, model.APIVersion2))
	}
	origin, err := checkBaseURL(creds.BaseURL, c.origins)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("mimecast client: %w", errors.Join(problems...))
	}
	c.base = origin

	if c.hc == nil {
		c.hc = NewHTTPClient()
		if opts.Proxy != nil {
			c.hc.Transport.(*http.Transport).Proxy = opts.Proxy
		}
	} else {
		// Never follow redirects to other hosts, whatever client we were given.
		hc := *c.hc
		hc.CheckRedirect = sameHostRedirects
		c.hc = &hc
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.budget == nil {
		c.budget = NewRateBudget(time.Time{}, nil)
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = 2
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.maxWait <= 0 {
		c.maxWait = 60 * time.Second
	}
	if c.callTO <= 0 {
		c.callTO = 2 * time.Minute
	}
	if c.stallTO <= 0 {
		c.stallTO = 60 * time.Second
	}
	if c.limits.MaxRecordBytes <= 0 {
		c.limits.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.limits.MaxDecompressedBytes <= 0 {
		c.limits.MaxDecompressedBytes = DefaultMaxDecompressedBytes
	}
	if c.limits.MaxZipMembers <= 0 {
		c.limits.MaxZipMembers = DefaultMaxZipMembers
	}
	if c.limits.MaxZipBytes <= 0 {
		c.limits.MaxZipBytes = DefaultMaxZipBytes
	}
	switch strings.ToLower(c.siemFormat) {
	case "", "json":
		c.siemFormat = "json"
	case "key_value":
		c.siemFormat = "key_value"
	default:
		return nil, fmt.Errorf("mimecast client: SIEM format must be json or key_value")
	}
	if c.tempDir == "" {
		c.tempDir = os.TempDir()
	}
	if c.userAgent == "" {
		c.userAgent = "mimecast-qradar"
	}
	return c, nil
}

// APIVersion returns the API generation the client speaks.
func (c *Client) APIVersion() string { return c.version }

// BaseURL returns the origin requests are sent to.
func (c *Client) BaseURL() string { return c.base }

// decodeSecretKey decodes the API 1.0 secret key. Mimecast delivers it in
// standard base64; unpadded and URL-safe forms are tolerated.
func decodeSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}

// scrub removes the account's secrets and the current access token from
// text that came from the server or the network stack, shortens it and drops
// control characters, so it can go into an error or a log line.
func (c *Client) scrub(s string) string {
	c.tokMu.Lock()
	tok := c.token
	c.tokMu.Unlock()
	for _, secret := range append([]string{tok}, c.secrets...) {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorMessageLength {
		s = strings.ToValidUTF8(s[:maxErrorMessageLength], "") + "…"
	}
	return strings.TrimSpace(s)
}
