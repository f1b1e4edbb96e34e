package qradar

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/qradarsim"
)

// countObjects checks the simulator holds exactly one set of the app's
// objects for n accounts.
func countObjects(t *testing.T, sim *qradarsim.Server, accounts int) {
	t.Helper()
	customTypes := 0
	for _, ty := range sim.LogSourceTypes() {
		if ty.Name == TypeName {
			customTypes++
		}
	}
	groups := 0
	for _, g := range sim.Groups() {
		if g.Name == GroupName {
			groups++
		}
	}
	qids := 0
	for _, q := range sim.QIDRecords() {
		if strings.HasPrefix(q.Name, "Mimecast ") {
			qids++
		}
	}
	if customTypes != 1 || groups != 1 {
		t.Errorf("types %q: %d, groups %q: %d; want 1 each", TypeName, customTypes, GroupName, groups)
	}
	if got := len(sim.LogSources()); got != accounts {
		t.Errorf("log sources: %d, want %d", got, accounts)
	}
	if qids != len(Events()) || len(sim.EventMappings()) != len(Events()) {
		t.Errorf("QID records %d, mappings %d; want %d each", qids, len(sim.EventMappings()), len(Events()))
	}
	if len(sim.Properties()) != len(Properties()) || len(sim.Expressions()) != totalLEEFKeys() {
		t.Errorf("properties %d, expressions %d; want %d and %d", len(sim.Properties()), len(sim.Expressions()), len(Properties()), totalLEEFKeys())
	}
	if _, ok := sim.ReferenceSetValues(ReferenceSetName); !ok {
		t.Errorf("reference set %q missing", ReferenceSetName)
	}
}

func TestReconcile_CreatesObjectsOnceAcrossRestartsAndRepeats(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme EU", "mimecast-acme-eu"), account(2, "Beta", "mimecast-beta"))

	m := h.manager()
	h.reconcile(m)
	countObjects(t, h.sim, 2)
	if len(creates(h.sim.Requests())) == 0 {
		t.Fatal("the first reconcile created nothing")
	}

	for i, mgr := range []*Manager{m, h.manager(), h.manager()} { // repeat, then two restarts
		h.sim.ResetRequests()
		h.reconcile(mgr)
		if c := creates(h.sim.Requests()); len(c) != 0 {
			t.Errorf("reconcile %d created again: %v", i+2, c)
		}
		countObjects(t, h.sim, 2)
	}

	// Every remembered object is in the store with its QRadar id.
	objs, _ := h.store.QRadarObjects(context.Background())
	wantRows := 3 + 2 + 2*len(Events()) + len(Properties()) + totalLEEFKeys() // type, group, refset + log sources + ...
	if len(objs) != wantRows {
		t.Errorf("store rows: %d, want %d", len(objs), wantRows)
	}
	for _, o := range objs {
		if o.QRadarID == "" || (o.State != StateOK && o.State != StatePending) {
			t.Errorf("row %s: id %q state %q (%s)", o.Key, o.QRadarID, o.State, o.LastError)
		}
	}
	ls := h.sim.LogSources()
	for _, l := range ls {
		if !l.Enabled || l.ProtocolTypeID != 0 || len(l.GroupIDs) != 1 {
			t.Errorf("log source %+v: want enabled, Syslog, in the Mimecast group", l)
		}
	}
}

func TestReconcile_AdoptsObjectsWhenTheStoreIsLost(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	h.reconcile(h.manager())

	// A new store (the app reinstalled) finds everything by name.
	h.store = newMemStore(account(1, "Acme", "mimecast-acme"))
	h.sim.ResetRequests()
	h.reconcile(h.manager())
	if c := creates(h.sim.Requests()); len(c) != 0 {
		t.Errorf("created again after losing the store: %v", c)
	}
	countObjects(t, h.sim, 1)
	if o, ok := h.store.object(keyLogSource(1)); !ok || o.QRadarID == "" {
		t.Errorf("log source not adopted into the new store: %+v", o)
	}
}

func TestReconcile_AdoptsExistingObjectOn409(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	h.reconcile(h.manager())
	before := len(h.sim.LogSources())

	// A console whose name filter misses (or a race with another creator):
	// the app's POST then meets 409 and must adopt the existing object.
	h.store = newMemStore(account(1, "Acme", "mimecast-acme"))
	var mu sync.Mutex
	seen := map[string]bool{}
	h.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		key := r.URL.Path + "?" + r.URL.RawQuery
		mu.Lock()
		first := !seen[key]
		seen[key] = true
		mu.Unlock()
		if first && r.Method == http.MethodGet && strings.Contains(r.URL.RawQuery, "filter=") && !strings.HasSuffix(r.URL.Path, "log_source_types") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("[]"))
			return
		}
		next.ServeHTTP(w, r)
	})
	h.sim.ResetRequests()
	m := h.manager()
	err := m.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	var conflicts int
	for _, r := range h.sim.Requests() {
		if r.Status == http.StatusConflict {
			conflicts++
		}
	}
	if conflicts == 0 {
		t.Fatal("no 409 was met; the test does not exercise adoption")
	}
	if got := len(h.sim.LogSources()); got != before {
		t.Errorf("log sources: %d, want %d", got, before)
	}
	o, _ := h.store.object(keyLogSource(1))
	if o.QRadarID != "" && o.QRadarID != idString(h.sim.LogSources()[0].ID) || o.State == StateError {
		t.Errorf("log source row after 409: %+v", o)
	}
}

func TestReconcile_UpdatesLogSourceOnRenameAndIdentifierChange(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)
	id := h.sim.LogSources()[0].ID

	h.store.setAccounts(account(1, "Acme Europe", "mimecast-acme-eu"))
	h.reconcile(m)
	ls := h.sim.LogSources()
	if len(ls) != 1 || ls[0].ID != id {
		t.Fatalf("log sources after rename: %+v, want the same one (id %d)", ls, id)
	}
	if ls[0].Name != "Mimecast - Acme Europe" {
		t.Errorf("name %q, want %q", ls[0].Name, "Mimecast - Acme Europe")
	}
	var ident string
	for _, p := range ls[0].ProtocolParameters {
		if p.Name == "identifier" {
			ident = p.Value
		}
	}
	if ident != "mimecast-acme-eu" {
		t.Errorf("identifier %q, want mimecast-acme-eu", ident)
	}
	if o, _ := h.store.object(keyLogSource(1)); o.Name != "Mimecast - Acme Europe" {
		t.Errorf("row name %q", o.Name)
	}
}

func TestReconcile_DisablesOnDeleteAndReenablesWhenTheAccountReturns(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"), account(2, "Beta", "mimecast-beta"))
	m := h.manager()
	h.reconcile(m)
	var acmeID int64
	for _, l := range h.sim.LogSources() {
		if l.Name == "Mimecast - Acme" {
			acmeID = l.ID
		}
	}

	h.store.setAccounts(account(2, "Beta", "mimecast-beta"))
	h.reconcile(m)
	for _, l := range h.sim.LogSources() {
		if l.ID == acmeID && l.Enabled {
			t.Errorf("deleted account's log source still enabled")
		}
	}
	if len(h.sim.LogSources()) != 2 {
		t.Errorf("a log source was deleted: QRadar must keep it (and its events)")
	}
	row, ok := h.store.object(keyLogSource(1))
	if !ok || row.State != StateDisabled {
		t.Errorf("row of the deleted account: %+v, want state %q", row, StateDisabled)
	}
	h.reconcile(m) // stays disabled, nothing re-created
	if len(h.sim.LogSources()) != 2 {
		t.Fatalf("log sources: %d", len(h.sim.LogSources()))
	}

	// The account comes back (a new id) with the same identifier.
	h.store.setAccounts(account(2, "Beta", "mimecast-beta"), account(3, "Acme again", "mimecast-acme"))
	h.reconcile(m)
	ls := h.sim.LogSources()
	if len(ls) != 2 {
		t.Fatalf("log sources: %d, want the same 2", len(ls))
	}
	for _, l := range ls {
		if l.ID == acmeID && (!l.Enabled || l.Name != "Mimecast - Acme again") {
			t.Errorf("returning account's log source: %+v, want re-enabled and renamed", l)
		}
	}
	if row, ok := h.store.object(keyLogSource(3)); !ok || row.QRadarID != idString(acmeID) {
		t.Errorf("new account row %+v, want QRadar id %d", row, acmeID)
	}
	if _, ok := h.store.object(keyLogSource(1)); ok {
		t.Errorf("the old row still exists and would disable the log source again")
	}
	h.reconcile(m)
	for _, l := range h.sim.LogSources() {
		if l.ID == acmeID && !l.Enabled {
			t.Errorf("log source disabled again on the next reconcile")
		}
	}
}

func TestReconcile_RecreatesWhatAnAdministratorDeleted(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)

	h.sim.DeleteLogSource(h.sim.LogSources()[0].ID)
	var senderID int64
	for _, p := range h.sim.Properties() {
		if p.Name == "Mimecast Sender" {
			senderID = p.ID
		}
	}
	h.sim.DeleteProperty(senderID)
	h.sim.DeleteReferenceSet(ReferenceSetName)

	h.reconcile(m)
	countObjects(t, h.sim, 1)
	for _, key := range []string{keyLogSource(1), "property:Mimecast Sender", keyRefSet(ReferenceSetName)} {
		o, _ := h.store.object(key)
		if !strings.Contains(o.LastError, "created again") {
			t.Errorf("row %s: state %q last_error %q, want it to say it was created again", key, o.State, o.LastError)
		}
	}
	if s := h.state(m); !strings.Contains(s.Message, "created again") {
		t.Errorf("state message %q does not say objects were created again", s.Message)
	}
	// The expressions of the deleted property were created again too, for
	// the new property.
	for _, e := range h.sim.Expressions() {
		found := false
		for _, p := range h.sim.Properties() {
			found = found || p.Identifier == e.RegexPropertyIdentifier
		}
		if !found {
			t.Errorf("expression %q points at a deleted property", e.Expression)
		}
	}
}

func TestReconcile_UniversalLEEFFallbackOnlyOnRefusal(t *testing.T) {
	tests := []struct {
		name         string
		status, code int
		wantFallback bool
	}{
		{"403 refused", 403, 1000, true},
		{"422 refused", 422, 1005, true},
		{"500 passing error", 500, 1020, false},
		{"503 passing error", 503, 1020, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, qradarsim.Options{})
			h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
			h.sim.AddFault(qradarsim.Fault{Method: http.MethodPost, Path: "/api/config/event_sources/log_source_management/log_source_types",
				Status: tt.status, Code: tt.code, Message: "refused by the test"})
			m := h.manager()
			err := m.Reconcile(context.Background())
			s := h.state(m)
			if !tt.wantFallback {
				if err == nil {
					t.Fatal("Reconcile succeeded; want the 5xx reported")
				}
				if len(h.sim.LogSources()) != 0 || s.LogSourceType == FallbackTypeName {
					t.Fatalf("fell back on a %d: log sources %v, type %q", tt.status, h.sim.LogSources(), s.LogSourceType)
				}
				if s.State != StateError {
					t.Errorf("state %q, want error", s.State)
				}
				// Once QRadar recovers, the app's own type is created.
				h.sim.ClearFaults()
				h.reconcile(m)
				if got := h.state(m).LogSourceType; got != TypeName {
					t.Errorf("after recovery the type is %q, want %q", got, TypeName)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if s.LogSourceType != FallbackTypeName || !strings.Contains(s.Message, FallbackTypeName) {
				t.Errorf("state names type %q, message %q; want %q named", s.LogSourceType, s.Message, FallbackTypeName)
			}
			ls := h.sim.LogSources()
			if len(ls) != 1 || ls[0].TypeID != qradarsim.UniversalLEEFTypeID {
				t.Fatalf("log sources %+v, want one of type Universal LEEF", ls)
			}
			for _, mp := range h.sim.EventMappings() {
				if mp.LogSourceTypeID != qradarsim.UniversalLEEFTypeID {
					t.Fatalf("mapping %+v not on Universal LEEF", mp)
				}
			}
			// The fallback is kept: no new attempt to create the type.
			h.sim.ClearFaults()
			h.sim.ResetRequests()
			h.reconcile(h.manager())
			if c := creates(h.sim.Requests()); len(c) != 0 {
				t.Errorf("reconcile after fallback created %v", c)
			}
		})
	}
}

func TestReconcile_FailuresShowWhatToDoAndKeepObjects(t *testing.T) {
	tests := []struct {
		name           string
		setup          func(h *harness, m *Manager)
		wantAuthorised bool
		wantText       string
		wantNoRequests bool
	}{
		{"missing token", func(h *harness, _ *Manager) { h.setToken("") }, false, "not authorised", true},
		{"401 refused token", func(h *harness, _ *Manager) { h.sim.SetToken("another-token") }, false, "refused the app's token (401)", false},
		{"403 missing capability", func(h *harness, _ *Manager) {
			h.sim.AddFault(qradarsim.Fault{Path: "/api/config/*", Status: 403, Code: 1000, Message: "Your account is not authorized to access the requested resource."})
		}, false, "Admin capability", false},
		{"unreachable console", func(h *harness, _ *Manager) { h.srv.Close() }, true, "cannot be reached", false},
		{"CA bundle unreadable", func(h *harness, m *Manager) { m.opts.CABundle = h.bundle + ".gone" }, true, "REQUESTS_CA_BUNDLE", true},
		{"console certificate not trusted", func(h *harness, m *Manager) { m.opts.CABundle = "" }, true, "not trusted", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, qradarsim.Options{})
			h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
			m := h.manager()
			h.reconcile(m)
			before, _ := h.store.QRadarObjects(context.Background())

			tt.setup(h, m)
			h.sim.ResetRequests()
			if err := m.Reconcile(context.Background()); err == nil {
				t.Fatal("Reconcile succeeded")
			}
			s := h.state(m)
			if s.State != StateError || s.Authorised != tt.wantAuthorised || !strings.Contains(s.Message, tt.wantText) {
				t.Errorf("state %q authorised %v message %q; want error, %v, containing %q", s.State, s.Authorised, s.Message, tt.wantAuthorised, tt.wantText)
			}
			if !strings.Contains(s.Message, "Collection goes on") {
				t.Errorf("message %q does not reassure that collection goes on", s.Message)
			}
			if tt.wantNoRequests && len(h.sim.Requests()) != 0 {
				t.Errorf("%d requests sent without a token", len(h.sim.Requests()))
			}
			after, _ := h.store.QRadarObjects(context.Background())
			if len(after) != len(before) {
				t.Errorf("rows changed from %d to %d", len(before), len(after))
			}
			if strings.Contains(s.Message, testToken) {
				t.Error("the message shows the token")
			}
		})
	}
}

func TestReconcile_EveryRequestCarriesSECAcceptAndASupportedVersion(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)
	if _, err := m.Deploy(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RunSearch(context.Background(), "impersonation-hits", 24, ""); err != nil {
		t.Fatal(err)
	}
	reqs := h.sim.Requests()
	if len(reqs) < 50 {
		t.Fatalf("only %d requests recorded", len(reqs))
	}
	for _, r := range reqs {
		if r.SEC != testToken || r.Accept != "application/json" {
			t.Errorf("%s %s: SEC %q Accept %q", r.Method, r.Path, r.SEC, r.Accept)
		}
		if r.Path == "/api/help/versions" {
			continue
		}
		// DefaultVersions lists 27.0; the app caps at the newest it was
		// tested with.
		if r.Version != MaxTestedVersion {
			t.Errorf("%s %s: Version %q, want %s", r.Method, r.Path, r.Version, MaxTestedVersion)
		}
		if r.Status >= 400 && r.Status != 404 {
			t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
		}
	}
}

func TestReconcile_QRadarOnCloudMakesNoCalls(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	opts := h.options()
	opts.IsQROC = true
	m, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Reconcile(context.Background()); err == nil {
		t.Error("Reconcile on QRadar on Cloud succeeded")
	}
	if _, err := m.Deploy(context.Background()); !errors.Is(err, ErrSetupOff) {
		t.Errorf("Deploy: %v, want ErrSetupOff", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	m.RequestReconcile()
	cancel()
	<-done
	if n := len(h.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent on QRadar on Cloud", n)
	}
	s := h.state(m)
	if s.State != StateOff || !strings.Contains(s.Message, "QRadar on Cloud") || !s.IsQROC {
		t.Errorf("state %+v", s)
	}
}

func TestReconcile_ObjectErrorsDoNotStopTheRest(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"), account(2, "No identifier", ""))
	h.sim.AddFault(qradarsim.Fault{Method: http.MethodPost, Path: "/api/config/event_sources/custom_properties/regex_properties",
		Status: 422, Code: 1005, Message: "property refused by the test", Times: 1})
	m := h.manager()
	if err := m.Reconcile(context.Background()); err == nil {
		t.Fatal("Reconcile reported success with failed objects")
	}
	s := h.state(m)
	if s.State != StateError {
		t.Errorf("state %q, want error", s.State)
	}
	var failed []model.QRadarObject
	for _, o := range s.Objects {
		if o.State == StateError {
			failed = append(failed, o)
		}
	}
	if len(failed) != 2 {
		t.Fatalf("failed rows %+v, want the first property and the account without identifier", failed)
	}
	if len(h.sim.LogSources()) != 1 || len(h.sim.EventMappings()) != len(Events()) {
		t.Errorf("the other objects were not created")
	}
	// The next reconcile repairs the property.
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	h.reconcile(m)
	if got := h.state(m).State; got != StatePending && got != StateOK {
		t.Errorf("state after repair %q", got)
	}
}

func TestWireHostname_MatchesWhatTheSyslogHeaderCarries(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mimecast-acme", "mimecast-acme"},
		{"acme eu", "acme_eu"},
		{"café", "caf__"},
		{strings.Repeat("a", 300), strings.Repeat("a", 255)},
	}
	for _, tt := range tests {
		if got := wireHostname(tt.in); got != tt.want {
			t.Errorf("wireHostname(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
