package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
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

// window collects a time-window stream (audit, TTP, DLP; see
// windowCheckpoint). Each page is delivered, flushed and committed together
// with the next page token, so a crash re-sends at most one page. A window
// created in this run is the last one: its end is close to now.
func (s *streamRun) window(ctx context.Context, data []byte) error {
	cp := windowCheckpoint{V: checkpointVersion}
	if err := decodeCheckpoint(data, &cp, &cp.V); err != nil {
		return err
	}
	cp.V = checkpointVersion
	for created := false; ; {
		if cp.Window == nil {
			if created {
				return nil
			}
			end := s.now.Add(-windowSettle)
			start := s.initialStart(logRetention)
			if !cp.End.IsZero() {
				if !end.After(cp.End) {
					return nil // nothing new yet
				}
				start = cp.End.Add(-windowOverlap)
			}
			if !end.After(start) {
				return nil
			}
			cp.Window = &windowState{Start: start, End: end}
			created = true
		}
		done, err := s.windowPages(ctx, &cp)
		if err != nil || !done {
			return err
		}
	}
}

// windowPages reads the pages of cp.Window until it completes (true) or
// the budget is used up (false).
func (s *streamRun) windowPages(ctx context.Context, cp *windowCheckpoint) (bool, error) {
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
	// the first one. The count covers the pages read in this run; after a
	// restart inside a window it starts again, so an identical record on a
	// later page can then be taken for an earlier one in the window's tail.
	copies := map[string]int{}
	for {
		if s.budget <= 0 {
			s.budgetUsed()
			return false, nil
		}
		page, err := s.src.Logs(ctx, mimecast.LogQuery{
			Stream: s.stream, Start: w.Start, End: w.End, PageToken: w.PageToken, PageSize: s.c.logsPageSize,
		}, func(r *model.Record) error {
			id := recordIdentity(r, copies)
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
			return s.d.send(r)
		})
		s.d.malformed += int64(page.Stats.Malformed)
		if err != nil {
			return false, fmt.Errorf("fetching %s logs for %s – %s: %w", s.stream,
				w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), err)
		}
		s.budget--
		w.Tail = tail.list(maxSeen)
		tail.commit()
		// The client ends the window on a missing token and on empty data
		// (some tenants send a `next` that leads to an empty page).
		if page.Next == "" {
			cp.End, cp.Seen, cp.Window = w.End, w.Tail, nil
			return true, s.commit(ctx, cp)
		}
		w.PageToken = page.Next
		if err := s.commit(ctx, cp); err != nil {
			return false, err
		}
	}
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
