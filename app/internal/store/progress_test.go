package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

func TestStore_CommitSavesCheckpointAndDeliveredTogether(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, a.ID, model.StreamAudit, Progress{Checkpoint: []byte(`{"v":1}`), Delivered: []int64{1, -7, 1 << 62},
		Sets: map[string][]byte{"receipt": {1, 2}, "av": {3}}}); err != nil {
		t.Fatal(err)
	}
	// A later commit replaces only the sets it names.
	if err := s.Commit(ctx, a.ID, model.StreamAudit, Progress{Sets: map[string][]byte{"av": {4, 5}}}); err != nil {
		t.Fatal(err)
	}
	if sets, err := s.DedupSets(ctx, a.ID, model.StreamAudit); err != nil || len(sets) != 2 ||
		string(sets["receipt"]) != "\x01\x02" || string(sets["av"]) != "\x04\x05" {
		t.Fatalf("dedup sets = %v, %v", sets, err)
	}
	if cp, _ := s.Checkpoint(ctx, a.ID, model.StreamAudit); string(cp) != `{"v":1}` {
		t.Fatalf("checkpoint = %s", cp)
	}
	for _, tc := range []struct {
		stream model.Stream
		key    int64
		want   bool
	}{
		{model.StreamAudit, 1, true},
		{model.StreamAudit, -7, true},
		{model.StreamAudit, 1 << 62, true},
		{model.StreamAudit, 2, false},
		{model.StreamDLP, 1, false}, // identities are per stream
	} {
		got, err := s.IsDelivered(ctx, a.ID, tc.stream, tc.key)
		if err != nil || got != tc.want {
			t.Errorf("IsDelivered(%s, %d) = %v, %v; want %v", tc.stream, tc.key, got, err, tc.want)
		}
	}
	// Deleting the checkpoint forgets what the stream delivered too.
	if err := s.DeleteCheckpoint(ctx, a.ID, model.StreamAudit); err != nil {
		t.Fatal(err)
	}
	sets, _ := s.DedupSets(ctx, a.ID, model.StreamAudit)
	if ok, _ := s.IsDelivered(ctx, a.ID, model.StreamAudit, 1); ok || len(sets) != 0 {
		t.Fatalf("after DeleteCheckpoint: delivered %v, sets %v", ok, sets)
	}
}

func TestStore_PruneDeliveredKeepsTheNewest(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	for k := int64(1); k <= 5; k++ {
		now = now.Add(time.Second)
		if err := s.Commit(ctx, a.ID, model.StreamAudit, Progress{Delivered: []int64{k}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PruneDelivered(ctx, a.ID, model.StreamAudit, 2); err != nil {
		t.Fatal(err)
	}
	for k := int64(1); k <= 5; k++ {
		got, _ := s.IsDelivered(ctx, a.ID, model.StreamAudit, k)
		if got != (k >= 4) {
			t.Errorf("key %d kept = %v after pruning to 2", k, got)
		}
	}
}

func TestStore_BackfillLifecycle(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	req := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	b := model.Backfill{From: req.Add(-48 * time.Hour), To: req.Add(-24 * time.Hour), Requested: req}
	if got, _, err := s.Backfill(ctx, a.ID, model.StreamSIEM); got != nil || err != nil {
		t.Fatalf("backfill before any = %v, %v", got, err)
	}
	if err := s.CreateBackfill(ctx, a.ID, model.StreamSIEM, b); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBackfill(ctx, a.ID, model.StreamSIEM, b); !errors.Is(err, ErrConflict) {
		t.Fatalf("second backfill of the stream: %v, want ErrConflict", err)
	}
	b.Delivered, b.Skipped = 10, 3
	if err := s.Commit(ctx, a.ID, model.StreamSIEM, Progress{Backfill: &b, BackfillPosition: []byte(`{"p":1}`)}); err != nil {
		t.Fatal(err)
	}
	got, pos, err := s.Backfill(ctx, a.ID, model.StreamSIEM)
	if err != nil || got == nil || *got != b || string(pos) != `{"p":1}` {
		t.Fatalf("backfill = %+v %s %v, want %+v", got, pos, err, b)
	}
	all, err := s.Backfills(ctx)
	if err != nil || all[a.ID][model.StreamSIEM] != b {
		t.Fatalf("backfills = %v, %v", all, err)
	}
	// Finishing an older request leaves a newer one alone.
	if err := s.DeleteBackfill(ctx, a.ID, model.StreamSIEM, req.Add(-time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finishing another request: %v", err)
	}
	if err := s.DeleteBackfill(ctx, a.ID, model.StreamSIEM, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A commit for a cancelled backfill still saves the rest.
	err = s.Commit(ctx, a.ID, model.StreamSIEM, Progress{Backfill: &b, Delivered: []int64{42}})
	if !errors.Is(err, ErrBackfillGone) {
		t.Fatalf("commit after cancel: %v, want ErrBackfillGone", err)
	}
	if ok, _ := s.IsDelivered(ctx, a.ID, model.StreamSIEM, 42); !ok {
		t.Fatal("identities of a commit for a cancelled backfill were not saved")
	}
	if err := s.DeleteBackfill(ctx, a.ID, model.StreamSIEM, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v, want ErrNotFound", err)
	}
	// Deleting the account takes its backfills and identities along.
	if err := s.CreateBackfill(ctx, a.ID, model.StreamAudit, b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	s.db.QueryRow(`SELECT (SELECT COUNT(*) FROM backfills) + (SELECT COUNT(*) FROM delivered)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d backfill/delivered rows left after deleting the account", n)
	}
}

func TestStore_ResetCheckpointKeepsTheDuplicateFilter(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	ctx := context.Background()
	a := sampleAccount("acme")
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, a.ID, model.StreamSIEM, Progress{Checkpoint: []byte(`{"v":1,"token":"t"}`), Delivered: []int64{9},
		Sets: map[string][]byte{"receipt": {1}, "migration/counts": {2}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetCheckpoint(ctx, a.ID, model.StreamSIEM, []byte(`{"v":1}`), []string{"migration/counts"}); err != nil {
		t.Fatal(err)
	}
	cp, _ := s.Checkpoint(ctx, a.ID, model.StreamSIEM)
	sets, _ := s.DedupSets(ctx, a.ID, model.StreamSIEM)
	delivered, _ := s.IsDelivered(ctx, a.ID, model.StreamSIEM, 9)
	if string(cp) != `{"v":1}` || len(sets) != 1 || sets["receipt"] == nil || !delivered {
		t.Fatalf("after reset: checkpoint %s, sets %v, delivered %v", cp, sets, delivered)
	}
	if err := s.ResetCheckpoint(ctx, a.ID, model.StreamSIEM, nil, nil); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, a.ID, model.StreamSIEM); cp != nil {
		t.Fatalf("checkpoint after a reset keeping nothing = %s", cp)
	}
}
