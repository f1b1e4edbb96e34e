package mimecastsim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// logRec is one record of an /api/ log stream. Times have second precision,
// like the records' own time fields (threat intel: milliseconds).
type logRec struct {
	t       time.Time
	seq     int64
	id      string
	raw     []byte
	untimed bool // the record does not carry its time (some held release logs)

	// Threat intel: the malware object the indicator (raw) indicates, the
	// relationship linking them, and the malware's name.
	malware, rel []byte
	malwareName  string
}

// logStore holds an account's records of one stream, sorted by (t, seq).
type logStore struct {
	recs []logRec
	next int64
}

// logEndpoint describes one paged /api/ endpoint (reference §5).
type logEndpoint struct {
	path   string
	stream model.Stream
	// startKey/endKey are the data[0] time window fields.
	startKey, endKey string
	// windowRequired: the endpoint refuses a first request without a
	// window (audit); the others default to start of day .. now.
	windowRequired bool
	// oldestFirst: the endpoint honours data[0].oldestFirst; otherwise the
	// order is always newest first.
	oldestFirst bool
	// listKey is the key of the record list inside data[0]; "" means the
	// records are the elements of data[] (audit).
	listKey     string
	resultCount bool
	// twins: now and then a record is repeated exactly, in the same second
	// (archive search logs have no id, and the fixtures hold such twins).
	twins bool
	// gen writes one record to g.w and returns its identity (RecordID); it
	// sets g.untimed when the record leaves out its time.
	gen func(g *gen, t time.Time, uid string) string
}

var logEndpoints = []*logEndpoint{
	{path: "/api/audit/get-audit-events", stream: model.StreamAudit, startKey: "startDateTime", endKey: "endDateTime",
		windowRequired: true, gen: (*gen).auditEvent},
	{path: "/api/ttp/url/get-logs", stream: model.StreamTTPURL, startKey: "from", endKey: "to", oldestFirst: true,
		listKey: "clickLogs", gen: (*gen).ttpURLLog},
	{path: "/api/ttp/attachment/get-logs", stream: model.StreamTTPAttachment, startKey: "from", endKey: "to", oldestFirst: true,
		listKey: "attachmentLogs", gen: (*gen).ttpAttachmentLog},
	{path: "/api/ttp/impersonation/get-logs", stream: model.StreamTTPImpersonation, startKey: "from", endKey: "to", oldestFirst: true,
		listKey: "impersonationLogs", resultCount: true, gen: (*gen).ttpImpersonationLog},
	{path: "/api/dlp/get-logs", stream: model.StreamDLP, startKey: "from", endKey: "to", oldestFirst: true,
		listKey: "dlpLogs", gen: (*gen).dlpLog},
	{path: "/api/gateway/get-held-release-logs", stream: model.StreamMessageRelease, startKey: "start", endKey: "end",
		listKey: "heldReleaseLogs", gen: (*gen).messageReleaseLog},
	{path: "/api/archive/get-archive-search-logs", stream: model.StreamArchiveSearch, startKey: "start", endKey: "end",
		listKey: "logs", twins: true, gen: (*gen).archiveSearchLog},
}

// twinEvery is how often a twins endpoint repeats a record: the record of
// every twinEvery-th sequence number copies its predecessor.
const twinEvery = 8

func logEndpointFor(stream model.Stream) *logEndpoint {
	for _, le := range logEndpoints {
		if le.stream == stream {
			return le
		}
	}
	return nil
}

func streamSeed(a *account, stream model.Stream) uint64 {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return mix(a.seed, h.Sum64())
}

// addLogs generates n records of an /api/ log stream or a threat intel
// feed with times spread over [from, to].
func (s *Sim) addLogs(a *account, stream model.Stream, n int, from, to time.Time) {
	if ft := threatFeedOf(stream); ft != nil {
		s.addRecords(a, stream, n, from, to, time.Millisecond, false, ft.indicator(a, stream))
		return
	}
	le := logEndpointFor(stream)
	if le == nil {
		// Callers loop over model.SupportedStreams, which may grow before
		// the simulator learns a stream: skip it rather than fail the demo.
		s.log.Warn("mimecastsim: stream not simulated, no records generated", "stream", string(stream))
		return
	}
	s.addRecords(a, stream, n, from, to, time.Second, le.twins, func(g *gen, t time.Time, seq int64, uid string) logRec {
		g.w.b = nil
		g.untimed = false
		g.w.begin()
		id := le.gen(g, t, uid)
		g.w.end()
		return logRec{t: t, seq: seq, id: id, raw: g.w.b, untimed: g.untimed}
	})
}

// addRecords appends n records built by build to the account's store of
// the stream, with times spread over [from, to] at the given precision.
// With twins, the record of every twinEvery-th sequence number is a copy
// of its predecessor, time included.
func (s *Sim) addRecords(a *account, stream model.Stream, n int, from, to time.Time, precision time.Duration, twins bool,
	build func(g *gen, t time.Time, seq int64, uid string) logRec) {
	if n <= 0 {
		return
	}
	a.genMu.Lock()
	defer a.genMu.Unlock()
	s.mu.RLock()
	ls := a.logs[stream]
	s.mu.RUnlock()
	if ls == nil {
		ls = &logStore{}
		s.mu.Lock()
		a.logs[stream] = ls
		s.mu.Unlock()
	}
	seed := streamSeed(a, stream)
	g := newGen(a, seed, uint64(ls.next), formV2)
	span := to.Sub(from)
	recs := make([]logRec, 0, n)
	for j := range n {
		seq := ls.next + int64(j)
		if twins && j > 0 && seq%twinEvery == twinEvery-1 {
			twin := recs[j-1]
			twin.seq = seq
			recs = append(recs, twin)
			continue
		}
		t := from.Add(span * time.Duration(j) / time.Duration(n))
		if slot := span / time.Duration(n); slot > 0 {
			t = t.Add(time.Duration(g.r.Int64N(int64(slot))))
		}
		t = t.UTC().Truncate(precision)
		recs = append(recs, build(g, t, seq, uid(seed, seq)))
	}
	s.mu.Lock()
	ls.next += int64(n)
	ls.recs = append(ls.recs, recs...)
	slices.SortStableFunc(ls.recs, func(x, y logRec) int {
		if c := x.t.Compare(y.t); c != 0 {
			return c
		}
		return int(x.seq - y.seq)
	})
	s.mu.Unlock()
}

// pageCursor is what a pageToken carries: the query of the first page and
// the offset of the next one. elastic sends follow-up pages with only
// meta.pagination.pageToken, so the token must hold the filters.
type pageCursor struct {
	Path   string `json:"p"`
	Key    string `json:"k,omitempty"` // awareness user data: the campaign id
	From   int64  `json:"f"`
	To     int64  `json:"t"`
	Asc    bool   `json:"a,omitempty"`
	Offset int    `json:"o"`
	Size   int    `json:"s"`
}

// parseTime accepts the date forms peers send: 2011-12-03T10:15:30+0000,
// ...Z, ...+00:00, with or without fractional seconds, and a bare date.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339, dateLayout} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", v)
}

// pageSize reads meta.pagination.pageSize: a number or a numeric string
// (elastic sends "100").
func (s *Sim) pageSize(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, true
	}
	var n int
	if json.Unmarshal(raw, &n) != nil {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			return 0, false
		}
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(str)); err != nil {
			return 0, false
		}
	}
	if n < 1 {
		return 0, false
	}
	return min(n, s.opts.MaxPageSize), true
}

func (s *Sim) logsHandler(le *logEndpoint) func(*call) {
	return func(c *call) { s.logs(c, le) }
}

// logs answers one page of a paged /api/ log endpoint.
func (s *Sim) logs(c *call, le *logEndpoint) {
	req, ok := c.parseAPI()
	if !ok {
		return
	}
	item := req.item()
	size, ok := s.pageSize(req.Meta.Pagination.PageSize)
	if !ok {
		c.apiFail(http.StatusOK, item, "err_validation_invalid_value", "pageSize must be a positive number", false)
		return
	}
	var cur pageCursor
	if tok := req.Meta.Pagination.PageToken; tok != "" {
		payload, ok := s.open(tok)
		if !ok || json.Unmarshal(payload, &cur) != nil || cur.Path != le.path {
			c.apiFail(http.StatusOK, item, "err_invalid_page_token", "The page token is invalid", false)
			return
		}
		if size == 0 {
			size = cur.Size
		}
	} else {
		now := s.now().UTC()
		from := now.Truncate(24 * time.Hour) // documented default: start of day
		to := now
		for _, w := range []struct {
			key string
			dst *time.Time
		}{{le.startKey, &from}, {le.endKey, &to}} {
			k, dst := w.key, w.dst
			v, present := fieldString(item, k)
			if !present {
				if le.windowRequired {
					c.apiFail(http.StatusOK, item, "err_validation_null", k+" must not be null", false)
					return
				}
				continue
			}
			t, err := parseTime(v)
			if err != nil {
				c.apiFail(http.StatusOK, item, "err_validation_invalid_value", k+": "+err.Error(), false)
				return
			}
			*dst = t
		}
		cur = pageCursor{Path: le.path, From: from.Truncate(time.Second).Unix(), To: to.Truncate(time.Second).Unix(),
			Asc: le.oldestFirst && fieldBool(item, "oldestFirst")}
	}
	if size == 0 {
		size = s.opts.DefaultPageSize
	}
	cur.Size = size

	// Both window ends are inclusive, at second precision: collectors that
	// reuse the last end as the next start see the boundary second twice
	// and must drop repeats by identity.
	s.mu.RLock()
	var recs []logRec
	if ls := c.acct.logs[le.stream]; ls != nil {
		lo, _ := slices.BinarySearchFunc(ls.recs, cur.From, func(r logRec, t int64) int { return int(r.t.Unix() - t) })
		hi, _ := slices.BinarySearchFunc(ls.recs, cur.To+1, func(r logRec, t int64) int { return int(r.t.Unix() - t) })
		recs = ls.recs[lo:hi]
	}
	s.mu.RUnlock()
	total := len(recs)
	var page []json.RawMessage
	for i := cur.Offset; i < total && len(page) < size; i++ {
		r := recs[i]
		if !cur.Asc {
			r = recs[total-1-i]
		}
		page = append(page, r.raw)
	}
	if len(page) > 0 && s.take(c, FaultMalformedRecord) != nil {
		at := len(page) / 2
		page = slices.Insert(page, at, json.RawMessage(`"not a record"`))
	}

	pagination := map[string]any{"pageSize": size, "totalCount": total}
	token := func(offset int) string {
		next := cur
		next.Offset = offset
		payload, _ := json.Marshal(next)
		return s.seal(payload)
	}
	end := cur.Offset + len(page)
	switch {
	case end < total && len(page) > 0:
		pagination["next"] = token(end)
	case s.opts.EmptyLastPage && len(page) > 0:
		pagination["next"] = token(total)
	case s.opts.EmptyLastPage && cur.Offset >= total && cur.Offset > 0:
		// The quirk: an empty page that still points somewhere.
		pagination["next"] = token(cur.Offset)
		pagination["pageSize"], pagination["totalCount"] = 0, 0
	}
	if cur.Offset > 0 {
		pagination["previous"] = token(max(0, cur.Offset-size))
	}

	// The envelope is assembled by hand so that records go out byte for
	// byte as generated (json.Marshal would re-escape them).
	meta, _ := json.Marshal(map[string]any{"status": http.StatusOK, "pagination": pagination})
	body := make([]byte, 0, 256+len(page)*600)
	body = append(body, `{"meta":`...)
	body = append(body, meta...)
	body = append(body, `,"data":[`...)
	if len(page) > 0 {
		if le.listKey != "" {
			body = append(body, `{"`+le.listKey+`":[`...)
		}
		for i, r := range page {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, r...)
		}
		if le.listKey != "" {
			body = append(body, ']')
			if le.resultCount {
				body = append(body, `,"resultCount":`...)
				body = strconv.AppendInt(body, int64(total), 10)
			}
			body = append(body, '}')
		}
	}
	body = append(body, `],"fail":[]}`...)
	if s.take(c, FaultTruncated) != nil {
		body = body[:len(body)/2]
	}
	c.writeBody(http.StatusOK, "application/json", body)
}
