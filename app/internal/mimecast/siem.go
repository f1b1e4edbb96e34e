package mimecast

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"mimecast-qradar/app/internal/model"
)

// BatchFile is one pre-signed SIEM file listed by the API 2.0 batch endpoint.
type BatchFile struct {
	URL     string
	Size    int64
	Expiry  time.Time
	LogType string // the log type requested (model.Log* name); used for records that carry none. A ci_* type marks a Cloud Integrated file (stream siem_ci).
}

// BatchPage is one page of the API 2.0 SIEM batch listing.
type BatchPage struct {
	Files    []BatchFile
	NextPage string // @nextPage: resume from here (save it once every file of this page is delivered)
	CaughtUp bool   // isCaughtUp: nothing newer for now
}

// siemRetention is how far back Mimecast keeps SIEM data; asking for more
// is refused by some deployments, so the batch start is clamped to it.
const siemRetention = 7 * 24 * time.Hour

// SIEMBatch lists one page of API 2.0 SIEM batch files for one log type
// (a model.Log* SIEM name or its 2.0 spelling). With nextPage empty the
// listing starts at start's day (UTC, at most 7 days back); otherwise it
// continues from nextPage. pageSize <= 0 means 100. Stop paging when
// CaughtUp is true or Files is empty.
func (c *Client) SIEMBatch(ctx context.Context, logType string, start time.Time, nextPage string, pageSize int) (BatchPage, error) {
	if c.version != model.APIVersion2 {
		return BatchPage{}, errors.New("fetching SIEM batch: the batch endpoint needs API 2.0")
	}
	lt, ok := siemLogType([]byte(logType))
	if !ok {
		return BatchPage{}, fmt.Errorf("fetching SIEM batch: unknown SIEM log type %q", logType)
	}
	return c.batchPage(ctx, batchQuery{path: "/siem/v1/batch/events/cg", typeName: v2TypeNames[lt], logType: lt,
		what: "SIEM batch (" + lt + ")"}, start, nextPage, pageSize)
}

// SIEMBatchCI lists one page of API 2.0 Cloud Integrated SIEM batch files
// (GET /siem/v1/batch/events/ci) for one type: entities, mailflow or
// urlclick (the ci_ log type names are accepted too). It works like
// SIEMBatch: the same paging, retention clamp and stop conditions. Its
// files carry LogType ci_<type>; DownloadSIEMFile reads them as records of
// the siem_ci stream.
func (c *Client) SIEMBatchCI(ctx context.Context, ciType string, start time.Time, nextPage string, pageSize int) (BatchPage, error) {
	if c.version != model.APIVersion2 {
		return BatchPage{}, errors.New("fetching CI SIEM batch: the batch endpoint needs API 2.0")
	}
	name := strings.TrimPrefix(strings.ToLower(ciType), "ci_")
	lt, ok := ciTypes[name]
	if !ok {
		return BatchPage{}, fmt.Errorf("fetching CI SIEM batch: unknown Cloud Integrated type %q (want entities, mailflow or urlclick)", ciType)
	}
	return c.batchPage(ctx, batchQuery{path: "/siem/v1/batch/events/ci", typeName: name, logType: lt,
		what: "CI SIEM batch (" + name + ")", feature: "Cloud Integrated SIEM logs"}, start, nextPage, pageSize)
}

// batchQuery names one listing of a batch endpoint.
type batchQuery struct {
	path     string
	typeName string // the type query value
	logType  string // given to the listed files
	what     string // names the listing in errors
	feature  string // separately licensed data, for the wording of a 403
}

// batchPage lists one page of a batch endpoint (reference §6.2).
func (c *Client) batchPage(ctx context.Context, bq batchQuery, start time.Time, nextPage string, pageSize int) (BatchPage, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	q := url.Values{"type": {bq.typeName}, "pageSize": {strconv.Itoa(pageSize)}}
	if nextPage != "" {
		q.Set("nextPage", nextPage)
	} else {
		now := c.now().UTC()
		if start.IsZero() || start.After(now) {
			start = now
		}
		if oldest := now.Add(-siemRetention); start.Before(oldest) {
			start = oldest
		}
		q.Set("dateRangeStartsAt", start.UTC().Format(time.DateOnly))
	}
	resp, err := c.do(ctx, &request{
		method:  http.MethodGet,
		url:     c.base + bq.path,
		query:   q,
		accept:  "application/json",
		auth:    authAPI,
		feature: bq.feature,
	})
	if err != nil {
		return BatchPage{}, fmt.Errorf("fetching %s: %w", bq.what, err)
	}
	defer resp.Body.Close()
	var body struct {
		Value []struct {
			URL    string          `json:"url"`
			Size   json.RawMessage `json:"size"`
			Expiry string          `json:"expiry"`
		} `json:"value"`
		NextPage   string `json:"@nextPage"`
		IsCaughtUp bool   `json:"isCaughtUp"`
	}
	if err := json.NewDecoder(newLimitedReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return BatchPage{}, fmt.Errorf("fetching %s: %w", bq.what, classifyJSONErr(err))
	}
	page := BatchPage{NextPage: body.NextPage, CaughtUp: body.IsCaughtUp}
	for _, v := range body.Value {
		if _, err := checkFileURL(v.URL, c.origins); err != nil {
			return BatchPage{}, fmt.Errorf("fetching %s: %w", bq.what, badResponse("file URL refused", err))
		}
		size, _ := intValue(v.Size)
		expiry, _ := time.Parse(time.RFC3339Nano, v.Expiry)
		page.Files = append(page.Files, BatchFile{URL: v.URL, Size: size, Expiry: expiry, LogType: bq.logType})
	}
	return page, nil
}

// classifyJSONErr words an error from decoding a whole JSON response.
func classifyJSONErr(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return badResponse("empty response", nil)
	case errors.As(err, &syn), errors.As(err, &typ):
		return badResponse("unreadable JSON", err)
	}
	return classifyReadErr(err)
}

// gzipReaders recycles gzip readers (each holds a 32 KiB window and tables).
var gzipReaders sync.Pool

// DownloadSIEMFile streams one gzip NDJSON file, calling fn for each record
// in order (stream siem, or siem_ci with LogType ci_<type> and a composite
// ID for a file listed by SIEMBatchCI); fn's error aborts the download and is returned unchanged. The
// Record is only valid during the call. Malformed or oversized lines are
// skipped and counted. An expired URL (401/403/404/410 from storage) gives
// ErrFileExpired; a corrupt or truncated file gives ErrBadResponse after the
// records before the damage were delivered.
func (c *Client) DownloadSIEMFile(ctx context.Context, f BatchFile, fn func(*model.Record) error) (DecodeStats, error) {
	if _, err := checkFileURL(f.URL, c.origins); err != nil {
		return DecodeStats{}, fmt.Errorf("downloading SIEM file: %w", err)
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: f.URL, accept: "*/*", auth: authNone, file: true})
	if err != nil {
		return DecodeStats{}, fmt.Errorf("downloading SIEM file %s: %w", redactRawURL(f.URL), err)
	}
	defer resp.Body.Close()
	d := c.newDecoder(kindSIEMv2, model.StreamSIEM, f.LogType, fn, redactRawURL(f.URL))
	if isCILogType(f.LogType) {
		d.kind, d.stream = kindCI, model.StreamSIEMCI
	}
	err = d.gzipNDJSON(resp.Body, c.limits.MaxDecompressedBytes)
	if err != nil && err != d.cbErr {
		err = fmt.Errorf("reading SIEM file %s: %w", redactRawURL(f.URL), err)
	}
	return d.stats, err
}

// newDecoder returns a decoder for the client's limits and logger.
func (c *Client) newDecoder(kind recordKind, stream model.Stream, logType string, fn func(*model.Record) error, where string) *decoder {
	return &decoder{kind: kind, stream: stream, logType: logType, idField: -1, maxRecord: c.limits.MaxRecordBytes,
		fn: fn, log: c.log, where: where}
}

// gzipNDJSON reads gzip-compressed NDJSON (or plain NDJSON, when the body
// does not start with the gzip magic, e.g. after transparent decompression).
// At most limit bytes are accepted after decompression.
func (d *decoder) gzipNDJSON(body io.Reader, limit int64) (err error) {
	in := bufio.NewReaderSize(body, 32<<10)
	magic, err := in.Peek(2)
	if err != nil && len(magic) == 0 {
		if err == io.EOF {
			return nil // an empty file holds no records
		}
		return classifyReadErr(err)
	}
	var src io.Reader = in
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		if err := zr.Reset(in); err != nil {
			return classifyReadErr(err)
		}
		defer func() {
			_ = zr.Reset(bytes.NewReader(nil)) // drop references to this response
			gzipReaders.Put(zr)
		}()
		// Decompress in another goroutine while this one decodes, formats
		// and sends: gunzip is the largest single cost of the pipeline.
		ra := newReadAhead(zr)
		defer func() {
			// An abandoned read-ahead may be blocked reading the body:
			// closing the body unblocks it before we wait for it.
			if c, ok := body.(io.Closer); ok && err != nil {
				c.Close()
			}
			ra.close()
		}()
		src = ra
	}
	return d.ndjson(bufio.NewReaderSize(newLimitedReader(src, limit), 64<<10))
}
