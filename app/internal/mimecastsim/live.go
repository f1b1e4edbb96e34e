package mimecastsim

import (
	"context"
	"time"
)

// Live adds new traffic to the account every interval until ctx is done:
// Options.LiveSIEMRecords SIEM records spread over the log types (one small
// file per type), with times in the interval just ended, and
// Options.LiveLogRecords records per audit/TTP/DLP stream stamped with the
// current second.
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
		s.addSIEM(a, splitByWeight(s.opts.LiveSIEMRecords), last, now)
		for _, le := range logEndpoints {
			s.addLogs(a, le.stream, s.opts.LiveLogRecords, now, now)
		}
		last = now
	}
}
