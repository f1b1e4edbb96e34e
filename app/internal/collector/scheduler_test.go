package collector

import (
	"context"
	"errors"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		expr    string
		wantErr bool
	}{
		{"", false},
		{"*/15 * * * *", false},
		{"0 2 * * 1-5", false},
		{"@hourly", false},
		{"* * * *", true},
		{"*/15 * * * * *", true},
		{"61 * * * *", true},
		{"every 15 minutes", true},
	}
	for _, tt := range tests {
		if err := ValidateSchedule(tt.expr); (err != nil) != tt.wantErr {
			t.Errorf("ValidateSchedule(%q) = %v, wantErr %v", tt.expr, err, tt.wantErr)
		}
	}
}

// nextRuns returns the next_run of each stream of the only account.
func nextRuns(t *testing.T, c *Collector) []*time.Time {
	t.Helper()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*time.Time
	for _, s := range st.Accounts[0].Streams {
		out = append(out, s.NextRun)
	}
	return out
}

func TestCollector_ScheduleChangeAppliesWithoutRestart(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamAudit)
	c := e.collector(nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(c.cron.Entries()); n != 1 {
		t.Fatalf("%d cron entries, want 1", n)
	}
	next := nextRuns(t, c)[0]
	if next == nil || next.Minute()%15 != 0 || next.Second() != 0 || !next.After(time.Now()) {
		t.Fatalf("next_run with the default schedule = %v", next)
	}

	// Once a year, at midnight on 1 January: the next run is far away and
	// easy to predict.
	a.Schedule = "0 0 1 1 *"
	if err := e.store.UpdateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	c.AccountSaved(context.Background(), a.ID, false)
	sched, err := ParseSchedule(a.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	want := sched.Next(time.Now()).UTC()
	if got := nextRuns(t, c)[0]; got == nil || !got.Equal(want) {
		t.Errorf("next_run after the schedule change = %v, want %v", got, want)
	}
	if n := len(c.cron.Entries()); n != 1 {
		t.Errorf("%d cron entries after the change, want 1 (replaced, not added)", n)
	}
	if got := c.cron.Entries()[0].Schedule.Next(time.Now()).UTC(); !got.Equal(want) {
		t.Errorf("cron entry's next time = %v, want %v", got, want)
	}
	c.Wait()
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("a schedule change started a run (%d requests)", n)
	}

	// Disabling removes the job and shows the account disabled.
	a.Enabled = false
	if err := e.store.UpdateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	c.AccountSaved(context.Background(), a.ID, false)
	if n := len(c.cron.Entries()); n != 0 {
		t.Errorf("%d cron entries for a disabled account, want 0", n)
	}
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Accounts[0].Streams[0]; s.State != model.StateDisabled || s.NextRun != nil {
		t.Errorf("disabled account's stream = %s, next_run %v", s.State, s.NextRun)
	}
	if err := c.CollectNow(context.Background(), a.ID); !errors.Is(err, model.ErrAccountDisabled) {
		t.Errorf("CollectNow on a disabled account = %v, want ErrAccountDisabled", err)
	}

	// Deleting removes the job too.
	a.Enabled = true
	if err := e.store.UpdateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	c.AccountSaved(context.Background(), a.ID, false)
	c.Wait()
	if err := e.store.DeleteAccount(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	c.AccountDeleted(context.Background(), a.ID)
	if n := len(c.cron.Entries()); n != 0 {
		t.Errorf("%d cron entries after delete, want 0", n)
	}
}

func TestCollector_AccountSavedStartsARunWhenCreatedOrEnabled(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	c := e.collector(nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := e.addAccount("acme", model.APIVersion2, model.StreamAudit, model.StreamSIEM)
	e.generate(a, 8)
	c.AccountSaved(context.Background(), a.ID, true)
	c.Wait()
	e.checkDelivery(e.settle(e.total(a)), a, 0)

	// An edit that changes nothing about enablement starts no run.
	before := len(e.sim.Requests())
	a.Name = "acme renamed"
	if err := e.store.UpdateAccount(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	c.AccountSaved(context.Background(), a.ID, false)
	c.Wait()
	if n := len(e.sim.Requests()); n != before {
		t.Errorf("an edit started a run (%d requests)", n-before)
	}

	// Disable, then enable: the enabling save starts a run.
	for _, enabled := range []bool{false, true} {
		a.Enabled = enabled
		if err := e.store.UpdateAccount(context.Background(), &a); err != nil {
			t.Fatal(err)
		}
		c.AccountSaved(context.Background(), a.ID, false)
		c.Wait()
	}
	if n := len(e.sim.Requests()); n == before {
		t.Error("enabling the account started no run")
	}
}
