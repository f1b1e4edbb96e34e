package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
)

// fakeCollector behaves like the real collector as far as the panel can
// tell: runs write stream state and run history to the store, a running
// account refuses a second run, and Status is built from the store.
type fakeCollector struct {
	store *store.Store

	mu         sync.Mutex
	saved      []savedCall
	deleted    []int64
	tested     []model.Account
	resets     []string
	running    map[int64]bool
	collectErr error
	// gate, when set, holds each run in the running state until the test
	// sends on it (or closes it).
	gate     chan struct{}
	events   int64
	testFunc func(model.Account) model.TestResult
	wg       sync.WaitGroup
	// backfills are the pending re-collections, reported in Status;
	// backfillCalls and cancels record the requests; backfillErr, when
	// set, is Backfill's answer.
	backfills     map[backfillKey]model.Backfill
	backfillCalls []backfillCall
	cancels       []backfillKey
	backfillErr   error
}

type backfillKey struct {
	id     int64
	stream model.Stream
}

type backfillCall struct {
	id       int64
	stream   model.Stream
	from, to time.Time
}

type savedCall struct {
	id      int64
	created bool
}

func newFakeCollector(st *store.Store) *fakeCollector {
	return &fakeCollector{store: st, running: map[int64]bool{}, events: 1234, backfills: map[backfillKey]model.Backfill{}}
}

func (f *fakeCollector) AccountSaved(ctx context.Context, id int64, created bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, savedCall{id, created})
}

func (f *fakeCollector) AccountDeleted(ctx context.Context, id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, id)
}

func (f *fakeCollector) CollectNow(ctx context.Context, id int64) error {
	a, err := f.store.Account(ctx, id)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.collectErr != nil:
		return f.collectErr
	case !a.Enabled:
		return model.ErrAccountDisabled
	case f.running[id]:
		return model.ErrRunInProgress
	}
	f.running[id] = true
	gate, events := f.gate, f.events
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if gate != nil {
			<-gate
		}
		ctx := context.Background()
		for i, s := range a.Streams {
			now := time.Now().UTC()
			n := events + int64(i)
			f.store.AddRun(ctx, model.Run{AccountID: id, Stream: s, Started: now.Add(-2 * time.Second), Ended: now, Events: n, Outcome: "ok"})
			prev, _ := f.store.StreamState(ctx, id, s)
			start := now.Add(-2 * time.Second)
			f.store.SaveStreamState(ctx, id, model.StreamStatus{Stream: s, State: model.StateIdle,
				LastRunStarted: &start, LastRunEnded: &now, LastSuccess: &now,
				EventsLastRun: n, EventsTotal: prev.EventsTotal + n})
		}
		f.mu.Lock()
		delete(f.running, id)
		f.mu.Unlock()
	}()
	return nil
}

func (f *fakeCollector) Status(ctx context.Context) (model.Status, error) {
	accounts, err := f.store.ListAccounts(ctx)
	if err != nil {
		return model.Status{}, err
	}
	states, err := f.store.StreamStates(ctx)
	if err != nil {
		return model.Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := model.Status{Accounts: []model.AccountStatus{}}
	for _, a := range accounts {
		as := model.AccountStatus{ID: a.ID, Name: a.Name, Enabled: a.Enabled}
		for _, s := range a.Streams {
			ss := model.StreamStatus{Stream: s, State: model.StateIdle}
			for _, stored := range states[a.ID] {
				if stored.Stream == s {
					ss = stored
				}
			}
			switch {
			case !a.Enabled:
				ss.State = model.StateDisabled
			case f.running[a.ID]:
				ss.State = model.StateRunning
			}
			if a.Enabled {
				next := time.Now().Add(15 * time.Minute).Truncate(time.Minute).In(time.FixedZone("X", 3600))
				ss.NextRun = &next
			}
			if b, ok := f.backfills[backfillKey{a.ID, s}]; ok {
				ss.Backfill = &b
			}
			as.Streams = append(as.Streams, ss)
		}
		out.Accounts = append(out.Accounts, as)
	}
	return out, nil
}

func (f *fakeCollector) ResetCheckpoint(ctx context.Context, id int64, stream model.Stream) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, string(stream))
	return f.store.DeleteCheckpoint(ctx, id, stream)
}

// Backfill records the request and, like the collector, keeps it pending
// (reported in Status) until it is cancelled; a second request for the
// stream is model.ErrBackfillPending.
func (f *fakeCollector) Backfill(ctx context.Context, id int64, stream model.Stream, from, to time.Time) error {
	if _, err := f.store.Account(ctx, id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backfillCalls = append(f.backfillCalls, backfillCall{id, stream, from, to})
	k := backfillKey{id, stream}
	switch _, pending := f.backfills[k]; {
	case f.backfillErr != nil:
		return f.backfillErr
	case pending:
		return model.ErrBackfillPending
	}
	f.backfills[k] = model.Backfill{From: from.UTC(), To: to.UTC(), Requested: time.Now().UTC()}
	return nil
}

func (f *fakeCollector) CancelBackfill(ctx context.Context, id int64, stream model.Stream) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := backfillKey{id, stream}
	f.cancels = append(f.cancels, k)
	if _, ok := f.backfills[k]; !ok {
		return store.ErrNotFound
	}
	delete(f.backfills, k)
	return nil
}

// setBackfillProgress reports progress of the pending re-collection, as
// the collector's runs would.
func (f *fakeCollector) setBackfillProgress(id int64, stream model.Stream, delivered, skipped int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := backfillKey{id, stream}
	b := f.backfills[k]
	b.Delivered, b.Skipped = delivered, skipped
	f.backfills[k] = b
}

func (f *fakeCollector) backfillRequests() []backfillCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]backfillCall(nil), f.backfillCalls...)
}

func (f *fakeCollector) cancelRequests() []backfillKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]backfillKey(nil), f.cancels...)
}

func (f *fakeCollector) Test(ctx context.Context, a model.Account) model.TestResult {
	f.mu.Lock()
	f.tested = append(f.tested, a)
	fn := f.testFunc
	f.mu.Unlock()
	if fn != nil {
		return fn(a)
	}
	res := model.TestResult{OK: true}
	for _, s := range a.Streams {
		r := model.StreamTestResult{Stream: s, OK: true}
		if s == model.StreamDLP {
			r = model.StreamTestResult{Stream: s, Error: "not permitted: the API application's role cannot read DLP logs (HTTP 403)"}
			res.OK = false
		}
		res.Streams = append(res.Streams, r)
	}
	if !res.OK {
		res.Error = "some streams cannot be read"
	}
	return res
}

func (f *fakeCollector) savedCalls() []savedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]savedCall(nil), f.saved...)
}

func (f *fakeCollector) deletedCalls() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.deleted...)
}

func (f *fakeCollector) testedAccounts() []model.Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]model.Account(nil), f.tested...)
}

// fakeQRadar registers one route of its own and counts reconcile requests.
type fakeQRadar struct {
	mu         sync.Mutex
	reconciles int
	setups     int
}

func (q *fakeQRadar) Routes(r chi.Router) {
	r.Get("/api/qradar", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"configured": true, "authorised": true, "state": "ok",
			"message": "QRadar is set up", "objects": []any{}})
	})
	r.Post("/api/qradar/setup", func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		q.setups++
		q.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
}

func (q *fakeQRadar) RequestReconcile() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reconciles++
}

// testEnv is a server on a real SQLite store in a temporary directory.
type testEnv struct {
	t         *testing.T
	dir       string
	store     *store.Store
	collector *fakeCollector
	server    *Server
	http      *httptest.Server
	logs      *syncBuffer
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// webDir is the repository root, which holds templates/ and static/.
func webDir(t testing.TB) string {
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "templates", "index.html")); err != nil {
		t.Fatalf("templates not found under %s: %v", dir, err)
	}
	return dir
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	box, err := secrets.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dir, box)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newTestEnv(t *testing.T, configure func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t, dir)
	t.Cleanup(func() { st.Close() })
	fc := newFakeCollector(st)
	t.Cleanup(fc.wg.Wait) // runs before the store closes
	logs := &syncBuffer{}
	opts := Options{
		Store:               st,
		Collector:           fc,
		WebDir:              webDir(t),
		Version:             "1.2.3",
		DefaultSyslogTarget: "tcp://192.0.2.10:514",
		Logger:              slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&opts)
	}
	srv, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testEnv{t: t, dir: dir, store: st, collector: fc, server: srv, http: hs, logs: logs}
}

// apiClient is a browser-like client: it keeps the session cookie, sends
// the CSRF token on unsafe requests and remembers every body it received so
// tests can check that no secret ever left the server.
type apiClient struct {
	t      *testing.T
	base   string
	hc     *http.Client
	token  string
	bodies []string
}

func (e *testEnv) client() *apiClient {
	jar, _ := cookiejar.New(nil)
	c := &apiClient{t: e.t, base: e.http.URL, hc: &http.Client{Jar: jar}}
	status, body := c.do("GET", "/api/csrf", nil)
	if status != http.StatusOK {
		e.t.Fatalf("GET /api/csrf: %d %s", status, body)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		e.t.Fatalf("GET /api/csrf body %s: %v", body, err)
	}
	c.token = tok.Token
	return c
}

// in returns a copy of c that reports to t (for subtests).
func (c *apiClient) in(t *testing.T) *apiClient {
	cc := *c
	cc.t = t
	return &cc
}

// do sends body (a string is sent as is, anything else as JSON).
func (c *apiClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	resp := c.send(method, path, body, nil)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.bodies = append(c.bodies, string(b))
	return resp.StatusCode, b
}

func (c *apiClient) send(method, path string, body any, header http.Header) *http.Response {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != "GET" && c.token != "" {
		req.Header.Set("X-CSRF-Token", c.token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// json sends a request expecting wantStatus and decodes the answer into out
// (when out is not nil).
func (c *apiClient) json(method, path string, body any, wantStatus int, out any) {
	c.t.Helper()
	status, b := c.do(method, path, body)
	if status != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

// Distinctive secret values, searched for in every response and log line.
const (
	secretClient = "cs-SECRET-7f3a9c1e"
	secretApp    = "ak-SECRET-0d4b2e88"
	secretAccess = "ac-SECRET-5c6d7e8f"
	secretKey    = "c2stU0VDUkVULTlhOGI3YzZk" // base64, as Mimecast issues it
)

var allSecrets = []string{secretClient, secretApp, secretAccess, secretKey}

func account2(name string) map[string]any {
	return map[string]any{
		"name": name, "api_version": "2.0", "base_url": "https://api.services.mimecast.com",
		"client_id": "client-" + strings.ToLower(strings.ReplaceAll(name, " ", "-")), "client_secret": secretClient,
		"streams": []string{"siem", "audit"},
	}
}

func account1(name string) map[string]any {
	return map[string]any{
		"name": name, "api_version": "1.0", "base_url": "https://eu-api.mimecast.com",
		"app_id": "app-id-1", "app_key": secretApp, "access_key": secretAccess, "secret_key": secretKey,
		"streams": []string{"siem", "ttp_url"}, "schedule": "*/5 * * * *", "initial_lookback_hours": 48,
	}
}
