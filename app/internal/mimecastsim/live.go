package mimecastsim

import (
	"context"
	"slices"
	"time"

	"mimecast-qradar/app/internal/model"
)

// hasRecords reports whether the account holds any data of the stream.
func (s *Sim) hasRecords(a *account, stream model.Stream) bool {
	return s.Delivered(a.Name, stream) > 0
}

// Live adds new traffic to the account every interval until ctx is done:
// Options.LiveSIEMRecords SIEM records spread over the log types (one small
// file per type), with times in the interval just ended, and
// Options.LiveLogRecords records per audit/TTP/DLP stream stamped with the
// current second. Streams added later (held release, archive search,
// threat intel, Cloud Integrated SIEM) get Options.LiveLogRecords records
// (per type for siem_ci) once the account has any (Generate them first);
// awareness training, a snapshot, changes one user's rows per interval.
//
// Log records get the current time rather than earlier times in the
// interval: a collector that polled during the interval has already moved
// its window past those, and the real API's late arrivals are not what the
// demo is meant to show.
func (s *Sim) Live(ctx context.Context, accountName string, every time.Duration) {
	a := s.mustAccount(accountName)
	t := time.NewTicker(every)
	defer t.Stop()
	last := s.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		s.addSIEM(a, kindCG, splitByWeight(siemTypes, s.opts.LiveSIEMRecords), last, now)
		for _, le := range logEndpoints {
			if slices.Contains(model.CoreStreams, le.stream) || s.hasRecords(a, le.stream) {
				s.addLogs(a, le.stream, s.opts.LiveLogRecords, now, now)
			}
		}
		for _, f := range threatFeeds {
			if s.hasRecords(a, f.stream) {
				s.addLogs(a, f.stream, s.opts.LiveLogRecords, now, now)
			}
		}
		if s.hasRecords(a, model.StreamSIEMCI) {
			s.addSIEM(a, kindCI, splitByWeight(ciTypes, len(ciTypes)*s.opts.LiveLogRecords), last, now)
		}
		if s.hasRecords(a, model.StreamAwarenessTraining) {
			s.UpdateAwareness(a.Name, 1)
		}
		last = now
	}
}
