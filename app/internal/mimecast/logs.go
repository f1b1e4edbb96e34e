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
	Stream    model.Stream // audit, ttp_url, ttp_attachment, ttp_impersonation or dlp
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
	pageSize := q.PageSize
	if pageSize <= 0 {
		pageSize = 100
	}
	item := map[string]any{
		spec.fromKey: q.Start.UTC().Format(requestTimeLayout),
		spec.toKey:   end.UTC().Format(requestTimeLayout),
	}
	for k, v := range spec.extra {
		item[k] = v
	}
	pagination := map[string]any{"pageSize": pageSize}
	if q.PageToken != "" {
		// The original filters are sent again with the token: both forms
		// are accepted by Mimecast, this one by every peer's server too.
		pagination["pageToken"] = q.PageToken
	}
	body, err := json.Marshal(map[string]any{"meta": map[string]any{"pagination": pagination}, "data": []any{item}})
	if err != nil {
		return LogPage{}, fmt.Errorf("fetching %s logs: %w", q.Stream, err)
	}
	resp, err := c.do(ctx, &request{
		method:      http.MethodPost,
		url:         c.base + spec.path,
		body:        body,
		contentType: "application/json",
		accept:      "application/json",
		auth:        authAPI,
	})
	if err != nil {
		return LogPage{}, fmt.Errorf("fetching %s logs: %w", q.Stream, err)
	}
	defer resp.Body.Close()

	d := c.newDecoder(kindAPI, q.Stream, spec.logType, fn, spec.path)
	d.timeField, d.idField = spec.timeField, spec.idField
	meta, fail, err := d.envelope(newLimitedReader(resp.Body, c.limits.MaxDecompressedBytes), spec.wrapper)
	page := LogPage{Stats: d.stats}
	if err != nil {
		if err == d.cbErr {
			return page, err
		}
		return page, fmt.Errorf("reading %s logs: %w", q.Stream, err)
	}
	if err := c.failError(resp.StatusCode, fail); err != nil {
		return page, fmt.Errorf("fetching %s logs: %w", q.Stream, err)
	}
	// Mimecast may answer a last page with empty data and a next token
	// anyway; following it would loop, so an empty page ends the stream.
	if d.stats.Records+d.stats.Malformed+d.stats.Skipped > 0 {
		page.Next = meta.nextToken()
	}
	return page, nil
}

// CheckAuth verifies the credentials: API 2.0 fetches a fresh token; API 1.0
// sends one minimal signed call (a 403 there still proves the signature was
// accepted). It returns ErrAuth or ErrKeyExpired kinds on bad credentials.
func (c *Client) CheckAuth(ctx context.Context) error {
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
// and no checkpoint is involved. A refusal gives an ErrPermission kind.
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
