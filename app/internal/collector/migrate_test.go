package collector

import (
	"context"
	"strings"
	"testing"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// switchAPI moves the account to the other API generation with the
// simulator's credentials of that generation, as the panel's edit does.
func (e *testEnv) switchAPI(a *model.Account, version string) {
	e.t.Helper()
	sa := simAccount(a.Name)
	a.APIVersion = version
	a.ClientID, a.ClientSecret, a.AppID, a.AppKey, a.AccessKey, a.SecretKey = "", "", "", "", "", ""
	if version == model.APIVersion2 {
		a.ClientID, a.ClientSecret = sa.ClientID, sa.ClientSecret
	} else {
		a.AppID, a.AppKey, a.AccessKey, a.SecretKey = sa.AppID, sa.AppKey, sa.AccessKey, sa.SecretKey
	}
	if err := e.store.UpdateAccount(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
}

func TestCollector_SwitchFromAPI1To2LosesNothingAndDuplicatesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		// records delivered through 1.0 before the switch, and arriving
		// between the last 1.0 run and the first 2.0 run
		before, between int
		restart         bool // the first 2.0 run crashes after a commit
	}{
		{"quiet switch", 40, 0, false},
		{"records arrived meanwhile", 40, 25, false},
		{"crash during the first 2.0 run", 40, 25, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, mimecastsim.Options{})
			a := e.addAccount("acme", model.APIVersion1, model.StreamSIEM)
			e.generate(a, tt.before)
			if err := e.collector(nil).RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tt.between > 0 {
				e.generate(a, tt.between)
			}
			e.switchAPI(&a, model.APIVersion2)
			runs := 1
			if tt.restart {
				crashed := e.collector(func(o *Options) { o.BeforeCommit = failNth(model.StreamSIEM, 2) })
				crashed.RunOnce(context.Background())
				runs++
			}
			if err := e.collector(nil).RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			runs++
			// Everything through 2.0 from here on.
			e.generate(a, 10)
			if err := e.collector(nil).RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			runs++
			maxDup := 0
			if tt.restart {
				maxDup = 4 // the file of the crashed commit (one file)
			}
			e.checkDelivery(e.settle(e.total(a)+runs), a, maxDup)
			if cp := e.checkpoint(a, model.StreamSIEM); cp == "" || strings.Contains(cp, `"migration"`) {
				t.Errorf("checkpoint after the switch completed: %s", cp)
			}
		})
	}
}

func TestCollector_SwitchFromAPI2To1ContinuesFromTheLastDeliveredTime(t *testing.T) {
	e := newTestEnv(t, mimecastsim.Options{})
	a := e.addAccount("acme", model.APIVersion2, model.StreamSIEM)
	e.generate(a, 30)
	if err := e.collector(nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.generate(a, 20)
	e.switchAPI(&a, model.APIVersion1)
	if err := e.collector(nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Nothing lost; the overlap's records may come twice (2.0 keeps no
	// cross-generation keys), but no more than the 30 delivered before.
	dups := e.checkDelivery(e.settle(e.total(a)+2), a, 30)
	t.Logf("%d duplicates in the overlap", dups[model.StreamSIEM])
}
