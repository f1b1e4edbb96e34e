package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/syslog"
)

const proxyPrefix = "/console/plugins/1234/app_proxy"

// findChromium returns the Chromium to drive, or skips (locally) or fails
// (in CI) when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (install Debian's chromium package); browser tests are required in CI")
	}
	t.Skip("\n\n***** SKIPPING BROWSER TESTS: no Chromium found (apt-get install chromium, or set CHROMIUM=/path) *****\n")
	return ""
}

// qradarProxy stands in for the QRadar console: it serves the app under
// /console/plugins/1234/app_proxy/ (stripping the prefix, as QRadar does),
// enforces QRadar's own CSRF header on unsafe requests (use_qradar_csrf),
// and records every response body and every request outside the prefix.
type qradarProxy struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []string
	outside []string
}

const qradarCSRFValue = "qradar-csrf-token-abc"

func newQRadarProxy(t *testing.T, app *httptest.Server) *qradarProxy {
	target, _ := url.Parse(app.URL)
	p := &qradarProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, proxyPrefix)
			pr.Out.URL.RawPath = ""
		},
		ModifyResponse: func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			p.mu.Lock()
			p.bodies = append(p.bodies, string(b))
			p.mu.Unlock()
			return nil
		},
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, proxyPrefix+"/") {
			p.mu.Lock()
			p.outside = append(p.outside, r.Method+" "+r.URL.Path)
			p.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			http.SetCookie(w, &http.Cookie{Name: "QRadarCSRF", Value: qradarCSRFValue, Path: "/"})
		default:
			if r.Header.Get("QRadarCSRF") != qradarCSRFValue {
				http.Error(w, "QRadar CSRF check failed", http.StatusForbidden)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *qradarProxy) appURL(path string) string { return p.URL + proxyPrefix + "/" + path }

// browser drives one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// One Chromium serves every browser test (starting it is the slow part);
// each test gets its own browser context, so cookies and storage are not
// shared between tests.
var chromium struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.cancel != nil {
		chromium.cancel()
	}
	for _, d := range chromiumDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func newBrowser(t *testing.T) *browser {
	exe := findChromium(t)
	chromium.once.Do(func() {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(exe),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-features", "Translate"),
			chromedp.Flag("force-color-profile", "srgb"),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("font-render-hinting", "none"),
			chromedp.UserDataDir(chromiumProfileDir()),
			chromedp.WindowSize(1280, 900),
		)
		ctx, cancelBrowser := chromedp.NewContext(alloc)
		chromium.ctx = ctx
		chromium.cancel = func() { cancelBrowser(); cancelAlloc() }
		chromium.err = chromedp.Do(ctx) // starts the browser
	})
	if chromium.err != nil {
		t.Fatalf("starting %s: %v", exe, chromium.err)
	}
	tab, cancelTab := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(tab, 40*time.Second)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx}
	b.do(chromedp.EmulateViewport(1280, 900), func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageErrorCatcher})
		return chromedp.Void{}, err
	})
	return b
}

// pageErrorCatcher records script errors, unhandled promise rejections and
// Content-Security-Policy violations of every page the tab loads.
const pageErrorCatcher = `window.__pageErrors = [];
window.addEventListener('error', e => window.__pageErrors.push('error: ' + e.message + ' at ' + e.filename + ':' + e.lineno));
window.addEventListener('unhandledrejection', e => window.__pageErrors.push('unhandled rejection: ' + e.reason));
document.addEventListener('securitypolicyviolation', e => window.__pageErrors.push('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));`

// checkPageErrors fails the test if the current page had a script error or
// a CSP violation.
func (b *browser) checkPageErrors() {
	b.t.Helper()
	if errs := eval[[]string](b, `window.__pageErrors || ['the error catcher is not installed']`); len(errs) > 0 {
		b.t.Errorf("page errors: %v", errs)
	}
}

// navigate loads url after checking the current page had no errors.
func (b *browser) navigate(url string) {
	b.t.Helper()
	if eval[bool](b, `!!window.__pageErrors`) {
		b.checkPageErrors()
	}
	b.do(chromedp.Navigate(url))
}

// chromiumProfileDir is a fresh user data directory, removed when the
// process ends normally.
func chromiumProfileDir() string {
	dir, err := os.MkdirTemp("", "web-test-chromium-")
	if err != nil {
		panic(err)
	}
	chromiumDirs = append(chromiumDirs, dir)
	return dir
}

var chromiumDirs []string

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage text: %.1500s", err, b.pageText())
	}
}

func (b *browser) pageText() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// wait waits until the JavaScript expression is truthy.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		b.t.Fatalf("waiting for %s: %v\npage text: %.2000s", what, err, b.pageText())
	}
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshot saves a PNG under docs/screenshots when UPDATE_SCREENSHOTS=1.
func (b *browser) screenshot(name string, full bool) {
	b.t.Helper()
	if os.Getenv("UPDATE_SCREENSHOTS") != "1" {
		return
	}
	eval[bool](b, `(document.getElementById('toasts').replaceChildren(), document.activeElement.blur(), true)`)
	b.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1))
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Fatal(err)
	}
	dir := filepath.Join(webDir(b.t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// clearInput empties a text field, as selecting its text and deleting it
// would.
func clearInput(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = ''; e.dispatchEvent(new Event('input')) })()`, id))
}

func cardSel(id int64, rest string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`.account-card[data-account-id="%d"] %s`, id, rest))
}

func cardJS(id int64) string {
	return fmt.Sprintf(`document.querySelector('.account-card[data-account-id="%d"]')`, id)
}

func TestPanel_InBrowser_AccountLifecycle(t *testing.T) {
	b := newBrowser(t)
	var mu sync.Mutex
	var sent []string
	env := newTestEnv(t, func(o *Options) {
		o.AppID = "1234"
		o.SendTestEvent = func(ctx context.Context, target string) error {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, target)
			return nil
		}
		o.ValidateSyslogTarget = func(t string) error { _, err := syslog.ParseTarget(t); return err }
	})
	proxy := newQRadarProxy(t, env.http)
	ctx := context.Background()

	b.navigate(proxy.appURL(""))
	b.wait("the empty state", `!document.getElementById('accounts-empty').hidden`)

	// Keyboard: Tab reaches the "+ Add account" button, Enter opens the
	// form with the name field focused.
	var reached bool
	for range 8 {
		b.do(chromedp.KeyEvent(kb.Tab))
		if eval[string](b, `document.activeElement.id`) == "add-account" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("Tab never reached the Add account button")
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	b.wait("the account form with the name focused", `document.getElementById('account-dialog').open && document.activeElement.id === 'f-name'`)

	unlabeled := eval[[]string](b, `[...document.querySelectorAll('input, select, textarea, button')].filter(e =>
		e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
		!e.getAttribute('aria-labelledby') && !(e.tagName === 'BUTTON' && e.textContent.trim())
	).map(e => e.id || e.outerHTML.slice(0, 80))`)
	if len(unlabeled) > 0 {
		t.Errorf("controls without a label: %v", unlabeled)
	}
	eval[bool](b, `(window.focusOrder = [], document.addEventListener('focusin', e => window.focusOrder.push(e.target.id)), true)`)
	for range 40 {
		b.do(chromedp.KeyEvent(kb.Tab))
	}
	order := eval[[]string](b, `window.focusOrder`)
	for _, id := range []string{"f-enabled", "f-api-2", "f-region", "f-base_url", "f-client_id", "f-client_secret",
		"f-stream-siem", "f-schedule", "f-log_source_identifier", "f-initial_lookback_hours"} {
		if !strings.Contains(" "+strings.Join(order, " ")+" ", " "+id+" ") {
			t.Errorf("Tab does not reach %s (order %v)", id, order)
		}
	}

	// Add an API 2.0 account (the default version and region).
	b.do(
		chromedp.SendKeys(chromedp.ID("f-name"), "Acme EU"),
		chromedp.SendKeys(chromedp.ID("f-client_id"), "acme-client"),
		chromedp.SendKeys(chromedp.ID("f-client_secret"), secretClient),
	)
	if got := eval[string](b, `document.getElementById('f-base_url').value`); got != "https://api.services.mimecast.com" {
		t.Errorf("base URL from the default region = %q", got)
	}
	if got := eval[string](b, `document.getElementById('f-log_source_identifier').placeholder`); got != "mimecast-acme-eu" {
		t.Errorf("identifier placeholder = %q", got)
	}
	b.do(chromedp.EmulateViewport(1280, 1500))
	b.screenshot("account-form.png", false)
	b.do(chromedp.EmulateViewport(1280, 900))
	b.do(chromedp.Click(chromedp.ID("form-save")))
	b.wait("the first account listed", `document.querySelectorAll('.account-card').length === 1 && !document.getElementById('account-dialog').open`)

	// Add an API 1.0 account in Germany with three streams; a first save
	// without the keys shows every missing field at once.
	b.do(chromedp.Click(chromedp.ID("add-account")))
	b.wait("the form", `document.getElementById('account-dialog').open`)
	b.do(
		chromedp.SendKeys(chromedp.ID("f-name"), "Beta Legacy"),
		chromedp.Click(chromedp.ID("f-api-1")),
	)
	b.wait("the 1.0 fields", `!document.querySelector('.creds[data-api-version="1.0"]').hidden && document.querySelector('.creds[data-api-version="2.0"]').hidden`)
	eval[bool](b, `(() => { const s = document.getElementById('f-region'); s.value = 'https://de-api.mimecast.com'; s.dispatchEvent(new Event('change')); return true })()`)
	for _, s := range []string{"ttp_attachment", "ttp_impersonation", "dlp"} {
		b.do(chromedp.Click(chromedp.ID("f-stream-" + s)))
	}
	b.do(chromedp.Click(chromedp.ID("form-save")))
	b.wait("the field errors", `document.querySelectorAll('#account-form .form-requirement').length === 4`)
	errs := eval[string](b, `[...document.querySelectorAll('#account-form [aria-invalid="true"]')].map(e => e.id).sort().join(' ')`)
	if errs != "f-access_key f-app_id f-app_key f-secret_key" {
		t.Errorf("invalid fields = %q", errs)
	}
	b.do(
		chromedp.SendKeys(chromedp.ID("f-app_id"), "beta-app"),
		chromedp.SendKeys(chromedp.ID("f-app_key"), secretApp),
		chromedp.SendKeys(chromedp.ID("f-access_key"), secretAccess),
		chromedp.SendKeys(chromedp.ID("f-secret_key"), secretKey),
		chromedp.Click(chromedp.ID("form-save")),
	)
	b.wait("both accounts listed", `document.querySelectorAll('.account-card').length === 2 && !document.getElementById('account-dialog').open`)

	accounts, err := env.store.ListAccounts(ctx)
	if err != nil || len(accounts) != 2 {
		t.Fatalf("stored accounts: %v %v", accounts, err)
	}
	acme, beta := accounts[0], accounts[1]
	if acme.Name != "Acme EU" || acme.ClientSecret != secretClient || acme.LogSourceIdentifier != "mimecast-acme-eu" || len(acme.Streams) != 6 {
		t.Errorf("stored 2.0 account = %+v", acme)
	}
	if beta.APIVersion != "1.0" || beta.BaseURL != "https://de-api.mimecast.com" || beta.SecretKey != secretKey ||
		fmt.Sprint(beta.Streams) != "[siem audit ttp_url]" {
		t.Errorf("stored 1.0 account = %+v", beta)
	}
	names := eval[string](b, `[...document.querySelectorAll('.account-card h3')].map(h => h.textContent).join('|')`)
	if names != "Acme EU|Beta Legacy" {
		t.Errorf("listed accounts = %q", names)
	}

	// Test connection shows a result per stream.
	b.do(chromedp.Click(cardSel(acme.ID, `[data-action="test"]`)))
	b.wait("the test result", cardJS(acme.ID)+`.querySelector('.test-result')`)
	result := eval[string](b, cardJS(acme.ID)+`.querySelector('.test-result').innerText`)
	for _, want := range []string{"Connection failed", "SIEM logs (email gateway): OK", "Audit events: OK",
		"Data Leak Prevention: not permitted"} {
		if !strings.Contains(result, want) {
			t.Errorf("test result lacks %q:\n%s", want, result)
		}
	}
	if n := eval[int](b, cardJS(acme.ID)+`.querySelectorAll('.test-list li').length`); n != 6 {
		t.Errorf("test result lists %d streams, want 6", n)
	}

	// Edit the 1.0 account without retyping its secrets.
	b.do(chromedp.Click(cardSel(beta.ID, `[data-action="edit"]`)))
	b.wait("the edit form", `document.getElementById('account-dialog').open && document.getElementById('f-name').value === 'Beta Legacy'`)
	secretState := eval[string](b, `['app_key','access_key','secret_key'].map(f => document.getElementById('f-' + f).value + '|' + document.getElementById('f-' + f + '-state').textContent).join(';')`)
	if strings.Count(secretState, "|Set.") != 3 || strings.Contains(secretState, "SECRET") {
		t.Errorf("secret fields in the edit form = %q", secretState)
	}
	if got := eval[string](b, `document.getElementById('f-region').value`); got != "https://de-api.mimecast.com" {
		t.Errorf("region of the edited account = %q", got)
	}
	b.do(
		clearInput("f-name"),
		chromedp.SendKeys(chromedp.ID("f-name"), "Beta Legacy DE"),
		chromedp.Click(chromedp.ID("form-save")),
	)
	b.wait("the renamed account", `!document.getElementById('account-dialog').open && `+cardJS(beta.ID)+`.querySelector('h3').textContent === 'Beta Legacy DE'`)
	edited, _ := env.store.Account(ctx, beta.ID)
	if edited.Name != "Beta Legacy DE" || edited.AppKey != secretApp || edited.AccessKey != secretAccess || edited.SecretKey != secretKey {
		t.Errorf("after the edit: name %q, secrets kept %t", edited.Name,
			edited.AppKey == secretApp && edited.AccessKey == secretAccess && edited.SecretKey == secretKey)
	}

	// History for the chart, and a failing stream on the 1.0 account.
	seedHistory(t, env, acme, beta)

	// Collect now: the account shows running, then healthy with counts.
	gate := make(chan struct{})
	env.collector.mu.Lock()
	env.collector.gate = gate
	env.collector.mu.Unlock()
	b.do(chromedp.Click(cardSel(acme.ID, `[data-action="collect"]`)))
	b.wait("the running state", cardJS(acme.ID)+`.dataset.health === 'running' && `+cardJS(acme.ID)+`.innerText.includes('Collecting')`)
	close(gate)
	b.wait("the finished run", cardJS(acme.ID)+`.dataset.health === 'ok' && `+cardJS(acme.ID)+`.querySelector('tbody').innerText.includes('1,234')`)
	b.wait("the chart", cardJS(acme.ID)+`.querySelectorAll('svg g.run').length >= 20 && `+cardJS(acme.ID)+`.querySelector('svg .error-band')`)
	if h := eval[string](b, cardJS(beta.ID)+`.dataset.health`); h != "error" {
		t.Errorf("health of the failing account = %q", h)
	}
	b.screenshot("overview.png", true)

	// Delete one, with confirmation.
	b.do(chromedp.Click(cardSel(beta.ID, `[data-action="delete"]`)))
	b.wait("the confirmation", `document.getElementById('confirm-dialog').open && document.getElementById('confirm-title').textContent.includes('Beta Legacy DE')`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.wait("one account left", `document.querySelectorAll('.account-card').length === 1`)
	if left, _ := env.store.ListAccounts(ctx); len(left) != 1 || left[0].ID != acme.ID {
		t.Errorf("accounts after delete: %v", left)
	}

	// The event delivery tab sends a test event to the composed target.
	b.do(chromedp.Click(chromedp.ID("tab-delivery")))
	b.wait("the syslog settings", `document.getElementById('sl-host').value === '192.0.2.10'`)
	eval[bool](b, `(() => { const s = document.getElementById('sl-framing'); s.value = 'octet'; s.dispatchEvent(new Event('change')); return true })()`)
	b.do(
		clearInput("sl-host"),
		chromedp.SendKeys(chromedp.ID("sl-host"), "qradar.example.com"),
		chromedp.Click(chromedp.ID("sl-test")),
	)
	b.wait("the test event result", `document.getElementById('syslog-result').innerText.includes('Test event sent')`)
	mu.Lock()
	if len(sent) != 1 || sent[0] != "tcp://qradar.example.com:514?framing=octet" {
		t.Errorf("test events sent to %v", sent)
	}
	mu.Unlock()
	b.do(chromedp.Click(chromedp.ID("sl-save")))
	b.wait("the saved target", `document.getElementById('toasts').innerText.includes('Events now go to tcp://qradar.example.com:514?framing=octet')`)
	if v, _, _ := env.store.Setting(ctx, SettingSyslogTarget); v != "tcp://qradar.example.com:514?framing=octet" {
		t.Errorf("stored syslog target = %q", v)
	}

	// A POST without the app's CSRF token is refused and changes nothing,
	// even with QRadar's header.
	status := eval[int](b, `fetch('api/accounts', {method: 'POST', headers: {'Content-Type': 'application/json',
		'QRadarCSRF': '`+qradarCSRFValue+`'}, body: JSON.stringify({name: 'Sneaky', client_id: 'a', client_secret: 'b',
		base_url: 'https://api.services.mimecast.com', streams: ['siem']})}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, want 403", status)
	}
	if left, _ := env.store.ListAccounts(ctx); len(left) != 1 {
		t.Errorf("the refused POST stored an account")
	}

	// QRadar set-up is off: the view says why.
	b.do(chromedp.Click(chromedp.ID("tab-qradar")))
	b.wait("the QRadar-off message", `document.getElementById('qradar-state').innerText.includes('QRadar set-up is off: no --qradar-api / QRADAR_API_URL configured') && document.getElementById('qradar-deploy').disabled`)
	b.do(chromedp.Click(chromedp.ID("tab-accounts")))

	// Dark theme from QRadar's query parameter, kept for later loads.
	b.navigate(proxy.appURL("index?ui=new&theme=dark"))
	b.wait("the dark theme", `document.documentElement.dataset.theme === 'dark' && getComputedStyle(document.body).backgroundColor === 'rgb(22, 22, 22)' && document.querySelectorAll('.account-card svg g.run').length > 0`)
	b.screenshot("overview-dark.png", true)
	b.navigate(proxy.appURL(""))
	b.wait("the dark theme kept", `document.querySelectorAll('.account-card').length === 1`)
	if th := eval[string](b, `document.documentElement.dataset.theme`); th != "dark" {
		t.Errorf("theme after reload = %q, want dark", th)
	}

	b.checkPageErrors()

	// No secret reached the browser, in the page or in any response.
	page := eval[string](b, `document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join('\n')`)
	proxy.mu.Lock()
	bodies := append([]string{page}, proxy.bodies...)
	outside := proxy.outside
	proxy.mu.Unlock()
	for _, body := range bodies {
		for _, s := range allSecrets {
			if strings.Contains(body, s) {
				t.Errorf("secret %q reached the browser: %.200s", s, body)
			}
		}
	}
	if len(outside) > 0 {
		t.Errorf("the page requested URLs outside the app's prefix: %v", outside)
	}
}

// seedHistory stores a day of runs for acme (one failed) and a failing
// stream on beta, as the collector would have.
func seedHistory(t *testing.T, env *testEnv, acme, beta model.Account) {
	ctx := context.Background()
	start := time.Now().UTC().Add(-20 * time.Hour)
	for i := range 30 {
		at := start.Add(time.Duration(i) * 40 * time.Minute)
		for j, s := range acme.Streams[:3] {
			r := model.Run{AccountID: acme.ID, Stream: s, Started: at.Add(time.Duration(j) * time.Second),
				Ended: at.Add(time.Duration(j)*time.Second + 3*time.Second), Events: int64(400 + (i*137+j*211)%900/(j+1)), Outcome: "ok"}
			if i == 21 && j == 0 {
				r.Outcome, r.Error, r.Events = "error", "sending to syslog: connection refused", 0
			}
			if err := env.store.AddRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	last := time.Now().UTC().Add(-10 * time.Minute)
	for _, s := range beta.Streams {
		st := model.StreamStatus{Stream: s, State: model.StateIdle, LastRunStarted: &last, LastRunEnded: &last, LastSuccess: &last,
			EventsLastRun: 42, EventsTotal: 5000}
		if s == model.StreamTTPURL {
			st.State, st.LastSuccess = model.StateError, nil
			st.LastError = "not permitted: the API user cannot read TTP URL logs (HTTP 403); give its role the TTP URL Protect read permission"
		}
		if err := env.store.SaveStreamState(ctx, beta.ID, st); err != nil {
			t.Fatal(err)
		}
	}
}

// richQRadar answers the QRadar endpoints of design §5 with realistic
// content, to show the QRadar view when set-up is on.
type richQRadar struct {
	mu       sync.Mutex
	deploys  int
	searched []string
}

func (q *richQRadar) RequestReconcile() {}

func (q *richQRadar) Routes(r chi.Router) {
	r.Get("/api/qradar", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"configured": true, "authorised": true, "state": "pending",
			"message": "Changes are staged in QRadar: deploy changes to activate the new log source",
			"objects": []map[string]any{
				{"object": "log_source_type", "account_id": 0, "name": "Mimecast Email Security", "qradar_id": "4012", "state": "ok", "last_error": ""},
				{"object": "log_source_group", "account_id": 0, "name": "Mimecast", "qradar_id": "118", "state": "ok", "last_error": ""},
				{"object": "log_source", "account_id": 1, "name": "Mimecast - Acme EU", "qradar_id": "2231", "state": "pending", "last_error": ""},
				{"object": "reference_set", "account_id": 0, "name": "Mimecast Threat Intel", "qradar_id": "", "state": "error", "last_error": "QRadar answered 403: the app's authorised user lacks the Reference Data capability"},
			},
		})
	})
	r.Post("/api/qradar/deploy", func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		q.deploys++
		q.mu.Unlock()
		writeJSON(w, http.StatusAccepted, map[string]string{"message": "QRadar is deploying the staged changes"})
	})
	r.Get("/api/searches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []map[string]string{
			{"name": "rejected-inbound-mail", "description": "Inbound messages Mimecast rejected at receipt, with the reason.",
				"aql": `SELECT DATEFORMAT(devicetime, 'yyyy-MM-dd HH:mm:ss') AS "Event Time", "Mimecast Account", "Mimecast Sender", "Mimecast Recipient", QIDNAME(qid) AS "Event Name" FROM events WHERE "Mimecast Log Type" = 'receipt' AND "Mimecast Action" = 'Rej' ORDER BY devicetime DESC LIMIT 1000 LAST 24 HOURS`},
			{"name": "url-clicks-blocked", "description": "Clicks on URLs in messages that URL Protect blocked.",
				"aql": `SELECT DATEFORMAT(devicetime, 'yyyy-MM-dd HH:mm:ss') AS "Event Time", "Mimecast Account", "Mimecast Recipient", "Mimecast URL" FROM events WHERE "Mimecast Log Type" IN ('ttp_url', 'url_protect') AND "Mimecast Action" ILIKE 'block%' ORDER BY devicetime DESC LIMIT 1000 LAST 24 HOURS`},
		})
	})
	r.Post("/api/searches/{name}/run", func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		q.searched = append(q.searched, chi.URLParam(r, "name"))
		q.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"name": chi.URLParam(r, "name"), "aql": "SELECT …",
			"rows": []map[string]any{
				{"Event Time": "2026-11-22 09:58:12", "Mimecast Account": "Acme EU", "Mimecast Sender": "invoice@phish.example", "Mimecast Recipient": "ap@acme.example", "Event Name": "Mimecast Receipt: Message Rejected"},
				{"Event Time": "2026-11-22 09:41:03", "Mimecast Account": "Acme EU", "Mimecast Sender": "noreply@spam.example", "Mimecast Recipient": "sales@acme.example", "Event Name": "Mimecast Receipt: Message Rejected"},
			}})
	})
}

func TestPanel_InBrowser_QRadarView(t *testing.T) {
	b := newBrowser(t)
	q := &richQRadar{}
	env := newTestEnv(t, func(o *Options) { o.AppID = "1234"; o.QRadar = q })
	proxy := newQRadarProxy(t, env.http)
	a := model.Account{Name: "Acme EU", Enabled: true, APIVersion: "2.0", BaseURL: "https://api.services.mimecast.com",
		ClientID: "id", ClientSecret: secretClient, Streams: []model.Stream{"siem"}, Schedule: defaultSchedule,
		LogSourceIdentifier: "mimecast-acme-eu", InitialLookbackHours: 24}
	if err := env.store.CreateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}

	b.navigate(proxy.appURL("index"))
	b.wait("the accounts", `document.querySelectorAll('.account-card').length === 1`)
	b.do(chromedp.Click(chromedp.ID("tab-qradar")))
	b.wait("the QRadar objects", `document.querySelectorAll('#qradar-all-objects tbody tr').length === 4 && document.querySelectorAll('#searches .search').length === 2`)
	// The focused table holds the log source and the object in error; the
	// summary counts each kind.
	focus := eval[[]string](b, `[...document.querySelectorAll('#qradar-objects tbody tr')].map(r => [...r.cells].map(c => c.textContent).join('|'))`)
	want := []string{"Log source|Mimecast - Acme EU|Acme EU|2231|pending|–",
		"Reference set|Mimecast Threat Intel|–|–|error|QRadar answered 403: the app's authorised user lacks the Reference Data capability"}
	if fmt.Sprint(focus) != fmt.Sprint(want) {
		t.Errorf("objects needing attention = %q, want %q", focus, want)
	}
	summary := eval[string](b, `[...document.querySelectorAll('#qradar-summary .object-kind')].map(k => k.innerText.replace(/\n/g, ' ')).join(' / ')`)
	if summary != "1 Log source type 1 ok / 1 Log source group 1 ok / 1 Log sources 1 pending / 1 Reference sets 1 error" {
		t.Errorf("object summary = %q", summary)
	}
	b.do(chromedp.Click(chromedp.CSS(`#searches .search:first-child .btn-primary`)))
	b.wait("the search rows", `document.querySelectorAll('#searches .search:first-child .search-result tbody tr').length === 2`)
	b.do(chromedp.Click(chromedp.ID("qradar-deploy")))
	b.wait("the deploy warning", `document.getElementById('confirm-dialog').open && document.getElementById('confirm-body').textContent.includes('other administrators')`)
	b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
	b.wait("the dialog closed", `!document.getElementById('confirm-dialog').open`)
	b.screenshot("qradar.png", true)
	b.do(chromedp.Click(chromedp.ID("qradar-deploy")))
	b.wait("the deploy warning", `document.getElementById('confirm-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.wait("the deploy toast", `document.getElementById('toasts').innerText.includes('Deploy requested')`)
	b.checkPageErrors()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deploys != 1 || len(q.searched) != 1 || q.searched[0] != "rejected-inbound-mail" {
		t.Errorf("deploys %d (want 1 after one cancel and one confirm), searches %v", q.deploys, q.searched)
	}
}
