package bench

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"mimecast-qradar/app/internal/collector"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslogrecv"
)

// world is the collector's real surroundings in one process: a Mimecast API
// (the simulator, possibly wrapped) behind an httptest server, a discarding
// TCP syslog receiver, and a SQLite store holding one account.
type world struct {
	srv  *httptest.Server
	rcv  *syslogrecv.Receiver
	st   *store.Store
	col  *collector.Collector
	acct model.Account
}

// simAccount is the simulator side of SimAccount: the demo credentials of
// one API generation only, so the simulator renders files for that one.
func simAccount(api string) mimecastsim.Account {
	d := mimecastsim.DemoAccount()
	if api == model.APIVersion1 {
		d.ClientID, d.ClientSecret = "", ""
	} else {
		d.AppID, d.AppKey, d.AccessKey, d.SecretKey = "", "", "", ""
	}
	return d
}

func newWorld(tb testing.TB, api string, h http.Handler) *world {
	tb.Helper()
	ctx := context.Background()
	w := &world{srv: httptest.NewServer(h)}
	tb.Cleanup(w.srv.Close)
	var err error
	if w.rcv, err = syslogrecv.Listen("127.0.0.1:0", syslogrecv.Options{Discard: true}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.rcv.Close() })

	dir := filepath.Join(tb.TempDir(), "store")
	w.acct = SimAccount(w.srv.URL, api, 1)
	if err := PrepareStore(ctx, dir, &w.acct); err != nil {
		tb.Fatal(err)
	}
	box, err := secrets.Open(dir, "")
	if err != nil {
		tb.Fatal(err)
	}
	if w.st, err = store.Open(ctx, dir, box); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.st.Close() })
	w.col, err = collector.New(collector.Options{
		Store:          w.st,
		SyslogTarget:   func(context.Context) (string, error) { return w.rcv.Target(), nil },
		AppVersion:     "bench",
		AllowedOrigins: []string{w.srv.URL},
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// collect runs one pass, waits until the receiver read everything and
// returns the number of messages received.
func (w *world) collect(tb testing.TB) int64 {
	tb.Helper()
	ctx := context.Background()
	w.rcv.Reset()
	if err := w.col.RunOnce(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := w.rcv.WaitIdle(ctx); err != nil {
		tb.Fatal(err)
	}
	if errs := w.rcv.Errors(); len(errs) > 0 {
		tb.Fatalf("the syslog receiver saw errors: %v", errs)
	}
	return w.rcv.Count()
}

// reset forgets the account's SIEM checkpoint and what it delivered, so
// the next pass collects the whole backlog again.
func (w *world) reset(tb testing.TB) {
	tb.Helper()
	if err := w.st.DeleteCheckpoint(context.Background(), w.acct.ID, model.StreamSIEM); err != nil {
		tb.Fatal(err)
	}
}
