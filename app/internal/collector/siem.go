package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// batchPageSize is the number of file URLs asked for per API 2.0 batch page.
const batchPageSize = 100

// errInvalidSIEMToken is the stream error when API 1.0 refuses the saved
// token. The checkpoint is kept until the administrator confirms a reset:
// starting again from the initial lookback re-sends or skips data, which
// must be a deliberate choice.
var errInvalidSIEMToken = errors.New("Mimecast rejected the saved SIEM position (invalid token); " +
	"reset it in the panel to restart from the initial lookback")

// batchStream is a stream read from an API 2.0 batch endpoint: the Cloud
// Gateway SIEM (siem) or the Cloud Integrated SIEM (siem_ci). Both list
// pre-signed files per type with @nextPage paging and share the
// checkpoint shape and delivery rules of siemBatchCheckpoint.
type batchStream struct {
	what  string   // names the files in errors, e.g. "SIEM"
	types []string // one cursor each, in turn order
	list  func(ctx context.Context, src source, typ string, start time.Time, nextPage string, pageSize int) (mimecast.BatchPage, error)
}

var (
	cgBatch = batchStream{what: "SIEM", types: model.SIEMLogTypes,
		list: func(ctx context.Context, src source, typ string, start time.Time, nextPage string, pageSize int) (mimecast.BatchPage, error) {
			return src.SIEMBatch(ctx, typ, start, nextPage, pageSize)
		}}
	// The Cloud Integrated types under the names the endpoint's type
	// parameter takes; the checkpoint keys its cursors by them.
	ciBatch = batchStream{what: "Cloud Integrated SIEM", types: []string{"entities", "mailflow", "urlclick"},
		list: func(ctx context.Context, src source, typ string, start time.Time, nextPage string, pageSize int) (mimecast.BatchPage, error) {
			return src.SIEMBatchCI(ctx, typ, start, nextPage, pageSize)
		}}
)

// errCINeedsAPI2 is the siem_ci error of an API 1.0 account: the Cloud
// Integrated SIEM has no API 1.0 endpoint.
var errCINeedsAPI2 = errors.New("the Cloud Integrated SIEM stream needs an API 2.0 account (client ID and secret)")

// siemBatch collects a batch stream (see siemBatchCheckpoint), then works
// on its pending backfill, if any, with what is left of the budget.
func (s *streamRun) siemBatch(ctx context.Context, data []byte, bs batchStream) error {
	cp := siemBatchCheckpoint{V: checkpointVersion}
	if err := decodeCheckpoint(data, &cp, &cp.V); err != nil {
		return err
	}
	cp.V = checkpointVersion
	if cp.Types == nil {
		cp.Types = map[string]*siemTypeState{}
	}
	sets, err := s.c.store.DedupSets(ctx, s.acct.ID, s.stream)
	if err != nil {
		return err
	}
	if len(cp.Types) == 0 && cp.Migration == nil {
		if err := s.migrateFromV1(ctx, data, bs, &cp); err != nil {
			return err
		}
	}
	if cp.Migration != nil {
		if err := cp.Migration.load(sets); err != nil {
			return err
		}
	}
	f, err := newBatchFilter(&cp, sets)
	if err != nil {
		return err
	}
	regular := &batchPass{pos: &cp, filter: f, commit: func(ctx context.Context) error {
		return s.commitProgress(ctx, f.progress())
	}}
	done, err := s.batchTypes(ctx, bs, regular, s.initialStart(siemRetention))
	if err != nil || !done {
		return err
	}
	if m := cp.Migration; m != nil {
		s.log.Info("Switch from API 1.0 complete: every log type caught up")
		cp.Migration = nil
		p := f.progress()
		p.DeleteSets = m.done()
		if err := s.commitProgress(ctx, p); err != nil {
			return err
		}
	}
	return s.batchBackfill(ctx, bs, f)
}

// migrateFromV1 maps the position of an API 1.0 SIEM checkpoint found in
// data to cp (see migration): each type starts on the day of its overlap.
func (s *streamRun) migrateFromV1(ctx context.Context, data []byte, bs batchStream, cp *siemBatchCheckpoint) error {
	if bs.what != cgBatch.what {
		return nil
	}
	st, err := s.c.store.StreamState(ctx, s.acct.ID, s.stream)
	if err != nil {
		return err
	}
	var newest time.Time
	if st.NewestEvent != nil {
		newest = *st.NewestEvent
	}
	m, ok := migrationFromV1(data, newest)
	if !ok {
		return nil
	}
	for _, t := range bs.types {
		cp.Types[t] = &siemTypeState{Start: m.After[t].UTC().Format(time.DateOnly)}
	}
	cp.Migration = m
	s.log.Info("The account moved from API 1.0 to 2.0: continuing from the last position delivered through 1.0",
		slog.Duration("overlap", migrationOverlap))
	return nil
}

// batchPass is one walk over a batch stream's types: the regular catch-up
// or a backfill. pos holds its cursors; commit makes pos durable together
// with the duplicate filter's new identities.
type batchPass struct {
	pos    *siemBatchCheckpoint
	filter *batchFilter
	commit func(ctx context.Context) error
	// backfill, when set, limits the pass to records of its period and
	// counts what it sends and skips.
	backfill *model.Backfill
}

// batchTypes serves the types round-robin, one page each per turn, so a
// type with a deep backlog cannot use up the run's budget before the
// others had a turn. It reports whether every type is caught up.
func (s *streamRun) batchTypes(ctx context.Context, bs batchStream, p *batchPass, start time.Time) (bool, error) {
	startDate := start.UTC().Format(time.DateOnly)
	active := append([]string(nil), bs.types...)
	for len(active) > 0 {
		var more []string
		for _, t := range active {
			if s.budget <= 0 {
				s.budgetUsed()
				return false, nil
			}
			st := p.pos.Types[t]
			if st == nil {
				// Not committed until a file of this type was delivered: an
				// unused start date may move on freely.
				st = &siemTypeState{Start: startDate}
				p.pos.Types[t] = st
			}
			again, err := s.siemBatchPage(ctx, bs, t, st, p)
			if err != nil {
				return false, err
			}
			if again {
				more = append(more, t)
			}
		}
		active = more
	}
	return true, nil
}

// siemBatchPage delivers the rest of the page at st.Cursor and moves st to
// the next page. It reports whether the type has more pages now.
func (s *streamRun) siemBatchPage(ctx context.Context, bs batchStream, logType string, st *siemTypeState, p *batchPass) (bool, error) {
	start, err := time.Parse(time.DateOnly, st.Start)
	if err != nil {
		return false, fmt.Errorf("reading checkpoint: %s start date %q: %w", logType, st.Start, err)
	}
	list := func() (mimecast.BatchPage, error) {
		page, err := bs.list(ctx, s.src, logType, start, st.Cursor, s.c.batchPageSize)
		if err != nil {
			return page, fmt.Errorf("listing %s %s files: %w", logType, bs.what, err)
		}
		return page, nil
	}
	page, err := list()
	if err != nil {
		return false, err
	}
	if st.Done > len(page.Files) {
		// The page lists fewer files than were delivered from it before;
		// the ones listed were all delivered.
		s.log.Warn("Batch page shrank since it was last read", slog.String("log_type", logType),
			slog.Int("delivered", st.Done), slog.Int("listed", len(page.Files)))
	}
	refreshed := false
	for i := st.Done; i < len(page.Files); i++ {
		if s.budget <= 0 {
			return true, nil
		}
		stats, err := s.src.DownloadSIEMFile(ctx, page.Files[i], s.batchSender(p))
		s.d.malformed += int64(stats.Malformed)
		if errors.Is(err, mimecast.ErrFileExpired) && !refreshed {
			// Pre-signed URLs expire. The same cursor lists the same files
			// with fresh URLs; the ones before i were delivered already.
			s.log.Info("Batch file URL expired; listing the page again", slog.String("log_type", logType))
			refreshed = true
			if page, err = list(); err != nil {
				return false, err
			}
			i--
			continue
		}
		if err != nil {
			// An expired URL that a fresh listing does not fix fails the
			// stream: skipping the file would lose its events.
			return false, fmt.Errorf("downloading %s %s file %d of %d: %w", logType, bs.what, i+1, len(page.Files), err)
		}
		refreshed = false
		s.budget--
		st.Done = i + 1
		if err := p.commit(ctx); err != nil {
			return false, err
		}
	}
	if page.NextPage != "" && page.NextPage != st.Cursor {
		st.Cursor, st.Done = page.NextPage, 0
		if err := p.commit(ctx); err != nil {
			return false, err
		}
	}
	// Without @nextPage the position stays at the end of this page (done =
	// its length), so the next run asks for the same page and only takes
	// files listed after those.
	return len(page.Files) > 0 && !page.CaughtUp && page.NextPage != "", nil
}

// batchSender returns the record callback of pass p for one file: records
// already delivered (a file Mimecast serves again, a replayed period) are
// skipped; the others are sent and remembered. A backfill only sends
// records of its period.
func (s *streamRun) batchSender(p *batchPass) func(*model.Record) error {
	m := p.filter.cp.Migration
	var lastType string // a file holds one log type: look its set up once
	var set *keySet
	var copies map[uint64]uint64 // content hash → identical records read in this file
	return func(r *model.Record) error {
		if b := p.backfill; b != nil && (r.Time.Before(b.From) || r.Time.After(b.To)) {
			return nil
		}
		if m != nil && p.backfill == nil && m.skip(r) {
			return nil
		}
		k, ok := partitionOffsetKey(r.ID)
		if !ok {
			if copies == nil {
				copies = map[uint64]uint64{}
			}
			k = contentKey(r.Raw, copies)
		}
		if set == nil || r.LogType != lastType {
			lastType, set = r.LogType, p.filter.set(r.LogType)
		}
		if set.has(k) {
			if p.backfill != nil {
				p.backfill.Skipped++
			}
			return nil
		}
		if err := s.d.send(r); err != nil {
			return err
		}
		set.add(k)
		if p.backfill != nil {
			p.backfill.Delivered++
		}
		return nil
	}
}

// batchBackfill carries out the stream's pending backfill (model.Backfill):
// a second pass over the types from the day of its start, with its own
// cursors saved as the backfill's position, through the same duplicate
// filter. It ends when every type is caught up.
func (s *streamRun) batchBackfill(ctx context.Context, bs batchStream, f *batchFilter) error {
	b, data, err := s.c.store.Backfill(ctx, s.acct.ID, s.stream)
	if err != nil || b == nil {
		return err
	}
	pos := siemBatchCheckpoint{V: checkpointVersion}
	if err := decodeCheckpoint(data, &pos, &pos.V); err != nil {
		return err
	}
	pos.V = checkpointVersion
	if pos.Types == nil {
		pos.Types = map[string]*siemTypeState{}
	}
	p := &batchPass{pos: &pos, filter: f, backfill: b, commit: func(ctx context.Context) error {
		data, err := encodeCheckpoint(&pos)
		if err != nil {
			return err
		}
		p := f.progress()
		p.Backfill, p.BackfillPosition = b, data
		return s.commitProgress(ctx, p)
	}}
	s.log.Info("Re-collecting", slog.Time("from", b.From), slog.Time("to", b.To))
	done, err := s.batchTypes(ctx, bs, p, b.From)
	return s.endBackfill(ctx, b, done, err)
}

// batchFilter is a batch stream's duplicate filter: one keySet per log
// type, stored beside the checkpoint (store.DedupSets); a commit writes
// the sets that changed since the previous one.
type batchFilter struct {
	cp   *siemBatchCheckpoint
	sets map[string]*keySet
}

// newBatchFilter reads the filter from the stream's saved sets (those named
// for a log type; names with a "/" belong to a migration).
func newBatchFilter(cp *siemBatchCheckpoint, stored map[string][]byte) (*batchFilter, error) {
	f := &batchFilter{cp: cp, sets: map[string]*keySet{}}
	for t, data := range stored {
		if strings.Contains(t, "/") {
			continue
		}
		ks, err := decodeKeySet(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		f.sets[t] = ks
	}
	return f, nil
}

// set returns the keys of log type lt (the record's, which for Cloud
// Integrated is ci_<type>).
func (f *batchFilter) set(lt string) *keySet {
	ks := f.sets[lt]
	if ks == nil {
		ks = &keySet{}
		f.sets[lt] = ks
	}
	return ks
}

// progress encodes the regular checkpoint and the sets changed since the
// last call.
func (f *batchFilter) progress() store.Progress {
	data, _ := encodeCheckpoint(f.cp) // plain structs: cannot fail
	sets := map[string][]byte{}
	for lt, ks := range f.sets {
		if ks.dirty {
			sets[lt] = ks.encode()
		}
	}
	if f.cp.Migration != nil {
		f.cp.Migration.progress(sets)
	}
	return store.Progress{Checkpoint: data, Sets: sets}
}

// maxV1Files bounds the names of delivered API 1.0 SIEM files kept in the
// checkpoint: a week of files at several hundred a day.
const maxV1Files = 5000

// siemV1 collects the API 1.0 SIEM stream (see siemV1Checkpoint): one file
// per call, each delivered and flushed before its token is committed; then
// it works on its pending backfill, if any.
func (s *streamRun) siemV1(ctx context.Context, data []byte) error {
	cp := siemV1Checkpoint{V: checkpointVersion}
	if err := decodeCheckpoint(data, &cp, &cp.V); err != nil {
		return err
	}
	cp.V = checkpointVersion
	if cp.Token == "" && len(cp.Files) == 0 && cp.Start.IsZero() {
		if err := s.migrateFromV2(ctx, data, &cp); err != nil {
			return err
		}
	}
	if cp.Start.IsZero() {
		cp.Start = s.initialStart(siemRetention)
	}
	files := newIDSet(cp.Files)
	sets, err := s.c.store.DedupSets(ctx, s.acct.ID, s.stream)
	if err != nil {
		return err
	}
	tail := loadCrossTail(cp.Newest, sets)
	if cp.Partial == nil {
		cp.Partial = map[string]time.Time{}
	}
	checkpoint := func() (store.Progress, error) {
		cp.Files = files.list(maxV1Files)
		cp.Newest = tail.newest
		for name := range cp.Partial {
			if len(cp.Partial) <= maxV1Files {
				break
			}
			// Beyond the bound a backfill may send such a file's records
			// again; nothing is skipped wrongly.
			delete(cp.Partial, name)
		}
		data, err := encodeCheckpoint(&cp)
		p := store.Progress{Checkpoint: data}
		p.Sets, p.DeleteSets = tail.progress()
		return p, err
	}
	regular := &v1Pass{token: &cp.Token, start: cp.Start, files: files, partial: cp.Partial, tail: tail, commit: func(ctx context.Context) error {
		p, err := checkpoint()
		if err != nil {
			return err
		}
		return s.commitProgress(ctx, p)
	}}
	done, err := s.siemV1Files(ctx, regular)
	if err != nil || !done {
		return err
	}
	b, data, err := s.c.store.Backfill(ctx, s.acct.ID, s.stream)
	if err != nil || b == nil {
		return err
	}
	// The backfill's position is a token chain of its own, from the oldest
	// file Mimecast keeps (get-siem-logs has no start parameter).
	pos := siemV1Checkpoint{V: checkpointVersion, Start: b.From}
	if err := decodeCheckpoint(data, &pos, &pos.V); err != nil {
		return err
	}
	pos.V = checkpointVersion
	p := &v1Pass{token: &pos.Token, start: pos.Start, files: files, partial: cp.Partial, backfill: b, commit: func(ctx context.Context) error {
		p, err := checkpoint()
		if err != nil {
			return err
		}
		if p.BackfillPosition, err = encodeCheckpoint(&pos); err != nil {
			return err
		}
		p.Backfill = b
		return s.commitProgress(ctx, p)
	}}
	s.log.Info("Re-collecting", slog.Time("from", b.From), slog.Time("to", b.To))
	done, err = s.siemV1Files(ctx, p)
	return s.endBackfill(ctx, b, done, err)
}

// v1Pass is one walk along an API 1.0 token chain: the regular one or a
// backfill's. files are the names of the files delivered whole and partial
// those delivered from a time on (the first file read after the initial
// lookback's start), shared by both passes: a file Mimecast serves again is
// read for its token but its records are not sent again.
type v1Pass struct {
	token    *string
	start    time.Time
	files    *idSet
	partial  map[string]time.Time
	tail     *crossTail // the regular pass's, for a switch to 2.0
	backfill *model.Backfill
	commit   func(ctx context.Context) error
}

// siemV1Files fetches files until Mimecast has nothing more (true) or the
// budget is used (false).
func (s *streamRun) siemV1Files(ctx context.Context, p *v1Pass) (bool, error) {
	b := p.backfill
	for s.budget > 0 {
		var known bool
		var cut time.Time // records from cut on were delivered before
		res, err := s.src.SIEMLogsV1(ctx, *p.token, p.start, func(name string) {
			known = name != "" && p.files.has(name)
			cut = p.partial[name]
		}, func(r *model.Record) error {
			switch {
			case known || (!cut.IsZero() && !r.Time.Before(cut)):
				if b != nil {
					b.Skipped++
				}
				return nil
			case b != nil && (cut.IsZero() || r.Time.After(b.To)):
				// A backfill sends only what the regular pass left out
				// (records before its start, in files it read): a file
				// it has not read yet is still its own to send.
				return nil
			}
			if err := s.d.send(r); err != nil {
				return err
			}
			if b != nil {
				b.Delivered++
			}
			if p.tail != nil {
				p.tail.add(r)
			}
			return nil
		})
		s.d.malformed += int64(res.Stats.Malformed)
		if errors.Is(err, mimecast.ErrInvalidSIEMToken) {
			return false, errInvalidSIEMToken
		}
		if err != nil {
			return false, fmt.Errorf("fetching SIEM file: %w", err)
		}
		if res.Done && res.FileName == "" && res.Stats == (mimecast.DecodeStats{}) {
			// The end-of-data reply carries no file. The token is kept:
			// adopting one from an empty reply gains nothing and could only
			// skip data.
			return true, nil
		}
		s.budget--
		if known {
			s.log.Info("Mimecast served a SIEM file delivered before; its records were not sent again", slog.String("file", res.FileName))
			if res.NextToken == *p.token {
				// The file came again with the token it first came with:
				// asking with that token again moves on.
				continue
			}
		}
		if res.NextToken == "" || res.NextToken == *p.token {
			if err := s.d.flush(); err != nil {
				return false, err
			}
			return false, fmt.Errorf("fetching SIEM file %s: Mimecast sent no new token with it; the file will be fetched again next run", res.FileName)
		}
		switch {
		case res.FileName == "" || known:
		case b != nil:
			if !cut.IsZero() && b.From.Before(cut) && !b.To.Before(cut) {
				// The backfill sent the records from its start up to cut.
				p.partial[res.FileName] = b.From
			}
		case res.Stats.Skipped > 0:
			// Records before the initial lookback's start were dropped: a
			// backfill may still send those.
			if cut.IsZero() || p.start.Before(cut) {
				p.partial[res.FileName] = p.start
			}
		default:
			p.files.add(res.FileName)
			delete(p.partial, res.FileName)
		}
		*p.token = res.NextToken
		if err := p.commit(ctx); err != nil {
			return false, err
		}
		if res.Done {
			return true, nil
		}
	}
	s.budgetUsed()
	return false, nil
}

// migrateFromV2 starts an account moved back from API 2.0 to 1.0 (a
// rollback) at its newest delivered record less migrationOverlap: 1.0
// reads from its oldest file and drops older records. 2.0 keeps no
// crossKeys, so the overlap's records may be delivered twice.
func (s *streamRun) migrateFromV2(ctx context.Context, data []byte, cp *siemV1Checkpoint) error {
	var v2 siemBatchCheckpoint
	if len(data) == 0 || json.Unmarshal(data, &v2) != nil || len(v2.Types) == 0 {
		return nil
	}
	st, err := s.c.store.StreamState(ctx, s.acct.ID, s.stream)
	if err != nil || st.NewestEvent == nil {
		return err
	}
	cp.Start = st.NewestEvent.Add(-migrationOverlap)
	s.log.Info("The account moved from API 2.0 to 1.0: continuing from the last record delivered through 2.0",
		slog.Duration("overlap", migrationOverlap))
	return nil
}
