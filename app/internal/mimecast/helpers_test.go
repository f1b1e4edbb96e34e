package mimecast

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Test credentials. The secrets are distinctive so that leak checks can
// search for them.
const (
	testClientID     = "test-client-id"
	testClientSecret = "cs-SECRET-5f2b9c"
	testAppID        = "test-app-id"
	testAppKey       = "ak-SECRET-77d1e0"
	testAccessKey    = "acc-SECRET-a9c3"
	testSecretKey    = "U2VjcmV0S2V5" // base64 of "SecretKey", as in reference §1.3
)

// waits records the waits the client asks for instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func v2Creds(base string) Credentials {
	return Credentials{APIVersion: model.APIVersion2, BaseURL: base, ClientID: testClientID, ClientSecret: testClientSecret}
}

func v1Creds(base string) Credentials {
	return Credentials{APIVersion: model.APIVersion1, BaseURL: base, AppID: testAppID, AppKey: testAppKey,
		AccessKey: testAccessKey, SecretKey: testSecretKey}
}

// testEnv is a client wired to an httptest server.
type testEnv struct {
	srv    *httptest.Server
	mux    *http.ServeMux
	client *Client
	waits  *waits
	clock  *clock
}

// newEnv starts a server and builds a client for it; mod may adjust the
// options before the client is created.
func newEnv(t *testing.T, version string, mod func(*Options)) *testEnv {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &testEnv{srv: srv, mux: mux, waits: &waits{}, clock: &clock{t: time.Date(2024, 11, 18, 10, 0, 0, 0, time.UTC)}}
	opts := Options{
		HTTPClient:     srv.Client(),
		AllowedOrigins: []string{srv.URL},
		Now:            e.clock.now,
		Sleep:          e.waits.sleep,
		TempDir:        t.TempDir(),
	}
	if mod != nil {
		mod(&opts)
	}
	creds := v2Creds(srv.URL)
	if version == model.APIVersion1 {
		creds = v1Creds(srv.URL)
	}
	c, err := New(creds, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.client = c
	return e
}

// serveToken installs an /oauth/token handler issuing tok-1, tok-2, ... with
// the given lifetime, and returns a counter of issued tokens.
func (e *testEnv) serveToken(t *testing.T, expiresIn int) *counter {
	n := &counter{}
	e.mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request: %v", err)
		}
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != testClientID ||
			r.Form.Get("client_secret") != testClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(readFile(t, "testdata/responses/v2-oauth-token-401.json"))
			return
		}
		k := n.inc()
		writeJSON(w, map[string]any{"access_token": "tok-" + strconv.Itoa(k), "token_type": "Bearer", "expires_in": expiresIn, "scope": ""})
	})
	return n
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleLines returns the non-empty lines of a sample file.
func sampleLines(t testing.TB, name string) [][]byte {
	t.Helper()
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join("testdata/samples", name))))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			lines = append(lines, append([]byte(nil), l...))
		}
	}
	return lines
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipBytes builds a zip with the given members, in order.
func zipBytes(t testing.TB, members ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.Create(m[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(m[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// collected is a record copied out of the callback.
type collected struct {
	Stream  model.Stream
	LogType string
	Raw     string
	Time    time.Time
	ID      string
}

// collector returns a callback that copies every record, and the slice.
func collector() (func(*model.Record) error, *[]collected) {
	var out []collected
	return func(r *model.Record) error {
		out = append(out, collected{Stream: r.Stream, LogType: r.LogType, Raw: string(r.Raw), Time: r.Time, ID: r.ID})
		return nil
	}, &out
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t testing.TB, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("not JSON: %v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
