package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// backfillSkew is how far a requested period may reach into the future or
// past the stream's retention: the browser's clock may differ from the
// app's, and the collector clamps the period to what can be re-collected.
const backfillSkew = 5 * time.Minute

// requestBackfill asks the collector to re-collect one stream of the
// account between "from" and "to" (RFC 3339) in its next runs (issue
// #10). Every problem of the request is answered at once, 422 with the
// problem of each field, before the collector is asked.
func (s *Server) requestBackfill(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	members, ok := decodeObject(w, r, false)
	if !ok {
		return
	}
	stream := model.Stream(chi.URLParam(r, "stream"))
	fe := fieldErrors{}
	from := backfillTime(members, "from", fe)
	to := backfillTime(members, "to", fe)
	validateBackfill(a, stream, from, to, s.now(), fe)
	if len(fe) > 0 {
		writeFieldErrors(w, fe)
		return
	}
	err := s.collector.Backfill(context.WithoutCancel(r.Context()), a.ID, stream, from, to)
	switch {
	case errors.Is(err, model.ErrInvalidBackfill):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, model.ErrBackfillPending):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no account with id "+strconv.FormatInt(a.ID, 10))
	case err != nil:
		s.internalError(w, r, fmt.Errorf("requesting re-collection of %d/%s: %w", a.ID, stream, err))
	default:
		s.log.Info("re-collection requested", "account_id", a.ID, "stream", stream, "from", from, "to", to)
		writeJSON(w, http.StatusAccepted, map[string]string{
			"message": "re-collection requested: the stream's next runs send the records QRadar has not received"})
	}
}

// cancelBackfill drops the stream's pending re-collection; what it sent
// until now stays in QRadar.
func (s *Server) cancelBackfill(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	stream := model.Stream(chi.URLParam(r, "stream"))
	err := s.collector.CancelBackfill(context.WithoutCancel(r.Context()), a.ID, stream)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no re-collection of "+string(stream)+" is pending for this account")
	case err != nil:
		s.internalError(w, r, fmt.Errorf("cancelling re-collection of %d/%s: %w", a.ID, stream, err))
	default:
		s.log.Info("re-collection cancelled", "account_id", a.ID, "stream", stream)
		writeJSON(w, http.StatusOK, map[string]string{
			"message": "re-collection cancelled: the records it sent until now stay in QRadar"})
	}
}

// backfillTime reads the RFC 3339 time in members[field]; a missing or
// unreadable one is reported in fe and gives the zero time.
func backfillTime(members map[string]json.RawMessage, field string, fe fieldErrors) time.Time {
	raw, ok := members[field]
	if !ok || string(raw) == "null" {
		fe.add(field, "is required")
		return time.Time{}
	}
	var v string
	if json.Unmarshal(raw, &v) == nil {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	fe.add(field, "must be a date and time in RFC 3339 format, such as 2026-11-20T08:00:00Z")
	return time.Time{}
}

// validateBackfill adds to fe every problem of re-collecting stream of a
// between from and to (zero when unreadable, already reported) at now:
// the account must collect the stream and the stream must keep a history,
// the period must end after it starts, and it must lie within Mimecast's
// retention and not in the future, give or take backfillSkew.
func validateBackfill(a *model.Account, stream model.Stream, from, to, now time.Time, fe fieldErrors) {
	retention, canBackfill := model.BackfillRetention(stream)
	switch {
	case !a.HasStream(stream):
		fe.add("stream", "the account does not collect "+string(stream))
	case !canBackfill:
		fe.add("stream", string(stream)+" is a snapshot of the present and cannot be re-collected")
	}
	latest := now.Add(backfillSkew)
	if !from.IsZero() && from.After(latest) {
		fe.add("from", "must not be in the future")
	}
	if !to.IsZero() && to.After(latest) {
		fe.add("to", "must not be in the future")
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		fe.add("to", "must be after from")
	}
	if canBackfill && !from.IsZero() && from.Before(now.Add(-retention-backfillSkew)) {
		days := int(retention.Hours() / 24)
		fe.add("from", fmt.Sprintf("must be within the last %d days: Mimecast keeps %s data %d days", days, stream, days))
	}
}

// pendingBackfill returns the stream's pending re-collection as the
// collector reports it; nil when there is none or the status cannot be
// read (that is logged).
func (s *Server) pendingBackfill(ctx context.Context, id int64, stream model.Stream) *model.Backfill {
	st, err := s.collector.Status(ctx)
	if err != nil {
		s.log.Warn("reading the pending re-collection failed", "account_id", id, "stream", stream, "error", err)
		return nil
	}
	for _, a := range st.Accounts {
		if a.ID != id {
			continue
		}
		for _, ss := range a.Streams {
			if ss.Stream == stream {
				return ss.Backfill
			}
		}
	}
	return nil
}
