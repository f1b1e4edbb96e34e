package web

import (
	"net/http"
	"time"

	"mimecast-qradar/app/internal/model"
)

// statusJSON is GET /api/status: the collector's status with, per stream,
// the events delivered by runs started in the last 24 hours.
type statusJSON struct {
	Accounts []accountStatusJSON `json:"accounts"`
}

type accountStatusJSON struct {
	model.AccountStatus
	Streams []streamStatusJSON `json:"streams"`
}

type streamStatusJSON struct {
	model.StreamStatus
	EventsLast24h int64 `json:"events_last_24h"`
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.collector.Status(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	since := s.now().Add(-24 * time.Hour)
	out := statusJSON{Accounts: make([]accountStatusJSON, 0, len(st.Accounts))}
	for _, a := range st.Accounts {
		as := accountStatusJSON{AccountStatus: a, Streams: make([]streamStatusJSON, 0, len(a.Streams))}
		for _, ss := range a.Streams {
			n, err := s.store.EventsSince(r.Context(), a.ID, ss.Stream, since)
			if err != nil {
				s.internalError(w, r, err)
				return
			}
			// The contract says RFC 3339 UTC; the scheduler computes next
			// runs in the local zone.
			ss.LastRunStarted, ss.LastRunEnded, ss.LastSuccess = utc(ss.LastRunStarted), utc(ss.LastRunEnded), utc(ss.LastSuccess)
			ss.NextRun, ss.NewestEvent = utc(ss.NextRun), utc(ss.NewestEvent)
			as.Streams = append(as.Streams, streamStatusJSON{StreamStatus: ss, EventsLast24h: n})
		}
		out.Accounts = append(out.Accounts, as)
	}
	writeJSON(w, http.StatusOK, out)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
