package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

const (
	// windowOverlap is how far each window reaches back into the previous
	// one. Mimecast's log endpoints take date-time ranges whose bound
	// inclusiveness is undocumented and may show a record some time after
	// its own time; re-reading the overlap and skipping the records in
	// seen covers both without sending anything twice.
	windowOverlap = 10 * time.Minute
	// windowSettle keeps a window's end this far behind now, where the
	// newest records are still arriving.
	windowSettle = time.Minute
	// logsPageSize is the page size asked of the log endpoints (the largest
	// page size peers use is 500; 100 keeps a re-read page small).
	logsPageSize = 100
	// maxSeen bounds the identities kept for the overlap. Beyond it, the
	// oldest are dropped (and duplicates become possible): an account
	// producing more than this many records of one stream in ten minutes
	// is far beyond what these endpoints deliver.
	maxSeen = 20000
)

// windowSpec is how a time-window stream reads its pages.
type windowSpec struct {
	what      string        // names the data in errors, e.g. "audit logs"
	retention time.Duration // how far back the first window may start
	// fetch reads the page of w at w.PageToken ("" = the window's first
	// page), calling fn for each record; it returns the next page's token,
	// "" after the last page.
	fetch func(ctx context.Context, w *windowState, fn func(*model.Record) error) (string, mimecast.DecodeStats, error)
	// sent, when set, sees each record handed to the sender (valid during
	// the call only); committed, when set, runs after each page's commit.
	sent      func(*model.Record)
	committed func(ctx context.Context)
}

// logsSpec reads the paged /api/... log endpoints (audit, TTP, DLP,
// message_release, archive_search).
func (s *streamRun) logsSpec() windowSpec {
	return windowSpec{
		what:      string(s.stream) + " logs",
		retention: logRetention,
		fetch: func(ctx context.Context, w *windowState, fn func(*model.Record) error) (string, mimecast.DecodeStats, error) {
			page, err := s.src.Logs(ctx, mimecast.LogQuery{
				Stream: s.stream, Start: w.Start, End: w.End, PageToken: w.PageToken, PageSize: s.c.logsPageSize,
			}, fn)
			return page.Next, page.Stats, err
		},
	}
}

// window collects a time-window stream (see windowCheckpoint). Each page
// is delivered, flushed and committed together with the next page token,
// so a crash re-sends at most one page. A window created in this run is the
// last one: its end is close to now.
func (s *streamRun) window(ctx context.Context, data []byte, spec windowSpec) error {
	cp := windowCheckpoint{V: checkpointVersion}
	if err := decodeCheckpoint(data, &cp, &cp.V); err != nil {
		return err
	}
	cp.V = checkpointVersion
	for created := false; ; {
		if cp.Window == nil {
			if created {
				return s.windowBackfill(ctx, spec, cp.End)
			}
			end := s.now.Add(-windowSettle)
			start := s.initialStart(spec.retention)
			if !cp.End.IsZero() {
				if !end.After(cp.End) {
					return s.windowBackfill(ctx, spec, cp.End) // nothing new yet
				}
				start = cp.End.Add(-windowOverlap)
			}
			if !end.After(start) {
				return s.windowBackfill(ctx, spec, cp.End)
			}
			cp.Window = &windowState{Start: start, End: end}
			created = true
		}
		done, err := s.windowPages(ctx, &cp, spec)
		if err != nil || !done {
			return err
		}
	}
}

// windowPages reads the pages of cp.Window until it completes (true) or
// the budget is used up (false).
func (s *streamRun) windowPages(ctx context.Context, cp *windowCheckpoint, spec windowSpec) (bool, error) {
	w := cp.Window
	seen := newIDSet(cp.Seen)
	tail := newIDSet(w.Tail)
	// The next window starts at w.End − overlap, but Mimecast takes times
	// to the second: a record in that first second is read again though it
	// is a fraction of a second older than the start. The tail therefore
	// starts a second earlier.
	tailFrom := w.End.Add(-windowOverlap).Truncate(time.Second).Add(-time.Second)
	// copies counts byte-identical records without an ID, so a second
	// identical record gets its own identity instead of being taken for
	// the first one (see windowCheckpoint). A run inside a window takes the
	// count up from the records of the last second read (edge).
	copies := copiesIn(w.Edge)
	edge := newEdge(w)
	var keys []int64 // identities delivered since the last commit
	for {
		if s.budget <= 0 {
			s.budgetUsed()
			return false, nil
		}
		next, stats, err := spec.fetch(ctx, w, func(r *model.Record) error {
			id := recordIdentity(r, copies)
			edge.add(r, id)
			// Every record read in the window's last overlap goes to the
			// tail, delivered now or before: the next window reads it again.
			if r.Time.IsZero() || !r.Time.Before(tailFrom) {
				tail.add(id)
			}
			if seen.has(id) {
				return nil
			}
			if tail.has(id) && tail.committed(id) {
				return nil
			}
			if err := s.d.send(r); err != nil {
				return err
			}
			if s.keepKeys {
				keys = append(keys, int64(hashKey(id)))
			}
			if spec.sent != nil {
				spec.sent(r)
			}
			return nil
		})
		s.d.malformed += int64(stats.Malformed)
		if err != nil {
			return false, windowError(spec, w, err)
		}
		s.budget--
		w.Tail = tail.list(maxSeen)
		tail.commit()
		edge.save(w)
		commit := func() error {
			data, err := encodeCheckpoint(cp)
			if err != nil {
				return err
			}
			err = s.commitProgress(ctx, store.Progress{Checkpoint: data, Delivered: keys})
			keys = nil
			return err
		}
		// The client ends the window on a missing token and on empty data
		// (some tenants send a `next` that leads to an empty page).
		if next == "" {
			cp.End, cp.Seen, cp.Window = w.End, w.Tail, nil
			if err := commit(); err != nil {
				return false, err
			}
			if spec.committed != nil {
				spec.committed(ctx)
			}
			return true, nil
		}
		w.PageToken = next
		if err := commit(); err != nil {
			return false, err
		}
		if spec.committed != nil {
			spec.committed(ctx)
		}
	}
}

func windowError(spec windowSpec, w *windowState, err error) error {
	return fmt.Errorf("fetching %s for %s – %s: %w", spec.what, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), err)
}

// edge tracks the hash identities of the last records read that share the
// last one's time (windowState.Edge), so a run resuming inside a window
// numbers identical records on from there (see windowCheckpoint).
type edge struct {
	ids  []string
	time time.Time
}

func newEdge(w *windowState) *edge { return &edge{ids: slices.Clone(w.Edge), time: w.EdgeTime} }

func (e *edge) add(r *model.Record, id string) {
	if !r.Time.Equal(e.time) {
		e.ids, e.time = e.ids[:0], r.Time
	}
	if r.ID == "" {
		e.ids = append(e.ids, id)
	}
}

func (e *edge) save(w *windowState) { w.Edge, w.EdgeTime = slices.Clone(e.ids), e.time }

// windowBackfill carries out the stream's pending backfill: the window
// [From, To] read page by page like a regular window, each record checked
// against the identities of the records delivered before (store.IsDelivered)
// and sent only when QRadar never received it. Its position is a
// windowState (page token and edge), committed after every page with the
// counts and the new identities.
//
// The window ends at regularEnd, the end of the last regular window, when
// To is later: the regular windows read what comes after it, and their
// overlap knows only their own records, so a record the backfill sent
// after regularEnd would be sent again. Until the stream completed a
// regular window (regularEnd zero) the backfill waits.
func (s *streamRun) windowBackfill(ctx context.Context, spec windowSpec, regularEnd time.Time) error {
	b, data, err := s.c.store.Backfill(ctx, s.acct.ID, s.stream)
	if err != nil || b == nil || regularEnd.IsZero() {
		return err
	}
	w := windowState{Start: b.From, End: b.To}
	if regularEnd.Before(w.End) {
		w.End = regularEnd
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &w); err != nil {
			return fmt.Errorf("reading the re-collection's position: %w", err)
		}
	}
	if !w.End.After(w.Start) {
		return s.endBackfill(ctx, b, true, nil)
	}
	s.log.Info("Re-collecting", slog.Time("from", b.From), slog.Time("to", b.To))
	copies := copiesIn(w.Edge)
	edge := newEdge(&w)
	for {
		if s.budget <= 0 {
			s.budgetUsed()
			return nil
		}
		var keys []int64
		page := map[int64]bool{} // identities sent from this page, not yet in the store
		next, stats, err := spec.fetch(ctx, &w, func(r *model.Record) error {
			id := recordIdentity(r, copies)
			edge.add(r, id)
			k := int64(hashKey(id))
			done := page[k]
			if !done {
				var err error
				if done, err = s.c.store.IsDelivered(ctx, s.acct.ID, s.stream, k); err != nil {
					return err
				}
			}
			if done {
				b.Skipped++
				return nil
			}
			if err := s.d.send(r); err != nil {
				return err
			}
			b.Delivered++
			page[k] = true
			keys = append(keys, k)
			return nil
		})
		s.d.malformed += int64(stats.Malformed)
		if err != nil {
			return s.endBackfill(ctx, b, false, windowError(spec, &w, err))
		}
		s.budget--
		edge.save(&w)
		w.PageToken = next
		pos, err := json.Marshal(&w)
		if err != nil {
			return err
		}
		err = s.commitProgress(ctx, store.Progress{Backfill: b, BackfillPosition: pos, Delivered: keys})
		if err != nil || next == "" {
			return s.endBackfill(ctx, b, next == "", err)
		}
	}
}

// copiesIn returns, per content hash, the highest copy number among the
// hash identities in ids ("sha256:<h>" is the first copy, "sha256:<h>#n"
// the n-th), so counting continues where a run inside the window stopped.
func copiesIn(ids []string) map[string]int {
	copies := map[string]int{}
	for _, id := range ids {
		h, ok := strings.CutPrefix(id, "sha256:")
		if !ok {
			continue
		}
		n := 1
		if base, num, found := strings.Cut(h, "#"); found {
			v, err := strconv.Atoi(num)
			if err != nil || v < 2 {
				continue
			}
			h, n = base, v
		}
		copies[h] = max(copies[h], n)
	}
	return copies
}

// recordIdentity is the record's ID, or a hash of its content (with the
// number of identical records read before it, when there were any) for
// records that carry no ID.
func recordIdentity(r *model.Record, copies map[string]int) string {
	if r.ID != "" {
		return "id:" + r.ID
	}
	sum := sha256.Sum256(r.Raw)
	h := hex.EncodeToString(sum[:16])
	n := copies[h]
	copies[h] = n + 1
	if n == 0 {
		return "sha256:" + h
	}
	return "sha256:" + h + "#" + strconv.Itoa(n+1)
}

// idSet is an insertion-ordered set of record identities. Identities added
// since the last commit are "uncommitted": a record met again before its
// page was committed (a page that repeats a record) is still delivered.
type idSet struct {
	order []string
	index map[string]bool // identity → committed
}

func newIDSet(ids []string) *idSet {
	s := &idSet{index: make(map[string]bool, len(ids))}
	for _, id := range ids {
		if _, ok := s.index[id]; !ok {
			s.index[id] = true
			s.order = append(s.order, id)
		}
	}
	return s
}

func (s *idSet) add(id string) {
	if _, ok := s.index[id]; !ok {
		s.index[id] = false
		s.order = append(s.order, id)
	}
}

func (s *idSet) has(id string) bool {
	_, ok := s.index[id]
	return ok
}

func (s *idSet) committed(id string) bool { return s.index[id] }

func (s *idSet) commit() {
	for id := range s.index {
		s.index[id] = true
	}
}

// list returns the newest max identities, oldest first, dropping the rest.
func (s *idSet) list(max int) []string {
	if len(s.order) > max {
		for _, id := range s.order[:len(s.order)-max] {
			delete(s.index, id)
		}
		s.order = s.order[len(s.order)-max:]
	}
	return append([]string(nil), s.order...)
}
