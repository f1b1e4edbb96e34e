package mimecastsim_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
)

// fakeClock is the simulator's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	acme = mimecastsim.Account{
		Name: "Acme", ClientID: "acme-client", ClientSecret: "acme-client-secret",
		AppID: "acme-app-id", AppKey: "acme-app-key", AccessKey: "acme-access-key",
		SecretKey: base64.StdEncoding.EncodeToString([]byte("acme secret key bytes")),
	}
	globex = mimecastsim.Account{
		Name: "Globex", ClientID: "globex-client", ClientSecret: "globex-client-secret",
		AppID: "globex-app-id", AppKey: "globex-app-key", AccessKey: "globex-access-key",
		SecretKey: base64.StdEncoding.EncodeToString([]byte("globex secret key bytes")),
	}
)

type env struct {
	sim   *mimecastsim.Sim
	srv   *httptest.Server
	clock *fakeClock
}

// newEnv starts a simulator with the accounts Acme and Globex on a fake
// clock (unless opts.Now is set).
func newEnv(t *testing.T, opts mimecastsim.Options) *env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	sim := mimecastsim.New(opts)
	sim.AddAccount(acme)
	sim.AddAccount(globex)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, srv: srv, clock: clock}
}

func (e *env) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// token fetches an API 2.0 access token; it fails the test unless 200.
func (e *env) token(t *testing.T, a mimecastsim.Account) string {
	t.Helper()
	resp := e.tokenResp(t, url.Values{"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"client_credentials"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: HTTP %d %s", resp.StatusCode, readAll(t, resp))
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	decode(t, resp, &body)
	return body.AccessToken
}

func (e *env) tokenResp(t *testing.T, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(t, req)
}

// bearer sends an API 2.0 request.
func (e *env) bearer(t *testing.T, tok, method, path string, body any) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, jsonBody(t, body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, req)
}

// sign computes an API 1.0 signature independently of the simulator, from
// reference §1.2.
func sign(secretKeyB64, date, reqID, path, appKey string) string {
	key, _ := base64.StdEncoding.DecodeString(secretKeyB64)
	m := hmac.New(sha1.New, key)
	m.Write([]byte(date + ":" + reqID + ":" + path + ":" + appKey))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

var reqCounter struct {
	sync.Mutex
	n int
}

func nextReqID() string {
	reqCounter.Lock()
	defer reqCounter.Unlock()
	reqCounter.n++
	return fmt.Sprintf("8578FCFC-A305-4D9A-99CB-%012d", reqCounter.n)
}

// signed sends an API 1.0 request signed with a's keys.
func (e *env) signed(t *testing.T, a mimecastsim.Account, path string, body any) *http.Response {
	t.Helper()
	req := e.signedReq(t, a, path, body)
	return e.do(t, req)
}

func (e *env) signedReq(t *testing.T, a mimecastsim.Account, path string, body any) *http.Request {
	t.Helper()
	date := e.clock.Now().UTC().Format(time.RFC1123)
	id := nextReqID()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, jsonBody(t, body))
	req.Header.Set("x-mc-date", date)
	req.Header.Set("x-mc-req-id", id)
	req.Header.Set("x-mc-app-id", a.AppID)
	req.Header.Set("Authorization", "MC "+a.AccessKey+":"+sign(a.SecretKey, date, id, path, a.AppKey))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func jsonBody(t *testing.T, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(raw)
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	b := readAll(t, resp)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("HTTP %d body is not the expected JSON: %v\n%s", resp.StatusCode, err, b)
	}
}

// envelope is the meta/data/fail body of the /api/ endpoints.
type envelope struct {
	Meta struct {
		Status      int  `json:"status"`
		IsLastToken bool `json:"isLastToken"`
		Pagination  struct {
			PageSize   int    `json:"pageSize"`
			TotalCount int    `json:"totalCount"`
			Next       string `json:"next"`
			Previous   string `json:"previous"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
	Fail []struct {
		Key    json.RawMessage `json:"key"`
		Errors []struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			Retryable bool   `json:"retryable"`
		} `json:"errors"`
	} `json:"fail"`
}

func (e envelope) failCode() string {
	if len(e.Fail) == 0 || len(e.Fail[0].Errors) == 0 {
		return ""
	}
	return e.Fail[0].Errors[0].Code
}

// v2Fail is the API 2.0 authorisation error body.
type v2Fail struct {
	Fail []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"fail"`
}

type batchPage struct {
	Value []struct {
		URL    string `json:"url"`
		Size   int    `json:"size"`
		Expiry string `json:"expiry"`
	} `json:"value"`
	NextPage   string `json:"@nextPage"`
	IsCaughtUp bool   `json:"isCaughtUp"`
}

// batch asks for one batch page.
func (e *env) batch(t *testing.T, tok string, q url.Values) (batchPage, *http.Response) {
	t.Helper()
	resp := e.bearer(t, tok, http.MethodGet, "/siem/v1/batch/events/cg?"+q.Encode(), nil)
	var p batchPage
	if resp.StatusCode == http.StatusOK {
		decode(t, resp, &p)
	}
	return p, resp
}

// batchAll pages until isCaughtUp and returns every file URL and the last
// @nextPage.
func (e *env) batchAll(t *testing.T, tok string, q url.Values) (urls []string, next string) {
	t.Helper()
	for range 10000 {
		p, resp := e.batch(t, tok, q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("batch: HTTP %d %s", resp.StatusCode, readAll(t, resp))
		}
		for _, v := range p.Value {
			urls = append(urls, v.URL)
		}
		next = p.NextPage
		if p.IsCaughtUp {
			return urls, next
		}
		q = url.Values{"nextPage": {p.NextPage}, "pageSize": q["pageSize"]}
	}
	t.Fatal("batch paging never caught up")
	return nil, ""
}

// download fetches a file URL the way peers do: a plain GET, no auth.
func (e *env) download(t *testing.T, fileURL string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fileURL, nil)
	return e.do(t, req)
}

// ndjsonLines gunzips a body and splits it into lines.
func ndjsonLines(t *testing.T, body []byte) [][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("file is not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines
}

// unzipAll returns the members of a zip.
func unzipAll(t *testing.T, body []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("reply is not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}
