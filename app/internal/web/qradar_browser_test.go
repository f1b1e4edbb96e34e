package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/qradar"
	"mimecast-qradar/app/internal/qradarsim"
)

// TestPanel_InBrowser_QRadarViewNotAuthorisedThenAuthorised runs the real
// QRadar set-up against the QRadar REST simulator: without a token the view
// tells the administrator to authorise the app; once QRadar hands the app its
// token, "Set up now" creates the account's log source and the view lists it.
func TestPanel_InBrowser_QRadarViewNotAuthorisedThenAuthorised(t *testing.T) {
	b := newBrowser(t)
	const token = "sec-token-for-test"
	qsim := qradarsim.New(qradarsim.Options{Token: token})
	qsrv := httptest.NewServer(qsim)
	t.Cleanup(qsrv.Close)

	var current atomic.Value
	current.Store("")
	var mgr *qradar.Manager
	env := newTestEnv(t, func(o *Options) {
		var err error
		mgr, err = qradar.NewManager(qradar.Options{
			BaseURL: qsrv.URL, Token: func() string { return current.Load().(string) }, Store: o.Store,
			Logger: o.Logger, RetryMin: time.Hour, RetryMax: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		o.AppID = "1234"
		o.QRadar = mgr
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go mgr.Run(ctx)

	a := model.Account{Name: "Acme EU", Enabled: true, APIVersion: "2.0", BaseURL: "https://api.services.mimecast.com",
		ClientID: "id", ClientSecret: secretClient, Streams: []model.Stream{"siem"}, Schedule: defaultSchedule,
		LogSourceIdentifier: "mimecast-acme-eu", InitialLookbackHours: 24}
	if err := env.store.CreateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	proxy := newQRadarProxy(t, env.http)

	b.navigate(proxy.appURL("index"))
	b.do(chromedp.Click(chromedp.ID("tab-qradar")))
	b.wait("the not-authorised instruction", `/authori[sz]/i.test(document.getElementById('qradar-state').innerText)`)
	notAuthorised := eval[string](b, `document.getElementById('qradar-state').innerText`)
	if !strings.Contains(strings.ToLower(notAuthorised), "authoris") {
		t.Errorf("state without a token = %q", notAuthorised)
	}
	if n := len(qsim.LogSources()); n != 0 {
		t.Fatalf("QRadar has %d log sources before the app was authorised", n)
	}

	current.Store(token)
	b.do(chromedp.Click(chromedp.ID("qradar-setup")))
	b.wait("the account's log source", `[...document.querySelectorAll('#qradar-all-objects tbody tr')].some(r => r.textContent.includes('Mimecast - Acme EU'))`)
	// The state message is updated when the reconcile ends, which may be
	// after the first objects are listed.
	b.wait("the authorised state", `!/not authori[sz]/i.test(document.getElementById('qradar-state').innerText)`)
	var found bool
	for _, ls := range qsim.LogSources() {
		found = found || ls.Name == "Mimecast - Acme EU"
	}
	if !found {
		t.Errorf("QRadar lacks the log source: %+v", qsim.LogSources())
	}
}
