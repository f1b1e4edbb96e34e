package web

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mimecast-qradar/app/internal/model"
)

// rowsOf returns "stream label=behind cell text/tag class" for each stream
// row of an account's card (the label is the first cell's text, before its
// Re-collect… button).
func rowsOf(b *browser, id int64) string {
	return eval[string](b, cardJS(id)+`.querySelector('tbody') ? [...`+cardJS(id)+`.querySelectorAll('tbody tr')].map(r =>
		r.cells[0].firstChild.textContent + '=' + r.cells[3].textContent + '/' + ((r.cells[3].querySelector('.tag') || {}).className || '')).join('|') : ''`)
}

func TestPanel_InBrowser_LagAdministrationAndAudit(t *testing.T) {
	b := newBrowser(t)
	clock := &testClock{}
	now := time.Now().UTC().Truncate(time.Second)
	clock.set(now)
	sink := newAuditSink()
	env := newTestEnv(t, func(o *Options) {
		o.AppID = "1234"
		o.Now = clock.now
		o.SendAuditEvent = sink.send
		o.Actor = func(*http.Request) string { return "admin (QRadar)" }
		o.LogFile = filepath.Join(t.TempDir(), "app.log")
	})
	os.WriteFile(env.server.opts.LogFile, []byte(`{"msg":"started"}`+"\n"), 0o600)
	proxy := newQRadarProxy(t, env.http)
	ctx := context.Background()

	acme := model.Account{Name: "Acme EU", Enabled: true, APIVersion: "2.0", BaseURL: "https://api.services.mimecast.com",
		ClientID: "id", ClientSecret: secretClient, Streams: []model.Stream{"siem", "audit"}, Schedule: defaultSchedule,
		LogSourceIdentifier: "mimecast-acme-eu", InitialLookbackHours: 24}
	beta := model.Account{Name: "Beta Legacy", Enabled: true, APIVersion: "1.0", BaseURL: "https://eu-api.mimecast.com",
		AppID: "app", AppKey: secretApp, AccessKey: secretAccess, SecretKey: secretKey, Streams: []model.Stream{"siem"},
		Schedule: defaultSchedule, LogSourceIdentifier: "mimecast-beta", InitialLookbackHours: 24}
	for _, a := range []*model.Account{&acme, &beta} {
		if err := env.store.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	for _, s := range []struct {
		id int64
		st model.StreamStatus
	}{
		// Acme's SIEM stalled 3 hours ago without an error (the last run
		// delivered events); its audit stream is quiet and caught up.
		{acme.ID, model.StreamStatus{Stream: "siem", State: model.StateIdle, LastRunStarted: at(3 * time.Hour), LastRunEnded: at(3 * time.Hour),
			LastSuccess: at(3 * time.Hour), EventsLastRun: 900, EventsTotal: 9000, NewestEvent: at(3*time.Hour + 5*time.Minute)}},
		{acme.ID, model.StreamStatus{Stream: "audit", State: model.StateIdle, LastRunStarted: at(10 * time.Minute), LastRunEnded: at(10 * time.Minute),
			LastSuccess: at(10 * time.Minute), EventsTotal: 12, NewestEvent: at(4 * 24 * time.Hour)}},
		// Beta's SIEM has failed for six days.
		{beta.ID, model.StreamStatus{Stream: "siem", State: model.StateError, LastRunStarted: at(5 * time.Minute), LastRunEnded: at(5 * time.Minute),
			LastSuccess: at(6 * 24 * time.Hour), LastError: "Mimecast answered 418: the access key expired", NewestEvent: at(6*24*time.Hour + time.Hour)}},
	} {
		if err := env.store.SaveStreamState(ctx, s.id, s.st); err != nil {
			t.Fatal(err)
		}
	}

	b.navigate(proxy.appURL(""))
	b.wait("both accounts", `document.querySelectorAll('.account-card').length === 2`)
	if h := eval[string](b, cardJS(acme.ID)+`.dataset.health`); h != "warning" {
		t.Errorf("Acme's health = %q, want warning", h)
	}
	if h := eval[string](b, cardJS(beta.ID)+`.dataset.health`); h != "error" {
		t.Errorf("Beta's health = %q, want error (its stream fails)", h)
	}
	if got := rowsOf(b, acme.ID); got != "SIEM logs (email gateway)=3 h behind/tag tag-yellow|Audit events=10 min/" {
		t.Errorf("Acme's streams = %q", got)
	}
	if got := rowsOf(b, beta.ID); got != "SIEM logs (email gateway)=6 days behind/tag tag-red" {
		t.Errorf("Beta's streams = %q", got)
	}
	notices := func(id int64) string {
		return eval[string](b, `[...`+cardJS(id)+`.querySelectorAll('.lag-notice')].map(n => n.className.split(' ')[1] + ': ' + n.querySelector('strong').textContent).join('|')`)
	}
	if got := notices(acme.ID); got != "notification-warning: SIEM logs (email gateway): collection is 3 h behind. " {
		t.Errorf("Acme's lag notice = %q", got)
	}
	if got := notices(beta.ID); got != "notification-error: SIEM logs (email gateway): collection is 6 days behind: data older than 7 days is lost: act now. " {
		t.Errorf("Beta's lag notice = %q", got)
	}
	b.screenshot("lag.png", true)

	// Five days later Acme is still stalled: the warning turns to danger.
	clock.set(now.Add(5 * 24 * time.Hour))
	eval[bool](b, `(document.dispatchEvent(new Event('visibilitychange')), true)`)
	b.wait("Acme at risk", cardJS(acme.ID)+`.dataset.health === 'danger' && `+cardJS(acme.ID)+`.querySelector('.lag-notice.notification-error')`)
	if got := notices(acme.ID); !strings.Contains(got, "SIEM logs (email gateway): collection is 5 days behind: data older than 7 days is lost: act now") {
		t.Errorf("Acme's lag notice five days later = %q", got)
	}
	if s := eval[string](b, `document.getElementById('summary').textContent`); !strings.Contains(s, "1 with data at risk") {
		t.Errorf("summary = %q", s)
	}

	clock.set(now)

	// Administration: a proxy with a password.
	b.do(chromedp.Click(chromedp.ID("tab-admin")))
	b.wait("the audit trail", `document.querySelector('#audit-table tbody tr')`)
	b.do(
		chromedp.SendKeys(chromedp.ID("px-url"), "http://proxy.example.com:3128"),
		chromedp.SendKeys(chromedp.ID("px-username"), "svc-mimecast"),
		chromedp.SendKeys(chromedp.ID("px-password"), secretProxyPassword),
		chromedp.Click(chromedp.ID("px-save")),
	)
	b.wait("the saved proxy", `document.getElementById('px-password-state').textContent.startsWith('Set.') && document.getElementById('px-password').value === ''`)
	if pw, _, _ := env.store.SecretSetting(ctx, settingProxyPassword); pw != secretProxyPassword {
		t.Error("the proxy password was not stored")
	}
	b.wait("the change in the audit trail", `document.querySelector('#audit-table tbody tr').innerText.includes('Settings changed')`)
	first := eval[string](b, `[...document.querySelector('#audit-table tbody tr').cells].slice(1).map(c => c.textContent).join('|')`)
	// Details come in key order.
	if first != "admin (QRadar)|Settings changed|settings|proxy password: set; proxy url: (none) → http://proxy.example.com:3128; proxy username: (none) → svc-mimecast" {
		t.Errorf("newest audit row = %q", first)
	}

	// Export, as the link downloads it.
	export := eval[string](b, `fetch(document.getElementById('config-export').href).then(r => r.text().then(t => r.headers.get('content-disposition') + '\n' + t))`)
	disposition, file, _ := strings.Cut(export, "\n")
	var doc configFile
	if err := json.Unmarshal([]byte(file), &doc); err != nil || len(doc.Accounts) != 2 || !strings.HasPrefix(disposition, "attachment;") {
		t.Fatalf("export: %q, %v", disposition, err)
	}

	// Import a file with Acme (here already) and a new account.
	doc.Accounts[1] = configAccount{Name: "Gamma Corp", Enabled: true, APIVersion: "2.0", BaseURL: "https://uk-api.services.mimecast.com",
		ClientID: "gamma-client", Streams: []model.Stream{"siem"}, Schedule: "*/5 * * * *", LogSourceIdentifier: "mimecast-gamma", InitialLookbackHours: 12}
	doc.Settings.SyslogTarget = "tcp://old-qradar.example.com:514"
	path := filepath.Join(t.TempDir(), "accounts.json")
	data, _ := json.Marshal(doc)
	os.WriteFile(path, data, 0o600)
	b.do(chromedp.SetUploadFiles(chromedp.ID("config-import-file"), []string{path}))
	b.wait("the import preview", `document.getElementById('import-dialog').open && document.getElementById('import-title').textContent === 'Import 1 account from accounts.json?'`)
	preview := eval[string](b, `document.getElementById('import-preview').innerText`)
	for _, want := range []string{"To be created", "Gamma Corp — disabled: enter credentials: edit the account, enter its client secret and enable it",
		"Skipped", "Acme EU: an account with this name exists already"} {
		if !strings.Contains(preview, want) {
			t.Errorf("import preview lacks %q:\n%s", want, preview)
		}
	}
	if eval[bool](b, `document.getElementById('import-target-field').hidden || document.getElementById('import-apply-target').checked`) {
		t.Error("the syslog target choice is hidden or on by default")
	}
	if list, _ := env.store.ListAccounts(ctx); len(list) != 2 {
		t.Fatal("the preview imported something")
	}
	b.do(chromedp.Click(chromedp.ID("import-ok")))
	b.wait("the import result", `document.getElementById('import-result').innerText.includes('Imported: 1 account created (1 disabled until credentials are entered), 1 skipped, 0 failed')`)
	accounts, _ := env.store.ListAccounts(ctx)
	if len(accounts) != 3 || accounts[2].Name != "Gamma Corp" || accounts[2].Enabled || accounts[2].Schedule != "*/5 * * * *" {
		t.Fatalf("accounts after import = %+v", accounts)
	}
	if target, _ := env.server.SyslogTarget(ctx); target != "tcp://192.0.2.10:514" {
		t.Errorf("the import changed the syslog target to %q", target)
	}

	// The support bundle downloads as a zip.
	bundle := eval[string](b, `fetch(document.getElementById('support-bundle').href).then(r => r.status + ' ' + r.headers.get('content-type'))`)
	if bundle != "200 application/zip" {
		t.Errorf("support bundle = %q", bundle)
	}
	b.do(chromedp.Click(chromedp.ID("tab-accounts")), chromedp.Click(chromedp.ID("tab-admin")))
	b.wait("every change in the audit trail", `document.querySelectorAll('#audit-table tbody tr').length === 5`)
	actions := eval[string](b, `[...document.querySelectorAll('#audit-table tbody tr')].map(r => r.cells[2].textContent).join('|')`)
	if actions != "Support bundle downloaded|Configuration imported|Account added|Configuration exported|Settings changed" {
		t.Errorf("audit trail = %q", actions)
	}
	b.screenshot("administration.png", true)
	if events := sink.wait(t, 5); events[2].Attr("cat") != "account_create" || events[2].Attr("mcAccount") != "Gamma Corp" {
		t.Errorf("audit event of the import = %q", events[2].Raw)
	}

	// The imported account asks for its credentials.
	b.do(chromedp.Click(chromedp.ID("tab-accounts")))
	gamma := accounts[2].ID
	b.wait("the imported account", cardJS(gamma)+` && `+cardJS(gamma)+`.querySelector('.credentials-needed')`)
	if got := eval[string](b, cardJS(gamma)+`.querySelector('.card-title-tags').innerText.replace(/\n/g, ' ')`); !strings.Contains(got, "Credentials needed") {
		t.Errorf("Gamma's tags = %q", got)
	}
	b.checkPageErrors()

	page := eval[string](b, `document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join('\n')`)
	proxy.mu.Lock()
	bodies := append([]string{page}, proxy.bodies...)
	proxy.mu.Unlock()
	for _, body := range bodies {
		for _, s := range append(allSecrets, secretProxyPassword) {
			if strings.Contains(body, s) {
				t.Errorf("secret %q reached the browser: %.200s", s, body)
			}
		}
	}
}
