package collector

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslog"
	"mimecast-qradar/app/internal/syslogrecv"
)

// testEnv is a real collector's world: the Mimecast simulator behind an
// httptest server, a TCP syslog receiver and a SQLite store in a temp dir.
type testEnv struct {
	t     testing.TB
	sim   *mimecastsim.Sim
	srv   *httptest.Server
	recv  *syslogrecv.Receiver
	store *store.Store
	dir   string
}

// The simulator's clock runs a few minutes behind the collector's, so every
// record generated "now" is older than the collector's window settle delay.
const simLag = 5 * time.Minute

func newTestEnv(t testing.TB, simOpts mimecastsim.Options) *testEnv {
	t.Helper()
	if simOpts.Seed == 0 {
		simOpts.Seed = 11
	}
	if simOpts.RecordsPerFile == 0 {
		simOpts.RecordsPerFile = 4
	}
	if simOpts.Spread == 0 {
		// Records become visible close to their own time, as with Mimecast:
		// a time-window stream cannot see records generated later with
		// times older than its last window's overlap.
		simOpts.Spread = 2 * time.Minute
	}
	if simOpts.MaxPageSize == 0 {
		simOpts.MaxPageSize = 3
	}
	if simOpts.ThreatIntelPageSize == 0 {
		simOpts.ThreatIntelPageSize = 3
	}
	if simOpts.Now == nil {
		simOpts.Now = func() time.Time { return time.Now().Add(-simLag) }
	}
	sim := mimecastsim.New(simOpts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	recv, err := syslogrecv.Listen("127.0.0.1:0", syslogrecv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	dir := t.TempDir()
	box, err := secrets.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dir, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testEnv{t: t, sim: sim, srv: srv, recv: recv, store: st, dir: dir}
}

// options are the collector options of the environment: the simulator as
// allowed origin, the receiver as target, short waits.
func (e *testEnv) options() Options {
	return Options{
		Store:          e.store,
		SyslogTarget:   func(context.Context) (string, error) { return e.recv.Target(), nil },
		SyslogOptions:  syslog.Options{Timeout: 2 * time.Second, ReconnectTimeout: 500 * time.Millisecond},
		AppVersion:     "test",
		AllowedOrigins: []string{e.srv.URL},
		HTTPClient:     e.srv.Client(),
		Logger:         slog.New(slog.DiscardHandler),
		ClientOptions: func(o *mimecast.Options) {
			o.MaxWait = 20 * time.Millisecond
		},
	}
}

// collector returns a new collector on the environment (a restart of the
// app when called again), stopped at the end of the test.
func (e *testEnv) collector(mod func(*Options)) *Collector {
	e.t.Helper()
	opts := e.options()
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	c.batchPageSize = 3
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			e.t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func simAccount(name string) mimecastsim.Account {
	return mimecastsim.Account{
		Name:     name,
		ClientID: name + "-client", ClientSecret: name + "-client-secret",
		AppID: name + "-app", AppKey: name + "-app-key", AccessKey: name + "-access-key",
		SecretKey: base64.StdEncoding.EncodeToString([]byte(name + "-secret-key")),
	}
}

// addAccount creates the account in the simulator and in the store.
func (e *testEnv) addAccount(name, apiVersion string, streams ...model.Stream) model.Account {
	e.t.Helper()
	sa := simAccount(name)
	e.sim.AddAccount(sa)
	if len(streams) == 0 {
		streams = model.CoreStreams
	}
	a := model.Account{
		Name: name, Enabled: true, APIVersion: apiVersion, BaseURL: e.srv.URL,
		Streams: streams, Schedule: DefaultSchedule, LogSourceIdentifier: "mc-" + name, InitialLookbackHours: 24,
	}
	if apiVersion == model.APIVersion2 {
		a.ClientID, a.ClientSecret = sa.ClientID, sa.ClientSecret
	} else {
		a.AppID, a.AppKey, a.AccessKey, a.SecretKey = sa.AppID, sa.AppKey, sa.AccessKey, sa.SecretKey
	}
	if err := e.store.CreateAccount(context.Background(), &a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// generate adds n records of each of the account's streams to the simulator.
func (e *testEnv) generate(a model.Account, n int) {
	for _, s := range a.Streams {
		e.sim.Generate(a.Name, s, n)
	}
}

// settle waits until every sender closed its connection and the receiver
// read it to the end, after waiting for at least min messages.
func (e *testEnv) settle(min int) []syslogrecv.Message {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.recv.WaitFor(ctx, min); err != nil {
		e.t.Fatal(err)
	}
	// A connection the collector already closed may still wait in the
	// listen backlog, unseen by WaitIdle: idle must hold for a moment with
	// no new message.
	for {
		if err := e.recv.WaitIdle(ctx); err != nil {
			e.t.Fatal(err)
		}
		n := e.recv.Count()
		time.Sleep(25 * time.Millisecond)
		if e.recv.Count() == n {
			if err := e.recv.WaitIdle(ctx); err != nil {
				e.t.Fatal(err)
			}
			if e.recv.Count() == n {
				break
			}
		}
	}
	if errs := e.recv.Errors(); len(errs) > 0 {
		e.t.Fatalf("receiver errors: %v", errs)
	}
	return e.recv.Messages()
}

// eventIdentity returns the simulator's identity of a record event of
// stream s, read from its LEEF attributes.
func eventIdentity(s model.Stream, m syslogrecv.Message) string {
	switch s {
	case model.StreamArchiveSearch:
		// No id: the simulator's is createTime|emailAddr|searchText, shared
		// by identical twins.
		if m.Attr("createTime") == "" {
			return ""
		}
		return m.Attr("createTime") + "|" + m.Attr("emailAddr") + "|" + m.Attr("searchText")
	case model.StreamAwarenessTraining:
		email := m.Attr("email")
		if email == "" {
			email = m.Attr("emailAddress")
		}
		if email == "" {
			return ""
		}
		lt := m.Attr("mcLogType")
		if lt == model.LogAwarenessPhishing {
			return lt + ":" + email + "|" + m.Attr("campaignId")
		}
		return lt + ":" + email
	}
	// The simulator's identity fields keep their names as LEEF attributes.
	for _, k := range mimecastsim.IdentityFields(s) {
		if id := m.Attr(k); id != "" {
			return id
		}
	}
	return ""
}

// delivery counts the record events received per stream and identity, and
// collects the health events, for one account (by log source identifier).
type received struct {
	ids    map[model.Stream]map[string]int
	health []syslogrecv.Message
	noID   int
}

func receivedFor(t testing.TB, msgs []syslogrecv.Message, a model.Account) received {
	t.Helper()
	r := received{ids: map[model.Stream]map[string]int{}}
	for _, m := range msgs {
		if m.Hostname != a.LogSourceIdentifier {
			continue
		}
		if m.LEEF == nil {
			t.Fatalf("message without LEEF: %q", m.Raw)
		}
		if m.LEEF.EventID == model.LogCollectorHealth {
			r.health = append(r.health, m)
			continue
		}
		if got := m.Attr("mcAccount"); got != a.Name {
			t.Errorf("mcAccount = %q, want %q", got, a.Name)
		}
		s := model.Stream(m.Attr("mcStream"))
		id := eventIdentity(s, m)
		if id == "" {
			r.noID++
			continue
		}
		if r.ids[s] == nil {
			r.ids[s] = map[string]int{}
		}
		r.ids[s][id]++
	}
	return r
}

// checkDelivery compares what was received for a with the simulator's
// ground truth: every record at least once (identical twins, which share
// an identity, as often as they occur), nothing unknown, and at most maxDup
// duplicate events per stream. It returns the duplicates per stream.
func (e *testEnv) checkDelivery(msgs []syslogrecv.Message, a model.Account, maxDup int) map[model.Stream]int {
	e.t.Helper()
	got := receivedFor(e.t, msgs, a)
	if got.noID > 0 {
		e.t.Errorf("%d events without an identity", got.noID)
	}
	dups := map[model.Stream]int{}
	for _, s := range a.Streams {
		records := e.sim.Records(a.Name, s)
		if len(records) == 0 {
			e.t.Fatalf("no ground truth for %s", s)
		}
		want := map[string]int{}
		for _, r := range records {
			want[r.ID]++
		}
		ids := got.ids[s]
		missing := 0
		for id, n := range want {
			switch d := ids[id]; {
			case d < n:
				missing += n - d
			case d > n:
				dups[s] += d - n
			}
		}
		for id := range ids {
			if _, ok := want[id]; !ok {
				e.t.Errorf("%s: delivered unknown record %q", s, id)
			}
		}
		if missing > 0 {
			e.t.Errorf("%s: %d of %d records never delivered", s, missing, len(records))
		}
		if dups[s] > maxDup {
			e.t.Errorf("%s: %d duplicate events, want at most %d", s, dups[s], maxDup)
		}
	}
	return dups
}

// total returns the number of records the simulator holds for a.
func (e *testEnv) total(a model.Account) int {
	n := 0
	for _, s := range a.Streams {
		n += len(e.sim.Records(a.Name, s))
	}
	return n
}

// requests returns the simulator's requests, optionally only those whose
// path starts with prefix.
func (e *testEnv) requests(prefix string) []mimecastsim.RequestLog {
	var out []mimecastsim.RequestLog
	for _, r := range e.sim.Requests() {
		if len(r.Path) >= len(prefix) && r.Path[:len(prefix)] == prefix {
			out = append(out, r)
		}
	}
	return out
}

func (e *testEnv) state(a model.Account, s model.Stream) model.StreamStatus {
	e.t.Helper()
	st, err := e.store.StreamState(context.Background(), a.ID, s)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *testEnv) checkpoint(a model.Account, s model.Stream) string {
	e.t.Helper()
	data, err := e.store.Checkpoint(context.Background(), a.ID, s)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

// failNth returns a BeforeCommit hook that fails the n-th commit (1-based)
// of the stream, simulating a crash between flush and commit.
func failNth(stream model.Stream, n int) func(int64, model.Stream) error {
	var mu sync.Mutex
	calls := 0
	return func(_ int64, s model.Stream) error {
		if s != stream {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == n {
			return errCrash
		}
		return nil
	}
}

type crashError struct{}

func (crashError) Error() string { return "simulated crash" }

var errCrash error = crashError{}

func itoa(n int) string { return strconv.Itoa(n) }
