package web

import (
	"time"

	"github.com/robfig/cron/v3"

	"mimecast-qradar/app/internal/model"
)

// Lag states of a stream in GET /api/status (lag_state).
const (
	lagOK      = "ok"
	lagWarning = "warning"
	lagDanger  = "danger"
)

// Lag thresholds. A stream is "warning" when it is more than
// max(lagWarningFloor, lagWarningRuns × the longest gap between two runs of
// its schedule) behind: an hourly schedule is not late after 61 minutes.
// It is "danger" from lagDanger on, whatever the schedule: Mimecast keeps
// SIEM data for 7 days (and the other streams' logs are not promised for
// longer), so from 5 days behind the oldest data not yet collected is about
// to be deleted at the source.
const (
	lagWarningFloor = 2 * time.Hour
	lagWarningRuns  = 4
	lagDangerAfter  = 5 * 24 * time.Hour
)

// streamLag says how far collection of one stream is behind at now: now
// minus the time of the newest delivered event, or minus the end of the
// last successful run when that is later and the run found nothing new (a
// quiet stream is caught up, however old its newest event) or no event was
// ever delivered. ok is false when there is neither an event nor a
// successful run to measure from.
func streamLag(ss model.StreamStatus, now time.Time) (lag time.Duration, ok bool) {
	ref := ss.NewestEvent
	if ss.LastSuccess != nil && (ref == nil || (quietSuccess(ss) && ss.LastSuccess.After(*ref))) {
		ref = ss.LastSuccess
	}
	if ref == nil {
		return 0, false
	}
	// An event stamped in the future (clock skew) is not "ahead".
	return max(now.Sub(*ref), 0), true
}

// quietSuccess reports whether the last run succeeded and delivered
// nothing: the collector ends a successful run only when the stream is
// caught up or its budget is used, and a run that used its budget
// delivered events.
func quietSuccess(ss model.StreamStatus) bool {
	return ss.EventsLastRun == 0 && ss.LastRunEnded != nil && ss.LastSuccess.Equal(*ss.LastRunEnded) && ss.State != model.StateError
}

// lagState classifies lag for a stream collected on schedule.
func (s *Server) lagState(lag time.Duration, schedule string) string {
	switch {
	case lag >= lagDangerAfter:
		return lagDanger
	case lag > s.lagWarningAfter(schedule):
		return lagWarning
	}
	return lagOK
}

// lagWarningAfter is the lag above which a stream on schedule is late.
func (s *Server) lagWarningAfter(schedule string) time.Duration {
	gap, ok := s.gaps.Load(schedule)
	if !ok {
		gap, _ = s.gaps.LoadOrStore(schedule, longestGap(schedule, s.now()))
	}
	return max(lagWarningFloor, lagWarningRuns*gap.(time.Duration))
}

// longestGap returns the longest time between two consecutive runs of a
// five-field cron schedule over the eight days after from (a week and a
// day, so weekly schedules show their gap), or 0 when the schedule does not
// parse.
func longestGap(schedule string, from time.Time) time.Duration {
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return 0
	}
	end := from.Add(8 * 24 * time.Hour)
	var longest time.Duration
	prev := sched.Next(from)
	// A minute-by-minute schedule has 11,520 runs in eight days; the bound
	// only guards against a schedule that never ends.
	for range 12_000 {
		if prev.IsZero() || prev.After(end) {
			break
		}
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}
