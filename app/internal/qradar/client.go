// Package qradar sets up QRadar's side of the integration through the QRadar
// REST API (design §6.1): a REST client, a background reconciler that makes
// QRadar's log sources, event names, properties and reference set match the
// Mimecast accounts, the curated Mimecast searches run through Ariel, and the
// HTTP handlers of /api/qradar and /api/searches.
package qradar

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API versions. MaxTestedVersion caps the Version header: the app sends the
// newest version QRadar lists as not removed, but never one newer than it was
// tested with (QRadar 7.5.0 UP12/13). MinVersion is the oldest version whose
// endpoints and fields the app uses (QRadar 7.3.3 / 7.4.0).
const (
	MaxTestedVersion = "26.0"
	MinVersion       = "12.0"
)

// DefaultTimeout bounds one REST request when ClientOptions.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL is the console address, e.g. https://qradar.example.com; requests
	// go to <BaseURL>/api/....
	BaseURL string
	// Token returns the authorised-service token (SEC_ADMIN_TOKEN). It is
	// called on every request and never stored: QRadar may inject a new token
	// after the app is re-authorised.
	Token func() string
	// CABundle names a PEM file of extra trusted CAs (REQUESTS_CA_BUNDLE),
	// added to the system roots.
	CABundle string
	// Proxy is QRADAR_REST_PROXY; empty means no proxy at all. The
	// environment's https_proxy is the Auto Update proxy and must not be used
	// for the console.
	Proxy string
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxVersion caps the chosen API version; "" means MaxTestedVersion.
	MaxVersion string
	// PageSize is the Range page size for lists; 0 means 100.
	PageSize int
	Logger   *slog.Logger
}

// Client calls the QRadar REST API. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	token      func() string
	hc         *http.Client
	maxVersion apiVersion
	pageSize   int
	log        *slog.Logger

	mu      sync.Mutex
	version string
}

// NewClient builds a client with its own transport: no proxy unless
// opts.Proxy is set, and TLS trusting the system roots plus opts.CABundle.
func NewClient(opts ClientOptions) (*Client, error) {
	base, err := parseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	tr, err := newTransport(opts.CABundle, opts.Proxy)
	if err != nil {
		return nil, err
	}
	maxV := opts.MaxVersion
	if maxV == "" {
		maxV = MaxTestedVersion
	}
	mv, ok := parseVersion(maxV)
	if !ok {
		return nil, fmt.Errorf("qradar: invalid maximum API version %q", maxV)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pageSize := opts.PageSize
	if pageSize <= 0 {
		pageSize = 100
	}
	token := opts.Token
	if token == nil {
		token = func() string { return "" }
	}
	return &Client{
		base:       base,
		token:      token,
		hc:         &http.Client{Transport: tr, Timeout: timeout},
		maxVersion: mv,
		pageSize:   pageSize,
		log:        orDiscard(opts.Logger),
	}, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("qradar: invalid QRadar API URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("qradar: invalid QRadar API URL %q: want https://host[:port]", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/api")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func newTransport(caBundle, proxy string) (*http.Transport, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caBundle != "" {
		pem, err := os.ReadFile(caBundle)
		if err != nil {
			return nil, fmt.Errorf("qradar: reading the CA bundle named by REQUESTS_CA_BUNDLE: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("qradar: the CA bundle %s (REQUESTS_CA_BUNDLE) holds no PEM certificate", caBundle)
		}
	}
	tr := &http.Transport{
		// No ProxyFromEnvironment: https_proxy is QRadar's Auto Update proxy,
		// which must not carry console calls (qpylib uses QRADAR_REST_PROXY only).
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if proxy != "" {
		pu, err := url.Parse(proxy)
		if err != nil || pu.Host == "" {
			return nil, fmt.Errorf("qradar: invalid QRADAR_REST_PROXY %q", redactURL(proxy))
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	return tr, nil
}

// redactURL drops user info from a proxy URL before it is shown.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "…@" + s[i+1:]
		}
		return s
	}
	u.User = url.User("…")
	return u.String()
}

// Query holds query parameters. It is encoded with %20 for spaces, as QRadar
// expects (reference §5: encode once, spaces as %20).
type Query = url.Values

// FilterEq returns the QRadar filter `field="value"`.
func FilterEq(field, value string) string {
	return field + `="` + strings.ReplaceAll(strings.ReplaceAll(value, `\`, `\\`), `"`, `\"`) + `"`
}

// FilterEqInt returns the QRadar filter `field=value` for a number.
func FilterEqInt(field string, value int64) string {
	return field + "=" + strconv.FormatInt(value, 10)
}

func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func encodeQuery(q Query) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k))
			b.WriteByte('=')
			b.WriteString(escape(v))
		}
	}
	return b.String()
}

// PathEscape escapes one path segment (a reference set name, a search id).
func PathEscape(s string) string { return strings.ReplaceAll(url.PathEscape(s), "+", "%2B") }

type call struct {
	method    string
	path      string // below /api/, no leading slash
	query     Query
	body      any
	rawBody   []byte
	rangeHdr  string
	noVersion bool
}

// Get calls GET /api/<path> and decodes the JSON answer into out (if not nil).
func (c *Client) Get(ctx context.Context, path string, q Query, out any) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q}, out)
	return err
}

// Post calls POST /api/<path> with body encoded as JSON (nil: no body).
func (c *Client) Post(ctx context.Context, path string, q Query, body, out any) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: path, query: q, body: body}, out)
	return err
}

// Delete calls DELETE /api/<path>.
func (c *Client) Delete(ctx context.Context, path string, q Query) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: path, query: q}, nil)
	return err
}

// List pages through GET /api/<path> with Range headers and calls fn for
// every item of the JSON array answers.
func (c *Client) List(ctx context.Context, path string, q Query, fn func(json.RawMessage) error) error {
	start := 0
	for {
		var page []json.RawMessage
		hdr, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q,
			rangeHdr: fmt.Sprintf("items=%d-%d", start, start+c.pageSize-1)}, &page)
		if err != nil {
			return err
		}
		for _, item := range page {
			if err := fn(item); err != nil {
				return err
			}
		}
		last, total, ok := parseContentRange(hdr.Get("Content-Range"))
		// Without Content-Range the server answered the whole list; a page
		// that ends at the total, or makes no progress, is the last one.
		if !ok || len(page) == 0 || last+1 >= total || last < start {
			return nil
		}
		start = last + 1
	}
}

// listAll pages through a list and decodes every item as T.
func listAll[T any](ctx context.Context, c *Client, path string, q Query) ([]T, error) {
	var out []T
	err := c.List(ctx, path, q, func(raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("qradar: decoding an item of %s: %w", path, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// parseContentRange reads "items 0-49/120" (or "items */120").
func parseContentRange(s string) (last, total int, ok bool) {
	s, found := strings.CutPrefix(strings.TrimSpace(s), "items ")
	if !found {
		return 0, 0, false
	}
	span, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	total, err := strconv.Atoi(strings.TrimSpace(tot))
	if err != nil {
		return 0, 0, false
	}
	if span == "*" {
		return total, total, true
	}
	_, l, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	last, err = strconv.Atoi(strings.TrimSpace(l))
	if err != nil {
		return 0, 0, false
	}
	return last, total, true
}

func (c *Client) do(ctx context.Context, cl call, out any) (http.Header, error) {
	var version string
	if !cl.noVersion {
		v, err := c.EnsureVersion(ctx)
		if err != nil {
			return nil, err
		}
		version = v
	}
	// The token is read on every attempt and only ever put in the header.
	token := c.token()
	if token == "" {
		return nil, ErrNoToken
	}
	// cl.path is already escaped (PathEscape on its variable segments).
	u := *c.base
	u.RawPath = c.base.EscapedPath() + "/api/" + cl.path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("qradar: invalid path %q: %w", cl.path, err)
	}
	u.Path = p
	u.RawQuery = encodeQuery(cl.query)

	var body io.Reader
	payload := cl.rawBody
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("qradar: encoding the body of %s %s: %w", cl.method, cl.path, err)
		}
		payload = b
	}
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("qradar: building %s %s: %w", cl.method, cl.path, err)
	}
	req.Header.Set("SEC", token)
	req.Header.Set("Accept", "application/json")
	if version != "" {
		req.Header.Set("Version", version)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.rangeHdr != "" {
		req.Header.Set("Range", cl.rangeHdr)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, cl, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, c.transportError(ctx, cl, err)
	}
	if resp.Header.Get("Deprecated") != "" {
		c.log.Debug("qradar endpoint deprecated", "method", cl.method, "path", cl.path, "version", version)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, decodeAPIError(cl.method, cl.path, resp.StatusCode, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("qradar: decoding the answer of %s %s: %w", cl.method, cl.path, err)
		}
	}
	return resp.Header, nil
}

func (c *Client) transportError(ctx context.Context, cl call, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("qradar: %s %s: %w", cl.method, cl.path, ctx.Err())
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) {
		return fmt.Errorf("%w: %s %s: %v", ErrUntrusted, cl.method, cl.path, err)
	}
	return fmt.Errorf("%w: %s %s: %v", ErrUnreachable, cl.method, cl.path, err)
}

func decodeAPIError(method, path string, status int, data []byte) error {
	e := &APIError{Method: method, Path: path, Status: status}
	var body struct {
		HTTPResponse struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"http_response"`
		Code        json.Number `json:"code"`
		Message     string      `json:"message"`
		Description string      `json:"description"`
	}
	if err := json.Unmarshal(data, &body); err == nil {
		if n, err := body.Code.Int64(); err == nil {
			e.Code = int(n)
		}
		e.Message = body.Message
		e.Description = body.Description
		if e.Message == "" {
			e.Message = body.HTTPResponse.Message
		}
	}
	return e
}

// Version returns the API version chosen by the last discovery, or "".
func (c *Client) Version() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// EnsureVersion returns the chosen API version, discovering it first when
// needed.
func (c *Client) EnsureVersion(ctx context.Context) (string, error) {
	if v := c.Version(); v != "" {
		return v, nil
	}
	return c.DiscoverVersion(ctx)
}

// DiscoverVersion calls GET /api/help/versions (without a Version header)
// and chooses the newest version QRadar lists as not removed, capped at the
// client's maximum and at least MinVersion.
func (c *Client) DiscoverVersion(ctx context.Context) (string, error) {
	var list []struct {
		Version json.RawMessage `json:"version"`
		Removed bool            `json:"removed"`
	}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "help/versions", noVersion: true}, &list); err != nil {
		return "", fmt.Errorf("listing QRadar API versions: %w", err)
	}
	minV, _ := parseVersion(MinVersion)
	var best apiVersion
	var bestText string
	var offered []string
	for _, item := range list {
		text := strings.Trim(string(item.Version), `"`)
		v, ok := parseVersion(text)
		if !ok {
			continue
		}
		offered = append(offered, text)
		if item.Removed || v.less(minV) || c.maxVersion.less(v) {
			continue
		}
		if bestText == "" || best.less(v) {
			best, bestText = v, v.String()
		}
	}
	if bestText == "" {
		return "", fmt.Errorf("qradar: the console offers no supported API version (offered %s; the app needs one between %s and %s)",
			strings.Join(offered, ", "), MinVersion, c.maxVersion)
	}
	c.mu.Lock()
	c.version = bestText
	c.mu.Unlock()
	return bestText, nil
}

type apiVersion struct{ major, minor int }

func parseVersion(s string) (apiVersion, bool) {
	maj, min, _ := strings.Cut(strings.TrimSpace(s), ".")
	a, err := strconv.Atoi(maj)
	if err != nil || a < 0 {
		return apiVersion{}, false
	}
	b := 0
	if min != "" {
		if b, err = strconv.Atoi(min); err != nil || b < 0 {
			return apiVersion{}, false
		}
	}
	return apiVersion{a, b}, true
}

func (v apiVersion) less(w apiVersion) bool {
	return v.major < w.major || (v.major == w.major && v.minor < w.minor)
}

func (v apiVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
