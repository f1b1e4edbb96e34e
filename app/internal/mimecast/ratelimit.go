package mimecast

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mimecast-qradar/app/internal/model"
)

// RateBudget is the Mimecast rate-limit budget of one account. Mimecast
// counts an account's requests together (per API user or application,
// reference §7.3), so every client and stream of the account should use the
// same budget (Options.RateBudget). Pre-signed file downloads from cloud
// storage are outside Mimecast's quota: they neither consult nor feed it.
//
// The budget reads X-RateLimit-Remaining and X-RateLimit-Reset
// (milliseconds until the quota refills, clamped to 15 min) from every API
// response, and before each API request decides when it may go:
//
//   - Block: after a 429, or a response reporting Remaining 0, the whole
//     account waits until the time Mimecast gave (Retry-After, else Reset).
//   - Fair share: streams announce themselves with Join. When a response
//     reports Remaining ≤ 2 × n, n being the number of streams joined at
//     that moment, that Remaining (the pool) is shared out until the reset
//     time that response gave: each joined stream may send at most pool / n
//     requests (rounded down; n is counted again at each request, so a
//     stream that leaves frees its part). A stream that used its share
//     waits for that reset while the others go on. The sharing ends at the
//     reset; the next low reading starts a new one. Requests whose context
//     names no joined stream are never held back by the sharing, only by
//     blocks.
//
// A request that must wait at most the client's MaxWait sleeps that long
// (through Options.Sleep) and is then sent; a longer wait fails at once,
// without sending anything, with a *RateLimitError saying until when.
//
// A RateBudget is safe for concurrent use.
type RateBudget struct {
	onBlocked func(until time.Time)

	mu           sync.Mutex
	blockedUntil time.Time
	joined       map[model.Stream]int // streams sharing the budget → how many times each joined
	sharing      bool                 // a low quota is being shared out until shareUntil
	pool         int                  // Remaining when the sharing began
	shareUntil   time.Time
	taken        map[model.Stream]int // requests each stream was let through while sharing

	// notifyMu serialises the onBlocked calls and guards notified, the last
	// time reported to it.
	notifyMu sync.Mutex
	notified time.Time
}

// NewRateBudget returns a budget whose account is blocked until
// blockedUntil (the zero time for none), e.g. a block saved before a
// restart. onBlocked, when not nil, is called each time the block is
// extended to a later time, with that time, so the owner can save it; it
// runs on the goroutine of the request that met the limit, one call at a
// time, and may call BlockedUntil.
func NewRateBudget(blockedUntil time.Time, onBlocked func(until time.Time)) *RateBudget {
	return &RateBudget{
		onBlocked:    onBlocked,
		blockedUntil: blockedUntil,
		notified:     blockedUntil,
		joined:       map[model.Stream]int{},
		taken:        map[model.Stream]int{},
	}
}

// BlockedUntil returns the end of the account's current or last block (the
// zero time if it was never blocked).
func (b *RateBudget) BlockedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blockedUntil
}

// streamKey is the context key of the stream a request belongs to.
type streamKey struct{}

// Join counts stream s among the streams sharing b until leave is called
// (once), and returns ctx labelled with s: requests made with that context
// are charged to s's share while a low quota is shared out.
func (b *RateBudget) Join(ctx context.Context, s model.Stream) (_ context.Context, leave func()) {
	b.mu.Lock()
	b.joined[s]++
	b.mu.Unlock()
	return context.WithValue(ctx, streamKey{}, s), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.joined[s]--; b.joined[s] <= 0 {
			delete(b.joined, s)
		}
	}
}

// take lets one API request of the stream ctx names go at now: it returns
// how long the request must wait first (0: none), or, when that is longer
// than maxWait, a *RateLimitError and the request must not be sent.
func (b *RateBudget) take(ctx context.Context, now time.Time, maxWait time.Duration) (time.Duration, error) {
	s, _ := ctx.Value(streamKey{}).(model.Stream)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endSharingLocked(now)
	until := b.blockedUntil
	shared := b.sharing && b.joined[s] > 0
	if shared && b.taken[s] >= b.pool/len(b.joined) && b.shareUntil.After(until) {
		until = b.shareUntil
	}
	wait := max(0, until.Sub(now))
	if wait > maxWait {
		return 0, &RateLimitError{Until: until}
	}
	if shared {
		// Charged when let through, not when answered: concurrent requests
		// of one stream cannot together overrun its share.
		b.taken[s]++
	}
	return wait, nil
}

// observe notes the quota an API response other than a 429 reports.
func (b *RateBudget) observe(h http.Header, now time.Time) {
	remaining, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err != nil {
		return
	}
	reset, ok := resetWait(h.Get("X-RateLimit-Reset"), now)
	if !ok {
		return // without a reset time there is nothing to wait for
	}
	if remaining <= 0 {
		b.block(now.Add(reset))
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endSharingLocked(now)
	if !b.sharing && remaining <= 2*len(b.joined) {
		b.sharing, b.pool, b.shareUntil = true, remaining, now.Add(reset)
		clear(b.taken)
	}
}

// endSharingLocked ends the sharing once its reset time has come.
func (b *RateBudget) endSharingLocked(now time.Time) {
	if b.sharing && !now.Before(b.shareUntil) {
		b.sharing = false
	}
}

// block holds back the account's requests until until, unless it already
// is blocked for longer, and reports a later block to onBlocked.
func (b *RateBudget) block(until time.Time) {
	b.mu.Lock()
	later := until.After(b.blockedUntil)
	if later {
		b.blockedUntil = until
	}
	b.mu.Unlock()
	if later && b.onBlocked != nil {
		b.notify()
	}
}

// notify reports the current block to onBlocked if it is later than the
// last one reported. It runs outside mu because onBlocked may be slow (a
// database write) and may call BlockedUntil. Why notifyMu and the re-read:
// two goroutines extending the block at once could otherwise report out of
// order and leave the earlier time saved; here each call reports the
// latest time, so what the owner saves only ever moves forward.
func (b *RateBudget) notify() {
	b.notifyMu.Lock()
	defer b.notifyMu.Unlock()
	if until := b.BlockedUntil(); until.After(b.notified) {
		b.notified = until
		b.onBlocked(until)
	}
}
