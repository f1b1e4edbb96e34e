package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
)

func openTest(t *testing.T, dir, appUUID string) *Store {
	t.Helper()
	box, err := secrets.Open(dir, appUUID)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sampleAccount(name string) *model.Account {
	return &model.Account{
		Name: name, Enabled: true, APIVersion: model.APIVersion2, BaseURL: "https://api.services.mimecast.com",
		ClientID: "cid-" + name, ClientSecret: "very-secret-" + name,
		Streams: []model.Stream{model.StreamSIEM, model.StreamAudit}, Schedule: "*/15 * * * *",
		LogSourceIdentifier: "mimecast-" + name, InitialLookbackHours: 24,
	}
}

func TestStore_MigrationsAreRepeatable(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "")
	ctx := context.Background()
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Re-opening an existing store applies nothing twice and keeps the data.
	s2 := openTest(t, dir, "")
	got, err := s2.Account(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "acme" || got.ClientSecret != "very-secret-acme" {
		t.Fatalf("account after reopen = %+v", got)
	}
	var v int
	if err := s2.db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	want, _ := migrations()
	if v != len(want) {
		t.Fatalf("schema version = %d, want %d", v, len(want))
	}
}

func TestStore_SecretsSealedAtRest(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "")
	a := sampleAccount("acme")
	a.APIVersion, a.AppKey, a.AccessKey, a.SecretKey = model.APIVersion1, "appkey-XYZ", "accesskey-XYZ", "secretkey-XYZ"
	if err := s.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Nothing in the database files holds a plaintext secret.
	for _, name := range []string{DBFile, DBFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, secret := range []string{"very-secret-acme", "appkey-XYZ", "accesskey-XYZ", "secretkey-XYZ"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s contains the plaintext secret %q", name, secret)
			}
		}
	}
}

func TestStore_ChangedKeyFlagsCredentials(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir, "uuid-before")
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openTest(t, dir, "uuid-after")
	got, err := s2.Account(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.CredentialsError, "re-enter credentials") || got.ClientSecret != "" {
		t.Fatalf("CredentialsError = %q, ClientSecret set = %v", got.CredentialsError, got.ClientSecret != "")
	}
	// Entering the secret again clears the condition.
	got.ClientSecret = "new-secret"
	if err := s2.UpdateAccount(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := s2.Account(ctx, a.ID)
	if again.CredentialsError != "" || again.ClientSecret != "new-secret" {
		t.Fatalf("after re-entry: %q %q", again.CredentialsError, again.ClientSecret)
	}
}

func TestStore_AccountCRUD(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	a, b := sampleAccount("beta"), sampleAccount("Alpha")
	for _, x := range []*model.Account{a, b} {
		if err := s.CreateAccount(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListAccounts(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "Alpha" {
		t.Fatalf("ListAccounts = %+v, %v", list, err)
	}
	dup := sampleAccount("ALPHA")
	if err := s.CreateAccount(ctx, dup); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate name: err = %v, want ErrConflict", err)
	}
	a.Schedule, a.ClientSecret = "0 * * * *", ""
	if err := s.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Account(ctx, a.ID)
	if got.Schedule != "0 * * * *" || got.ClientSecret != "" {
		t.Fatalf("after update: %+v", got)
	}
	if err := s.SaveCheckpoint(ctx, a.ID, model.StreamSIEM, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted account: err = %v", err)
	}
	if cp, _ := s.Checkpoint(ctx, a.ID, model.StreamSIEM); cp != nil {
		t.Fatal("checkpoint survived its account")
	}
	if err := s.DeleteAccount(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: err = %v", err)
	}
}

func TestStore_CheckpointsStateAndRuns(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Checkpoint(ctx, a.ID, model.StreamAudit); cp != nil || err != nil {
		t.Fatalf("fresh checkpoint = %q, %v", cp, err)
	}
	s.SaveCheckpoint(ctx, a.ID, model.StreamAudit, []byte("one"))
	s.SaveCheckpoint(ctx, a.ID, model.StreamAudit, []byte("two"))
	if cp, _ := s.Checkpoint(ctx, a.ID, model.StreamAudit); string(cp) != "two" {
		t.Fatalf("checkpoint = %q", cp)
	}

	st, err := s.StreamState(ctx, a.ID, model.StreamSIEM)
	if err != nil || st.State != model.StateIdle || st.LastSuccess != nil {
		t.Fatalf("fresh state = %+v, %v", st, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	st.State, st.LastSuccess, st.EventsTotal = model.StateError, &now, 42
	st.LastError = "boom"
	if err := s.SaveStreamState(ctx, a.ID, st); err != nil {
		t.Fatal(err)
	}
	all, _ := s.StreamStates(ctx)
	if len(all[a.ID]) != 1 || all[a.ID][0].EventsTotal != 42 || !all[a.ID][0].LastSuccess.Equal(now) {
		t.Fatalf("StreamStates = %+v", all)
	}

	for i := range RunHistoryPerStream + 5 {
		start := now.Add(-time.Duration(RunHistoryPerStream+4-i) * time.Minute) // oldest first
		if err := s.AddRun(ctx, model.Run{AccountID: a.ID, Stream: model.StreamSIEM, Started: start, Ended: start, Events: 1, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := s.Runs(ctx, a.ID, 10_000)
	if len(runs) != RunHistoryPerStream {
		t.Fatalf("run history = %d rows, want pruned to %d", len(runs), RunHistoryPerStream)
	}
	n, _ := s.EventsSince(ctx, a.ID, model.StreamSIEM, now.Add(-9*time.Minute-time.Second))
	if n != 10 {
		t.Fatalf("EventsSince = %d, want 10", n)
	}
}

func TestStore_SettingsAndSealedSettings(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "")
	ctx := context.Background()
	if _, ok, err := s.Setting(ctx, "x"); ok || err != nil {
		t.Fatalf("unset setting: ok=%v err=%v", ok, err)
	}
	s.SetSetting(ctx, "x", "1")
	s.SetSetting(ctx, "x", "2")
	if v, ok, _ := s.Setting(ctx, "x"); !ok || v != "2" {
		t.Fatalf("setting = %q", v)
	}
	if err := s.SetSecretSetting(ctx, "proxy_password", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if raw, _, _ := s.Setting(ctx, "sealed:proxy_password"); strings.Contains(raw, "hunter2") {
		t.Fatal("sealed setting stored in plaintext")
	}
	if v, _, err := s.SecretSetting(ctx, "proxy_password"); v != "hunter2" || err != nil {
		t.Fatalf("SecretSetting = %q, %v", v, err)
	}
}

func TestStore_QRadarObjects(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	o := model.QRadarObject{Key: "log_source:account:1", Object: "log_source", AccountID: 1, Name: "Mimecast - A", State: "pending"}
	s.SaveQRadarObject(ctx, o)
	o.QRadarID, o.State = "77", "ok"
	s.SaveQRadarObject(ctx, o)
	got, err := s.QRadarObjects(ctx)
	if err != nil || len(got) != 1 || got[0].QRadarID != "77" || got[0].State != "ok" {
		t.Fatalf("QRadarObjects = %+v, %v", got, err)
	}
	s.DeleteQRadarObject(ctx, o.Key)
	if got, _ := s.QRadarObjects(ctx); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

func TestStore_ForeignKeysAndWALOn(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	var fk int
	var mode string
	if err := s.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	_, err := s.db.Exec(`INSERT INTO checkpoints (account_id, stream, data, updated_at) VALUES (999, 'siem', 'x', 0)`)
	if err == nil {
		t.Fatal("checkpoint for a missing account was accepted")
	}
}
