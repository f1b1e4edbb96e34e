package web

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mimecast-qradar/app/internal/collector"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
	"mimecast-qradar/app/internal/syslogrecv"
)

// TestPanel_InBrowser_FullStackAgainstSimulator drives the panel with the
// real collector behind it, the Mimecast simulator as Mimecast and a real
// TCP syslog receiver as QRadar: two accounts added through the UI (one per
// API generation), a real connection test, a real "Collect now" whose
// running state is visible, and events arriving at the receiver.
func TestPanel_InBrowser_FullStackAgainstSimulator(t *testing.T) {
	b := newBrowser(t)
	ctx := context.Background()

	sim := mimecastsim.New(mimecastsim.Options{
		Seed: 7, RecordsPerFile: 50, Spread: 2 * time.Minute,
		// The simulator runs a few minutes behind, so records made "now" are
		// older than the collector's settle delay.
		Now: func() time.Time { return time.Now().Add(-5 * time.Minute) },
	})
	sim.AddAccount(mimecastsim.DemoAccount())
	for _, s := range model.SupportedStreams {
		sim.Generate(mimecastsim.DemoAccountName, s, 40)
	}
	fs := newFullStack(t, sim)
	st, recv, proxy, logs, simSrv := fs.store, fs.recv, fs.proxy, fs.logs, fs.simSrv

	b.navigate(proxy.appURL(""))
	b.wait("the empty state", `!document.getElementById('accounts-empty').hidden`)

	addAccount := func(name string, fill ...chromedp.Action[chromedp.Void]) model.Account {
		t.Helper()
		b.do(chromedp.Click(chromedp.ID("add-account")))
		b.wait("the form", `document.getElementById('account-dialog').open`)
		b.do(chromedp.SendKeys(chromedp.ID("f-name"), name))
		b.do(fill...)
		b.do(clearInput("f-base_url"), chromedp.SendKeys(chromedp.ID("f-base_url"), simSrv.URL))
		b.do(chromedp.Click(chromedp.ID("form-save")))
		b.wait(name+" saved", `!document.getElementById('account-dialog').open`)
		accounts, err := st.ListAccounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accounts {
			if a.Name == name {
				return a
			}
		}
		t.Fatalf("%s was not stored", name)
		return model.Account{}
	}
	// The 2.0 account also collects every further stream (issue #13), each
	// selectable in the form and reporting its own status row.
	further := []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.ID("f-client_id"), mimecastsim.DemoClientID),
		chromedp.SendKeys(chromedp.ID("f-client_secret"), mimecastsim.DemoClientSecret),
	}
	for _, s := range model.SupportedStreams[len(model.CoreStreams):] {
		further = append(further, chromedp.Click(chromedp.ID("f-stream-"+string(s))))
	}
	acme := addAccount("Acme Sim", further...)
	if len(acme.Streams) != len(model.SupportedStreams) {
		t.Fatalf("the 2.0 account collects %v, want every stream", acme.Streams)
	}
	legacy := addAccount("Legacy Sim",
		chromedp.Click(chromedp.ID("f-api-1")),
		chromedp.SendKeys(chromedp.ID("f-app_id"), mimecastsim.DemoAppID),
		chromedp.SendKeys(chromedp.ID("f-app_key"), mimecastsim.DemoAppKey),
		chromedp.SendKeys(chromedp.ID("f-access_key"), mimecastsim.DemoAccessKey),
		chromedp.SendKeys(chromedp.ID("f-secret_key"), mimecastsim.DemoSecretKey))

	// Creating an account starts its first run: both turn healthy with
	// events counted, and the events reach the syslog receiver under each
	// account's own log source identifier.
	for _, a := range []model.Account{acme, legacy} {
		b.wait(a.Name+" healthy after its first run", `(c => !!c && c.dataset.health === 'ok' && !c.querySelector('tbody').innerText.includes('never'))(`+cardJS(a.ID)+`)`)
	}
	if rows := eval[int](b, cardJS(acme.ID)+`.querySelectorAll('tbody tr').length`); rows != len(model.SupportedStreams) {
		t.Errorf("the 2.0 account shows %d stream rows, want %d", rows, len(model.SupportedStreams))
	}
	hosts := map[string]int{}
	for _, m := range recv.Messages() {
		hosts[m.Hostname]++
	}
	if hosts[acme.LogSourceIdentifier] == 0 || hosts[legacy.LogSourceIdentifier] == 0 {
		t.Fatalf("events per log source identifier = %v", hosts)
	}

	// A real connection test: credentials and every stream's permission.
	b.do(chromedp.Click(cardSel(legacy.ID, `[data-action="test"]`)))
	b.wait("the test result", `!!`+cardJS(legacy.ID)+`.querySelector('.test-result')`)
	result := eval[string](b, cardJS(legacy.ID)+`.querySelector('.test-result').innerText`)
	for _, want := range []string{"SIEM logs (email gateway): OK", "Audit events: OK", "TTP URL Protect: OK"} {
		if !strings.Contains(result, want) {
			t.Errorf("test result lacks %q:\n%s", want, result)
		}
	}

	// Collect now, with Mimecast answering slowly so the running state is
	// on screen long enough to be seen.
	before := recv.Count()
	sim.Generate(mimecastsim.DemoAccountName, model.StreamAudit, 5)
	sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultSlow, Path: "/api/audit/get-audit-events", Delay: 2 * time.Second})
	b.do(chromedp.Click(cardSel(acme.ID, `[data-action="collect"]`)))
	b.wait("the running state", cardJS(acme.ID)+`.dataset.health === 'running'`)
	b.wait("the run finished", cardJS(acme.ID)+`.dataset.health === 'ok'`)
	if recv.Count() <= before {
		t.Errorf("Collect now delivered nothing new (receiver count %d before, %d after)", before, recv.Count())
	}

	// Mimecast refuses a saved 1.0 SIEM position: the panel says so and,
	// after confirmation, resets it; the next run succeeds again.
	if err := st.SaveCheckpoint(ctx, legacy.ID, model.StreamSIEM, []byte(`{"v":1,"token":"not-a-token-mimecast-knows"}`)); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(cardSel(legacy.ID, `[data-action="collect"]`)))
	b.wait("the reset offer", `!!`+cardJS(legacy.ID)+`.querySelector('[data-action="reset-siem"]')`)
	b.do(chromedp.Click(cardSel(legacy.ID, `[data-action="reset-siem"]`)))
	b.wait("the confirmation", `document.getElementById('confirm-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.wait("the position reset", `document.getElementById('toasts').innerText.includes('Position reset')`)
	if cp, _ := st.Checkpoint(ctx, legacy.ID, model.StreamSIEM); cp != nil {
		t.Errorf("checkpoint after the reset = %s", cp)
	}

	page := eval[string](b, `document.documentElement.outerHTML`)
	for _, secret := range []string{mimecastsim.DemoClientSecret, mimecastsim.DemoAppKey, mimecastsim.DemoAccessKey, mimecastsim.DemoSecretKey} {
		if strings.Contains(page, secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("a secret reached the page or the log")
		}
	}
}

// fullStack is the panel with the real collector behind it, the Mimecast
// simulator as Mimecast and a real TCP syslog receiver as QRadar, reached
// through a QRadar-like proxy.
type fullStack struct {
	store     *store.Store
	collector *collector.Collector
	recv      *syslogrecv.Receiver
	proxy     *qradarProxy
	logs      *syncBuffer // the app's log (debug level)
	simSrv    *httptest.Server
}

func newFullStack(t *testing.T, sim *mimecastsim.Sim) *fullStack {
	t.Helper()
	ctx := context.Background()
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	recv, err := syslogrecv.Listen("127.0.0.1:0", syslogrecv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	col, err := collector.New(collector.Options{
		Store:          st,
		SyslogTarget:   func(context.Context) (string, error) { return recv.Target(), nil },
		AppVersion:     "test",
		AllowedOrigins: []string{simSrv.URL},
		Logger:         log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := col.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { col.Stop(context.Background()) })
	srv, err := New(ctx, Options{Store: st, Collector: col, WebDir: webDir(t), AppID: "1234", Version: "test",
		AllowedOrigins: []string{simSrv.URL}, DefaultSyslogTarget: recv.Target(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(srv.Handler())
	t.Cleanup(app.Close)
	return &fullStack{store: st, collector: col, recv: recv, proxy: newQRadarProxy(t, app), logs: logs, simSrv: simSrv}
}
