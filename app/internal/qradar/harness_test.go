package qradar

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/qradarsim"
)

// memStore is an in-memory Store.
type memStore struct {
	mu       sync.Mutex
	accounts []model.Account
	objs     map[string]model.QRadarObject
}

func newMemStore(accounts ...model.Account) *memStore {
	return &memStore{accounts: accounts, objs: map[string]model.QRadarObject{}}
}

func (s *memStore) ListAccounts(context.Context) ([]model.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accounts), nil
}

func (s *memStore) QRadarObjects(context.Context) ([]model.QRadarObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]model.QRadarObject, 0, len(s.objs))
	for _, o := range s.objs {
		out = append(out, o)
	}
	return out, nil
}

func (s *memStore) SaveQRadarObject(_ context.Context, o model.QRadarObject) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[o.Key] = o
	return nil
}

func (s *memStore) DeleteQRadarObject(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
	return nil
}

func (s *memStore) setAccounts(accounts ...model.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts = accounts
}

func (s *memStore) object(key string) (model.QRadarObject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	return o, ok
}

func account(id int64, name, ident string) model.Account {
	return model.Account{ID: id, Name: name, Enabled: true, LogSourceIdentifier: ident}
}

const testToken = "sec-token-for-tests"

// harness runs the QRadar simulator over HTTPS with a private CA, handed to
// the manager through CABundle as REQUESTS_CA_BUNDLE would be.
type harness struct {
	t      *testing.T
	sim    *qradarsim.Server
	srv    *httptest.Server
	bundle string
	store  *memStore
	events string

	mu    sync.Mutex
	token string
	// wrap, when set, sees every request before the simulator.
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func newHarness(t *testing.T, simOpts qradarsim.Options) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, store: newMemStore(), token: testToken, events: filepath.Join(dir, "events.leef")}
	if simOpts.Token == "" {
		simOpts.Token = testToken
	}
	if simOpts.EventsFile == "" {
		simOpts.EventsFile = h.events
	}
	h.sim = qradarsim.New(simOpts)
	ca, err := qradarsim.NewCA("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	h.bundle = filepath.Join(dir, "ca-bundle.pem")
	if err := os.WriteFile(h.bundle, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		wrap := h.wrap
		h.mu.Unlock()
		if wrap != nil {
			wrap(w, r, h.sim)
			return
		}
		h.sim.ServeHTTP(w, r)
	}))
	h.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server}}
	h.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // untrusted-client handshakes are expected
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) setToken(tok string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.token = tok
}

func (h *harness) getToken() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.token
}

func (h *harness) setWrap(f func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wrap = f
}

func (h *harness) options() Options {
	return Options{
		BaseURL:       h.srv.URL,
		Token:         h.getToken,
		CABundle:      h.bundle,
		Store:         h.store,
		Now:           time.Now,
		HTTPTimeout:   10 * time.Second,
		SearchTimeout: 10 * time.Second,
	}
}

// manager returns a new manager on the harness's store: a "restart" of the
// app.
func (h *harness) manager() *Manager {
	h.t.Helper()
	m, err := NewManager(h.options())
	if err != nil {
		h.t.Fatal(err)
	}
	m.pollWait = time.Millisecond
	return m
}

func (h *harness) reconcile(m *Manager) {
	h.t.Helper()
	if err := m.Reconcile(context.Background()); err != nil {
		h.t.Fatalf("Reconcile: %v", err)
	}
}

func (h *harness) state(m *Manager) State {
	h.t.Helper()
	s, err := m.State(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// creates returns the recorded POSTs that create objects (to a collection
// path, not to /{id}).
func creates(reqs []qradarsim.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != http.MethodPost {
			continue
		}
		last := r.Path[strings.LastIndex(r.Path, "/")+1:]
		if strings.ContainsAny(last, "0123456789") || strings.Contains(r.Path, "bulk_load") || strings.Contains(r.Path, "ariel") || strings.Contains(r.Path, "deploy") {
			continue
		}
		out = append(out, r.Path)
	}
	return out
}

func totalLEEFKeys() int {
	n := 0
	for _, p := range Properties() {
		n += len(p.LEEFKeys)
	}
	return n
}
