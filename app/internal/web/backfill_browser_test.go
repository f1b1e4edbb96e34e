package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mimecast-qradar/app/internal/model"
)

// setInput sets a datetime-local input's value as picking a date would.
func setInput(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event('input')) })()`, id, value))
}

func TestPanel_InBrowser_Backfill(t *testing.T) {
	b := newBrowser(t)
	env := newTestEnv(t, func(o *Options) { o.AppID = "1234" })
	proxy := newQRadarProxy(t, env.http)
	a := model.Account{Name: "Acme EU", Enabled: true, APIVersion: "2.0", BaseURL: "https://api.services.mimecast.com",
		ClientID: "id", ClientSecret: secretClient, Streams: []model.Stream{"siem", "audit", "threat_intel_grid"},
		Schedule: defaultSchedule, LogSourceIdentifier: "mimecast-acme-eu", InitialLookbackHours: 24}
	if err := env.store.CreateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	// The browser is in India (UTC+05:30 all year), so its local times
	// differ from UTC by a fraction of an hour, and writes dates the US
	// way, so the test knows which keys fill a date.
	ist := time.FixedZone("IST", 5*3600+1800)
	b.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-US"}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"})
		return chromedp.Void{}, err
	})

	b.navigate(proxy.appURL(""))
	b.wait("the account", `document.querySelectorAll('.account-card').length === 1`)
	card := cardJS(a.ID)
	recollect := func(stream string) string { return card + `.querySelector('[data-action="backfill-` + stream + `"]')` }
	if got := eval[string](b, `['siem', 'audit', 'threat_intel_grid'].map(s => s + '=' + !!`+card+`.querySelector('[data-action="backfill-' + s + '"]')).join(' ')`); got != "siem=true audit=true threat_intel_grid=false" {
		t.Errorf("Re-collect actions: %s, want them on siem and audit only (threat intel is a snapshot)", got)
	}

	// Keyboard: Enter on the action opens the dialog with the focus on
	// "From"; Escape closes it and the focus returns to the action.
	eval[bool](b, `(`+recollect("siem")+`.focus(), true)`)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.wait("the dialog with From focused", `document.getElementById('backfill-dialog').open && document.activeElement.id === 'bf-from'`)
	if got := eval[string](b, `document.getElementById('backfill-title').textContent`); got != "Re-collect SIEM logs (email gateway) for “Acme EU”" {
		t.Errorf("dialog title = %q", got)
	}
	if got := eval[string](b, `document.getElementById('backfill-help').textContent`); !strings.Contains(got, "Records QRadar already received are skipped") {
		t.Errorf("explanation = %q", got)
	}
	// The inputs offer the stream's 7 days, in local time.
	now := time.Now().In(ist)
	bounds := eval[[]string](b, `[document.getElementById('bf-from').min, document.getElementById('bf-to').max]`)
	earliest, err1 := time.ParseInLocation("2006-01-02T15:04", bounds[0], ist)
	latest, err2 := time.ParseInLocation("2006-01-02T15:04", bounds[1], ist)
	if err1 != nil || err2 != nil || latest.Sub(earliest) != 7*24*time.Hour || latest.Sub(now).Abs() > 2*time.Minute {
		t.Errorf("min and max = %q, want the last 7 days in India's time up to now (%v)", bounds, now)
	}
	b.do(chromedp.KeyEvent(kb.Escape))
	b.wait("the dialog closed and the focus back", `!document.getElementById('backfill-dialog').open && document.activeElement.dataset.action === 'backfill-siem'`)

	// A period older than Mimecast keeps: the API's problem shows under
	// "From" and nothing reaches the collector.
	b.do(chromedp.KeyEvent(kb.Enter))
	b.wait("the dialog", `document.getElementById('backfill-dialog').open && document.activeElement.id === 'bf-from'`)
	b.do(setInput("bf-from", now.Add(-10*24*time.Hour).Format("2006-01-02T15:04")), chromedp.KeyEvent(kb.Enter))
	b.wait("the inline error", `document.getElementById('bf-from-error') && document.getElementById('bf-from').getAttribute('aria-invalid') === 'true'`)
	if got := eval[string](b, `document.getElementById('bf-from-error').textContent`); got != "Must be within the last 7 days: Mimecast keeps siem data 7 days." {
		t.Errorf("inline error = %q", got)
	}
	if got := eval[string](b, `document.getElementById('bf-from').getAttribute('aria-describedby') + '|' + document.activeElement.id`); got != "bf-window bf-from-error|bf-from" {
		t.Errorf("invalid From: described by and focus = %q", got)
	}
	if calls := env.collector.backfillRequests(); len(calls) != 0 {
		t.Fatalf("the invalid period reached the collector: %v", calls)
	}

	// A valid period, typed (month, day, year, hour, minute, AM/PM) and
	// submitted with Enter: the collector gets the local times in UTC.
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, ist)
	from, to := day.AddDate(0, 0, -2).Add(9*time.Hour+30*time.Minute), day.AddDate(0, 0, -1).Add(18*time.Hour+45*time.Minute)
	const keys = "01022006" + "0304" + "PM"
	b.do(chromedp.KeyEvent(from.Format(keys)[:13]))
	// Tab passes the date picker's button inside "From" before "To".
	for i := 0; eval[string](b, `document.activeElement.id`) != "bf-to"; i++ {
		if i == 3 {
			t.Fatalf("Tab does not reach To (focus on %q)", eval[string](b, `document.activeElement.id`))
		}
		b.do(chromedp.KeyEvent(kb.Tab))
	}
	b.do(chromedp.KeyEvent(to.Format(keys)[:13]))
	if got := eval[string](b, `document.getElementById('bf-from').value + ' ' + document.getElementById('bf-to').value`); got != from.Format("2006-01-02T15:04")+" "+to.Format("2006-01-02T15:04") {
		t.Fatalf("typed period = %q, want %s %s", got, from.Format("2006-01-02T15:04"), to.Format("2006-01-02T15:04"))
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	b.wait("the toast", `!document.getElementById('backfill-dialog').open && document.getElementById('toasts').innerText.includes('Re-collection requested')`)
	calls := env.collector.backfillRequests()
	if len(calls) != 1 {
		t.Fatalf("collector calls = %v, want 1", calls)
	}
	if c := calls[0]; c.id != a.ID || c.stream != model.StreamSIEM || !c.from.Equal(from) || !c.to.Equal(to) ||
		c.from.Location() != time.UTC || c.to.Location() != time.UTC {
		t.Errorf("collector asked for %d/%s %v → %v, want %d/siem %v → %v sent as UTC",
			c.id, c.stream, c.from, c.to, a.ID, from.UTC(), to.UTC())
	}

	// Pending: the row shows the period and the progress, with Cancel
	// instead of Re-collect.
	b.wait("the pending re-collection", card+`.querySelector('[data-action="cancel-backfill-siem"]') && !`+recollect("siem"))
	env.collector.setBackfillProgress(a.ID, model.StreamSIEM, 1234, 56)
	b.wait("the progress", card+`.querySelector('.backfill-progress').textContent.includes('1,234 sent, 56 already in QRadar')`)
	progress := eval[string](b, card+`.querySelector('.backfill-progress').textContent`)
	want := eval[string](b, fmt.Sprintf(`(() => { const f = (ms) => new Date(ms).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
		return 'SIEM logs (email gateway): Re-collecting ' + f(%d) + ' → ' + f(%d) + ': 1,234 sent, 56 already in QRadar' })()`, from.UnixMilli(), to.UnixMilli()))
	// 09:30 and 18:45 in India are 04:00 and 13:15 UTC.
	if progress != want || !strings.Contains(progress, ":30") || !strings.Contains(progress, ":45") {
		t.Errorf("progress = %q, want %q, in India's time", progress, want)
	}
	b.screenshot("backfill-pending.png", false)
	if !eval[bool](b, recollect("audit")+` !== null`) {
		t.Error("the audit stream lost its Re-collect action")
	}

	// The collector's own refusal shows above the inputs.
	env.collector.mu.Lock()
	env.collector.backfillErr = fmt.Errorf("%w: the period ends before Mimecast's horizon", model.ErrInvalidBackfill)
	env.collector.mu.Unlock()
	b.do(chromedp.Click(chromedp.JSPath(recollect("audit"))))
	b.wait("the dialog", `document.getElementById('backfill-dialog').open`)
	b.screenshot("backfill-dialog.png", false)
	b.do(chromedp.Click(chromedp.ID("bf-submit")))
	b.wait("the refusal", `!document.getElementById('backfill-error').hidden && document.getElementById('backfill-error').textContent.includes("ends before Mimecast's horizon")`)
	b.do(chromedp.Click(chromedp.CSS(`#backfill-dialog .modal-footer [data-close]`)))
	b.wait("the dialog closed", `!document.getElementById('backfill-dialog').open`)

	// Cancel asks first; dismissing keeps the re-collection.
	cancelBtn := chromedp.JSPath(card + `.querySelector('[data-action="cancel-backfill-siem"]')`)
	b.do(chromedp.Click(cancelBtn))
	b.wait("the confirmation", `document.getElementById('confirm-dialog').open && document.getElementById('confirm-title').textContent.includes('Stop re-collecting SIEM logs')`)
	b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
	b.wait("the confirmation closed", `!document.getElementById('confirm-dialog').open`)
	if got := env.collector.cancelRequests(); len(got) != 0 {
		t.Fatalf("dismissed confirmation cancelled: %v", got)
	}
	b.do(chromedp.Click(cancelBtn))
	b.wait("the confirmation", `document.getElementById('confirm-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.wait("the cancel toast and the action back", `document.getElementById('toasts').innerText.includes('Re-collection cancelled') && `+recollect("siem"))
	if got := env.collector.cancelRequests(); len(got) != 1 || got[0] != (backfillKey{a.ID, model.StreamSIEM}) {
		t.Errorf("collector cancels = %v, want %d/siem", got, a.ID)
	}
	if eval[bool](b, card+`.querySelector('.backfill-progress') !== null`) {
		t.Error("the progress is still shown after the cancel")
	}

	b.checkPageErrors()
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if len(proxy.outside) > 0 {
		t.Errorf("the page requested URLs outside the app's prefix: %v", proxy.outside)
	}
}
