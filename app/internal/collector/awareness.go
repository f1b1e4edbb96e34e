package collector

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"mimecast-qradar/app/internal/model"
)

// awarenessKinds are the Awareness Training data sets, in collection order.
var awarenessKinds = []string{"safe_score", "performance", "watchlist", "phishing_user"}

// awarenessCommitEvery is how many changed rows are sent between two
// commits of the row hashes: a crash re-sends at most this many, as many
// as one page of the endpoint holds (500).
const awarenessCommitEvery = 500

// awarenessCheckpoint is the position of the awareness_training stream.
// Its rows are snapshots (scores and counters per user), not events: the
// stream sends the rows that changed since the last snapshot.
//
//	{"v":1,"collected":"…","kinds":{"safe_score":"<base64>",…}}
//
// collected is when the last full collection (every kind) started; the
// next one is due an interval (Options.AwarenessInterval) later, and runs
// in between skip the stream without a request. kinds holds, per kind, the
// rows of the last snapshot as sorted 16-byte entries: 8 bytes of the
// SHA-256 of the row's key (log type and Record.ID, the user's address and
// for phishing rows the campaign) and 8 bytes of the SHA-256 of the row
// itself. A row is sent when its key is new or its hash changed. The
// entries are updated as rows are sent and committed (after a flush) every
// awarenessCommitEvery rows sent and at the end of each kind, when rows no
// longer listed are dropped. An interrupted collection is taken up again in
// full at the next run, sending only the rows not committed yet.
//
// Size: 16 bytes per row, 21 in base64: about 850 KB for 10,000 users
// (four rows each, more with several phishing campaigns).
type awarenessCheckpoint struct {
	V         int               `json:"v"`
	Collected time.Time         `json:"collected,omitzero"`
	Kinds     map[string]string `json:"kinds,omitempty"`
}

// awareness collects the awareness_training stream (see
// awarenessCheckpoint).
func (s *streamRun) awareness(ctx context.Context, data []byte) error {
	cp := awarenessCheckpoint{V: checkpointVersion}
	if err := decodeCheckpoint(data, &cp, &cp.V); err != nil {
		return err
	}
	cp.V = checkpointVersion
	if !cp.Collected.IsZero() && s.now.Before(cp.Collected.Add(s.c.opts.AwarenessInterval)) {
		s.log.Debug("Awareness training snapshot not due yet", slog.Time("last", cp.Collected))
		return nil
	}
	if cp.Kinds == nil {
		cp.Kinds = map[string]string{}
	}
	started := s.now
	for _, kind := range awarenessKinds {
		if err := s.awarenessKind(ctx, &cp, kind); err != nil {
			return err
		}
	}
	cp.Collected = started
	return s.commit(ctx, &cp)
}

// awarenessKind sends the changed rows of one kind and commits the kind's
// new snapshot.
func (s *streamRun) awarenessKind(ctx context.Context, cp *awarenessCheckpoint, kind string) error {
	rows, err := decodeRowHashes(cp.Kinds[kind])
	if err != nil {
		return fmt.Errorf("reading checkpoint: awareness %s: %w", kind, err)
	}
	listed := make(map[uint64]bool, len(rows))
	pending := 0
	stats, err := s.src.Awareness(ctx, kind, func(r *model.Record) error {
		key, sum := rowKey(r), rowSum(r.Raw)
		listed[key] = true
		if old, ok := rows[key]; ok && old == sum {
			return nil
		}
		if err := s.d.send(r); err != nil {
			return err
		}
		// Committed only after the flush in s.commit: a row whose hash is
		// saved has reached the target.
		rows[key] = sum
		if pending++; pending >= awarenessCommitEvery {
			pending = 0
			cp.Kinds[kind] = encodeRowHashes(rows)
			return s.commit(ctx, cp)
		}
		return nil
	})
	s.d.malformed += int64(stats.Malformed)
	if err != nil {
		return fmt.Errorf("fetching awareness training %s: %w", kind, err)
	}
	for key := range rows {
		if !listed[key] {
			delete(rows, key) // the user or campaign is gone
		}
	}
	cp.Kinds[kind] = encodeRowHashes(rows)
	return s.commit(ctx, cp)
}

// rowKey identifies a snapshot row: its log type and Record.ID (the user's
// address, and the campaign for phishing rows), or for a row without an
// address its content, so that it is sent when it first appears.
func rowKey(r *model.Record) uint64 {
	h := sha256.New()
	h.Write([]byte(r.LogType))
	h.Write([]byte{0})
	if r.ID != "" {
		h.Write([]byte("id:"))
		h.Write([]byte(r.ID))
	} else {
		h.Write([]byte("raw:"))
		h.Write(r.Raw)
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func rowSum(raw []byte) uint64 {
	sum := sha256.Sum256(raw)
	return binary.BigEndian.Uint64(sum[:8])
}

// encodeRowHashes writes the entries sorted by key, so an unchanged
// snapshot encodes to the same text.
func encodeRowHashes(rows map[uint64]uint64) string {
	keys := make([]uint64, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	b := make([]byte, 0, 16*len(keys))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k)
		b = binary.BigEndian.AppendUint64(b, rows[k])
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decodeRowHashes(text string) (map[uint64]uint64, error) {
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, err
	}
	if len(b)%16 != 0 {
		return nil, fmt.Errorf("row hashes of %d bytes, not a multiple of 16", len(b))
	}
	rows := make(map[uint64]uint64, len(b)/16)
	for ; len(b) > 0; b = b[16:] {
		rows[binary.BigEndian.Uint64(b[:8])] = binary.BigEndian.Uint64(b[8:16])
	}
	return rows, nil
}
