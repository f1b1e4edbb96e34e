package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"mimecast-qradar/app/internal/model"
)

// LogQuery asks for one page of an /api/... log stream.
type LogQuery struct {
	Stream    model.Stream // audit, ttp_url, ttp_attachment, ttp_impersonation, dlp, message_release or archive_search
	Start     time.Time
	End       time.Time // zero means now
	PageToken string    // "" for the first page
	PageSize  int       // <= 0 means 100
}

// LogPage is the outcome of one page.
type LogPage struct {
	Next  string // token of the next page; "" when this was the last page
	Stats DecodeStats
}

// apiStream describes one /api/... log endpoint (reference §5).
type apiStream struct {
	path      string
	wrapper   string // member of data[i] holding the records; "" when data[] holds them
	logType   string
	timeField int
	idField   int
	fromKey   string
	toKey     string
	extra     map[string]any
	feature   string // separately licensed data, for the wording of a 403
}

// apiStreams are the paged log endpoints, the same on API 1.0 and 2.0.
var apiStreams = map[model.Stream]apiStream{
	model.StreamAudit: {path: "/api/audit/get-audit-events", logType: model.LogAudit,
		timeField: fEventTime, idField: fID, fromKey: "startDateTime", toKey: "endDateTime"},
	model.StreamTTPURL: {path: "/api/ttp/url/get-logs", wrapper: "clickLogs", logType: model.LogTTPURL,
		timeField: fDate, idField: -1, fromKey: "from", toKey: "to",
		extra: map[string]any{"oldestFirst": true, "route": "all", "scanResult": "all"}},
	model.StreamTTPAttachment: {path: "/api/ttp/attachment/get-logs", wrapper: "attachmentLogs", logType: model.LogTTPAttachment,
		timeField: fDate, idField: -1, fromKey: "from", toKey: "to",
		extra: map[string]any{"oldestFirst": true, "route": "all", "result": "all"}},
	model.StreamTTPImpersonation: {path: "/api/ttp/impersonation/get-logs", wrapper: "impersonationLogs", logType: model.LogTTPImpersonation,
		timeField: fEventTime, idField: fID, fromKey: "from", toKey: "to",
		extra: map[string]any{"oldestFirst": true}},
	model.StreamDLP: {path: "/api/dlp/get-logs", wrapper: "dlpLogs", logType: model.LogDLP,
		timeField: fEventTime, idField: -1, fromKey: "from", toKey: "to",
		extra: map[string]any{"oldestFirst": true}},
	// Held release logs come in several record shapes (operator and sender
	// as strings or objects with different keys); only released and id are
	// read here, so every shape passes through unchanged. A record without
	// released keeps a zero time.
	model.StreamMessageRelease: {path: "/api/gateway/get-held-release-logs", wrapper: "heldReleaseLogs", logType: model.LogMessageRelease,
		timeField: fReleased, idField: fID, fromKey: "start", toKey: "end", feature: "held message release logs"},
	// Archive search logs have no identity: two identical records in the
	// same second are two searches, so both are delivered.
	model.StreamArchiveSearch: {path: "/api/archive/get-archive-search-logs", wrapper: "logs", logType: model.LogArchiveSearch,
		timeField: fCreateTime, idField: -1, fromKey: "start", toKey: "end", feature: "archive search logs"},
}

// requestTimeLayout is Mimecast's documented date format (§2).
const requestTimeLayout = "2006-01-02T15:04:05-0700"

// Logs fetches one page of an /api/... log stream and streams its records to
// fn; fn's error aborts and is returned unchanged. Errors Mimecast reports in
// fail[] with HTTP 200 are returned as errors. Next is "" on the last page,
// including the quirk of an empty page that still carries a next token.
func (c *Client) Logs(ctx context.Context, q LogQuery, fn func(*model.Record) error) (LogPage, error) {
	spec, ok := apiStreams[q.Stream]
	if !ok {
		return LogPage{}, fmt.Errorf("fetching %s logs: stream not served by a paged endpoint", q.Stream)
	}
	end := q.End
	if end.IsZero() {
		end = c.now()
	}
	item := map[string]any{
		spec.fromKey: q.Start.UTC().Format(requestTimeLayout),
		spec.toKey:   end.UTC().Format(requestTimeLayout),
	}
	for k, v := range spec.extra {
		item[k] = v
	}
	d := c.newDecoder(kindAPI, q.Stream, spec.logType, fn, spec.path)
	d.timeField, d.idField = spec.timeField, spec.idField
	next, err := c.postPage(ctx, apiPage{path: spec.path, what: string(q.Stream) + " logs", feature: spec.feature,
		wrapper: spec.wrapper, item: item, pageSize: q.PageSize, pageToken: q.PageToken}, d)
	return LogPage{Next: next, Stats: d.stats}, err
}

// apiPage is one page request to a paged /api/... endpoint.
type apiPage struct {
	path      string
	what      string // names the data in errors, e.g. "audit logs"
	feature   string // separately licensed data, for the wording of a 403
	wrapper   string // member of data[i] holding the records; "" when data[] holds them
	item      any    // data[0]; nil sends no data member
	pageSize  int    // <= 0 means 100
	pageToken string
}

// postPage sends one page request and streams the records of the answer
// through d. It returns the next page's token ("" on the last page). fn's
// error (d.cbErr) is returned unchanged.
func (c *Client) postPage(ctx context.Context, p apiPage, d *decoder) (string, error) {
	pageSize := p.pageSize
	if pageSize <= 0 {
		pageSize = 100
	}
	pagination := map[string]any{"pageSize": pageSize}
	if p.pageToken != "" {
		// The original filters are sent again with the token: both forms
		// are accepted by Mimecast, this one by every peer's server too.
		pagination["pageToken"] = p.pageToken
	}
	req := map[string]any{"meta": map[string]any{"pagination": pagination}}
	if p.item != nil {
		req["data"] = []any{p.item}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", p.what, err)
	}
	resp, err := c.do(ctx, &request{
		method:      http.MethodPost,
		url:         c.base + p.path,
		body:        body,
		contentType: "application/json",
		accept:      "application/json",
		auth:        authAPI,
		feature:     p.feature,
	})
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", p.what, err)
	}
	defer resp.Body.Close()

	before := d.stats
	meta, fail, err := d.envelope(newLimitedReader(resp.Body, c.limits.MaxDecompressedBytes), p.wrapper)
	if err != nil {
		if err == d.cbErr {
			return "", err
		}
		return "", fmt.Errorf("reading %s: %w", p.what, err)
	}
	if err := c.failErrorFor(resp.StatusCode, fail, p.feature); err != nil {
		return "", fmt.Errorf("fetching %s: %w", p.what, err)
	}
	// Mimecast may answer a last page with empty data and a next token
	// anyway; following it would loop, so an empty page ends the stream.
	if d.stats == before {
		return "", nil
	}
	return meta.nextToken(), nil
}

// failErrorFor is failError with the wording of a refused licensed feature.
func (c *Client) failErrorFor(status int, fail []failItem, feature string) error {
	err := c.failError(status, fail)
	var apiErr *APIError
	if feature != "" && errors.As(err, &apiErr) && apiErr.Kind == ErrPermission {
		apiErr.hint = permissionHint(feature)
	}
	return err
}

// CheckAuth verifies the credentials: API 2.0 fetches a fresh token; API 1.0
// sends one minimal signed call (a 403 there still proves the signature was
// accepted). It returns ErrAuth or ErrKeyExpired kinds on bad credentials,
// and a *RateLimitError, without sending anything, while the account's
// RateBudget is blocked for longer than MaxWait.
func (c *Client) CheckAuth(ctx context.Context) error {
	// While the account is blocked for longer than we would wait, every
	// request fails unsent: say so plainly, not as a credentials failure.
	if until := c.budget.BlockedUntil(); until.Sub(c.now()) > c.maxWait {
		return &RateLimitError{Until: until}
	}
	if c.version == model.APIVersion2 {
		c.tokMu.Lock()
		c.token = ""
		c.tokMu.Unlock()
		_, err := c.accessToken(ctx)
		if err != nil {
			return fmt.Errorf("checking credentials: %w", err)
		}
		return nil
	}
	now := c.now()
	_, err := c.Logs(ctx, LogQuery{Stream: model.StreamAudit, Start: now.Add(-time.Minute), End: now, PageSize: 1},
		func(*model.Record) error { return nil })
	if err != nil && !errors.Is(err, ErrPermission) {
		return fmt.Errorf("checking credentials: %w", err)
	}
	return nil
}

// CheckStream verifies that the account may read stream s with a minimal
// request (one record or file over a short window); nothing is delivered
// and no checkpoint is involved. A refusal gives an ErrPermission kind; for
// the separately licensed streams (held release, archive search, threat
// intel, Cloud Integrated SIEM, Awareness Training) its message says "not
// licensed or no permission for <feature>".
func (c *Client) CheckStream(ctx context.Context, s model.Stream) error {
	discard := func(*model.Record) error { return nil }
	now := c.now()
	var err error
	switch {
	case s == model.StreamSIEM && c.version == model.APIVersion2:
		_, err = c.SIEMBatch(ctx, model.LogReceipt, now, "", 1)
	case s == model.StreamSIEM:
		// Ask for a file but read only the status: the saved token is
		// client-side state, so this consumes nothing.
		var resp *http.Response
		resp, err = c.siemV1Request(ctx, "")
		if err == nil {
			if isJSONContent(resp.Header.Get("Content-Type")) && dispositionFileName(resp.Header.Get("Content-Disposition")) == "" {
				if ferr := c.siemV1NoData(resp); ferr != nil {
					err = fmt.Errorf("fetching SIEM logs: %w", ferr)
				}
			}
			resp.Body.Close()
		}
	case s == model.StreamSIEMCI:
		_, err = c.SIEMBatchCI(ctx, "entities", now, "", 1)
	case s == model.StreamThreatIntelCustomer || s == model.StreamThreatIntelGrid:
		// A one-minute window: usually "no results", which proves access
		// without downloading a feed.
		_, _, err = c.ThreatIntel(ctx, s, now.Add(-time.Minute), now, "", discard)
	case s == model.StreamAwarenessTraining:
		spec := awarenessKinds["safe_score"]
		d := c.newDecoder(kindAwareness, s, spec.logType, discard, spec.path)
		_, err = c.postPage(ctx, apiPage{path: spec.path, what: "awareness training safe_score", feature: awarenessFeature, pageSize: 1}, d)
	default:
		if _, ok := apiStreams[s]; !ok {
			return fmt.Errorf("checking %s: stream not supported by the Mimecast client", s)
		}
		_, err = c.Logs(ctx, LogQuery{Stream: s, Start: now.Add(-time.Hour), End: now, PageSize: 1}, discard)
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", s, err)
	}
	return nil
}
