package web

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// TestPanel_InBrowser_FullStackBackfillAPISwitchAndRateLimit shows issue
// #10's continuity features in the panel with the real collector, the
// Mimecast simulator and a real syslog receiver: a re-collection requested
// in the dialog sends the records QRadar never received and nothing twice;
// switching the account from API 1.0 keys to 2.0 client credentials in the
// edit form keeps its SIEM position (nothing lost, nothing sent twice); a
// long rate-limit block shows until when and holds every request back.
func TestPanel_InBrowser_FullStackBackfillAPISwitchAndRateLimit(t *testing.T) {
	b := newBrowser(t)
	ctx := context.Background()

	var back atomic.Int64 // how far in the past the simulator generates
	sim := mimecastsim.New(mimecastsim.Options{
		Seed: 5, RecordsPerFile: 20, Spread: 2 * time.Minute,
		Now: func() time.Time { return time.Now().Add(-5*time.Minute - time.Duration(back.Load())) },
	})
	sim.AddAccount(mimecastsim.DemoAccount())
	// Audit events of three days ago, before the 24 h initial lookback:
	// the first runs never see them.
	back.Store(int64(72 * time.Hour))
	sim.Generate(mimecastsim.DemoAccountName, model.StreamAudit, 12)
	back.Store(0)
	sim.Generate(mimecastsim.DemoAccountName, model.StreamAudit, 10)
	sim.Generate(mimecastsim.DemoAccountName, model.StreamSIEM, 60)
	fs := newFullStack(t, sim)
	st, col, recv := fs.store, fs.collector, fs.recv
	a := model.Account{Name: "Legacy Sim", Enabled: true, APIVersion: model.APIVersion1, BaseURL: fs.simSrv.URL,
		AppID: mimecastsim.DemoAppID, AppKey: mimecastsim.DemoAppKey, AccessKey: mimecastsim.DemoAccessKey,
		SecretKey: mimecastsim.DemoSecretKey, Streams: []model.Stream{model.StreamSIEM, model.StreamAudit},
		Schedule: "0 0 1 1 *", LogSourceIdentifier: "mimecast-legacy", InitialLookbackHours: 24}
	if err := st.CreateAccount(ctx, &a); err != nil {
		t.Fatal(err)
	}
	if err := col.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	// delivered counts the record events per identity (the simulator's
	// record ID: audit id, SIEM aggregate code in either generation).
	delivered := func(s model.Stream) map[string]int {
		n := map[string]int{}
		for _, m := range recv.Messages() {
			if m.LEEF == nil || m.LEEF.EventID == model.LogCollectorHealth || m.Attr("mcStream") != string(s) {
				continue
			}
			id := m.Attr("id")
			if s == model.StreamSIEM {
				if id = m.Attr("aggregateId"); id == "" {
					id = m.Attr("aCode")
				}
			}
			n[id]++
		}
		return n
	}
	// exactlyOnce waits until every record of s arrived, then checks that
	// none came twice.
	exactlyOnce := func(s model.Stream) {
		t.Helper()
		records := sim.Records(mimecastsim.DemoAccountName, s)
		var got map[string]int
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got = delivered(s)
			if len(got) >= len(records) || time.Now().After(deadline) {
				break
			}
		}
		for _, r := range records {
			if got[r.ID] != 1 {
				t.Errorf("%s record %s delivered %d times, want once", s, r.ID, got[r.ID])
			}
		}
	}
	if n := len(delivered(model.StreamAudit)); n != 10 {
		t.Fatalf("the first run delivered %d audit events, want the 10 recent ones", n)
	}

	b.navigate(fs.proxy.appURL(""))
	card := cardJS(a.ID)
	b.wait("the account healthy", `(c => !!c && c.dataset.health === 'ok')(`+card+`)`)

	// Re-collect the audit events of the last four days from the dialog,
	// then collect now: the 12 old events arrive, the 10 recent ones are
	// not sent again, and the progress line goes away when it is done.
	b.do(chromedp.Click(cardSel(a.ID, `[data-action="backfill-audit"]`)))
	b.wait("the dialog", `document.getElementById('backfill-dialog').open`)
	now := time.Now()
	local := func(t time.Time) string {
		return fmt.Sprintf(`(d => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16))(new Date(%d))`, t.UnixMilli())
	}
	b.do(chromedp.Evaluate[chromedp.Void](`(() => {
		for (const [id, v] of [['bf-from', ` + local(now.Add(-96*time.Hour)) + `], ['bf-to', ` + local(now) + `]]) {
			const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input'))
		}
	})()`))
	b.do(chromedp.Click(chromedp.ID("bf-submit")))
	b.wait("the request accepted", `!document.getElementById('backfill-dialog').open && document.getElementById('toasts').innerText.includes('Re-collection requested')`)
	b.wait("the pending re-collection", `!!`+card+`.querySelector('.backfill-progress')`)
	b.do(chromedp.Click(cardSel(a.ID, `[data-action="collect"]`)))
	b.wait("the re-collection done", `(c => c.dataset.health === 'ok' && !c.querySelector('.backfill-progress'))(`+card+`)`)
	exactlyOnce(model.StreamAudit)

	// Move the account to API 2.0 in the edit form while new SIEM records
	// arrive; the next run continues where 1.0 stopped.
	sim.Generate(mimecastsim.DemoAccountName, model.StreamSIEM, 30)
	b.do(chromedp.Click(cardSel(a.ID, `[data-action="edit"]`)))
	b.wait("the form", `document.getElementById('account-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("f-api-2")),
		chromedp.SendKeys(chromedp.ID("f-client_id"), mimecastsim.DemoClientID),
		chromedp.SendKeys(chromedp.ID("f-client_secret"), mimecastsim.DemoClientSecret),
		chromedp.Click(chromedp.ID("form-save")))
	b.wait("the account saved", `!document.getElementById('account-dialog').open`)
	if got, err := st.Account(ctx, a.ID); err != nil || got.APIVersion != model.APIVersion2 {
		t.Fatalf("account after the edit: %+v, %v", got, err)
	}
	b.do(chromedp.Click(cardSel(a.ID, `[data-action="collect"]`)))
	exactlyOnce(model.StreamSIEM)
	b.wait("the run through 2.0 finished healthy", card+`.dataset.health === 'ok'`)

	// Mimecast asks the account to wait ten minutes: the run ends at once,
	// each stream says until when, and no request goes out meanwhile.
	sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Delay: 10 * time.Minute})
	b.do(chromedp.Click(cardSel(a.ID, `[data-action="collect"]`)))
	b.wait("the rate limit shown", `(c => c.dataset.health !== 'running' && c.innerText.includes('rate limited by Mimecast until'))(`+card+`)`)
	requests := len(sim.Requests())
	b.do(chromedp.Click(cardSel(a.ID, `[data-action="collect"]`)))
	b.wait("the second run refused too", `(c => c.dataset.health !== 'running' && c.innerText.includes('the next run continues'))(`+card+`)`)
	if n := len(sim.Requests()) - requests; n != 0 {
		t.Errorf("%d requests reached Mimecast during the block", n)
	}
}
