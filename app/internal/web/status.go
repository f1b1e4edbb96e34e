package web

import (
	"context"
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
	// LagSeconds is how far collection is behind (see streamLag); null
	// before any event or successful run.
	LagSeconds *int64 `json:"lag_seconds"`
	// LagState is lagOK, lagWarning or lagDanger (see lagState).
	LagState string `json:"lag_state"`
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.collector.Status(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out, err := s.statusWithLag(r.Context(), st)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// statusWithLag adds to the collector's status, per stream, the events of
// the last 24 hours and the lag.
func (s *Server) statusWithLag(ctx context.Context, st model.Status) (statusJSON, error) {
	accounts, err := s.store.ListAccounts(ctx)
	if err != nil {
		return statusJSON{}, err
	}
	schedules := make(map[int64]string, len(accounts))
	for _, a := range accounts {
		schedules[a.ID] = a.Schedule
	}
	now := s.now()
	since := now.Add(-24 * time.Hour)
	out := statusJSON{Accounts: make([]accountStatusJSON, 0, len(st.Accounts))}
	for _, a := range st.Accounts {
		as := accountStatusJSON{AccountStatus: a, Streams: make([]streamStatusJSON, 0, len(a.Streams))}
		for _, ss := range a.Streams {
			n, err := s.store.EventsSince(ctx, a.ID, ss.Stream, since)
			if err != nil {
				return statusJSON{}, err
			}
			// The contract says RFC 3339 UTC; the scheduler computes next
			// runs in the local zone.
			ss.LastRunStarted, ss.LastRunEnded, ss.LastSuccess = utc(ss.LastRunStarted), utc(ss.LastRunEnded), utc(ss.LastSuccess)
			ss.NextRun, ss.NewestEvent = utc(ss.NextRun), utc(ss.NewestEvent)
			sj := streamStatusJSON{StreamStatus: ss, EventsLast24h: n, LagState: lagOK}
			if lag, ok := streamLag(ss, now); ok {
				secs := int64(lag / time.Second)
				sj.LagSeconds = &secs
				sj.LagState = s.lagState(lag, schedules[a.ID])
			}
			as.Streams = append(as.Streams, sj)
		}
		out.Accounts = append(out.Accounts, as)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
