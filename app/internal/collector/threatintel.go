package collector

import (
	"context"
	"encoding/json"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
)

// threatIntelRetention bounds the first window of a threat intel feed:
// Mimecast's own default window is the last 7 days, and how much further
// back the feed answers is not documented.
const threatIntelRetention = 7 * 24 * time.Hour

// threatIntelSpec reads a malware feed (threat_intel_customer or
// threat_intel_grid) as a time-window stream: the window is sent with the
// first request only, and x-mc-threat-feed-next-token is the page token
// (the checkpoint keeps it with the window). "No results" for a window is
// an empty last page. Each indicator is one event whose identity is its
// STIX id; the same hash under another id is another event.
//
// The distinct SHA-256 hashes of the indicators delivered on a page go to
// Options.OnThreatHashes once the page is committed.
func (s *streamRun) threatIntelSpec() windowSpec {
	spec := windowSpec{
		what:      "threat intel feed " + string(s.stream),
		retention: threatIntelRetention,
		fetch: func(ctx context.Context, w *windowState, fn func(*model.Record) error) (string, mimecast.DecodeStats, error) {
			return s.src.ThreatIntel(ctx, s.stream, w.Start, w.End, w.PageToken, fn)
		},
	}
	hook := s.c.opts.OnThreatHashes
	if hook == nil {
		return spec
	}
	var hashes []string
	distinct := map[string]bool{}
	spec.sent = func(r *model.Record) {
		if h := indicatorSHA256(r.Raw); h != "" && !distinct[h] {
			distinct[h] = true
			hashes = append(hashes, h)
		}
	}
	spec.committed = func(ctx context.Context) {
		if len(hashes) == 0 {
			return
		}
		hook(ctx, hashes)
		hashes, distinct = nil, map[string]bool{}
	}
	return spec
}

// indicatorSHA256 reads the sha256 member the Mimecast client adds to an
// indicator record (taken from its STIX pattern), or "".
func indicatorSHA256(raw []byte) string {
	var v struct {
		SHA256 string `json:"sha256"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.SHA256
}
