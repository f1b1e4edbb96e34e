package mimecast

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// tokenRefreshMargin is how long before expiry a token is replaced. Peers
// use 60 s to 5 min; a token whose whole life is short is replaced after
// three quarters of it.
const tokenRefreshMargin = 2 * time.Minute

// accessToken returns a cached API 2.0 token, fetching a new one when none
// is cached or the cached one is close to expiry. Concurrent callers share
// one fetch.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if tok, ok := c.cachedToken(); ok {
		return tok, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	if tok, ok := c.cachedToken(); ok {
		return tok, nil
	}
	tok, life, err := c.fetchToken(ctx)
	if err != nil {
		return "", fmt.Errorf("getting OAuth token: %w", err)
	}
	margin := min(tokenRefreshMargin, life/4)
	c.tokMu.Lock()
	c.token, c.tokenDue = tok, c.now().Add(life-margin)
	c.tokMu.Unlock()
	return tok, nil
}

// cachedToken returns the cached token if it is not due for renewal.
func (c *Client) cachedToken() (string, bool) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	return c.token, c.token != "" && c.now().Before(c.tokenDue)
}

// dropToken forgets used if it is still the cached token, so the next call
// fetches a fresh one; a token another goroutine already replaced is kept.
func (c *Client) dropToken(used string) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token == used {
		c.token = ""
	}
}

// fetchToken runs the OAuth2 client-credentials grant against /oauth/token
// and returns the token and its lifetime.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.creds.ClientID},
		"client_secret": {c.creds.ClientSecret},
	}
	resp, err := c.do(ctx, &request{
		method:      http.MethodPost,
		url:         c.base + "/oauth/token",
		body:        []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
		accept:      "application/json",
		auth:        authToken,
	})
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", 0, fmt.Errorf("reading token response: %w", classifyJSONErr(err))
	}
	if body.AccessToken == "" {
		return "", 0, badResponse("token response has no access_token", nil)
	}
	life := 30 * time.Minute
	if secs, err := strconv.ParseFloat(string(trimQuotes(body.ExpiresIn)), 64); err == nil && secs > 0 && secs < 1e7 {
		life = time.Duration(secs * float64(time.Second))
	}
	return body.AccessToken, life, nil
}

// trimQuotes strips one pair of surrounding double quotes.
func trimQuotes(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

// v1DateLayout renders x-mc-date as peers send it: RFC 1123 with the
// literal zone "UTC" (Go prints UTC for a UTC time).
const v1DateLayout = time.RFC1123

// signV1 adds the API 1.0 headers to h for a request to path (the URI path,
// starting with /api/): x-mc-date, x-mc-req-id, x-mc-app-id and
// Authorization "MC accessKey:signature".
func (c *Client) signV1(h http.Header, path string) {
	date := c.now().UTC().Format(v1DateLayout)
	reqID := newRequestID()
	h.Set("x-mc-date", date)
	h.Set("x-mc-req-id", reqID)
	h.Set("x-mc-app-id", c.creds.AppID)
	h.Set("Authorization", "MC "+c.creds.AccessKey+":"+signatureV1(c.secretKey, date, reqID, path, c.creds.AppKey))
}

// signatureV1 computes the API 1.0 signature (reference §1.2): base64 of
// HMAC-SHA1, keyed with the decoded secret key, over
// "date:reqID:path:appKey".
func signatureV1(secretKey []byte, date, reqID, path, appKey string) string {
	mac := hmac.New(sha1.New, secretKey)
	io.WriteString(mac, date+":"+reqID+":"+path+":"+appKey)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignV1 computes the API 1.0 request signature from the secret key as
// Mimecast delivers it (base64), for simulators that verify signatures.
func SignV1(secretKeyBase64, date, reqID, path, appKey string) (string, error) {
	key, err := decodeSecretKey(secretKeyBase64)
	if err != nil {
		return "", fmt.Errorf("decoding secret key: %w", err)
	}
	return signatureV1(key, date, reqID, path, appKey), nil
}

// newRequestID returns a random (version 4) UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
