package mimecast

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// SIEMFileResult is the outcome of one API 1.0 get-siem-logs call.
type SIEMFileResult struct {
	NextToken string // token for the next call (save it once this file's records are delivered)
	Done      bool   // Mimecast answered "no more data for now" (JSON instead of a file)
	FileName  string // from Content-Disposition
	Stats     DecodeStats
}

// SIEMLogsV1 fetches at most one API 1.0 SIEM file (zip or plain, JSON or
// key_value) and streams its records to fn, in file order; fn's error aborts
// and is returned unchanged. token is "" on the very first call, when
// Mimecast starts from the oldest file it still holds.
//
// Records older than start are dropped (counted in Stats.Skipped); pass the
// zero time to keep everything. get-siem-logs has no start parameter, so
// this is how an initial look-back is applied: pass it while catching up
// for the first time.
//
// When Mimecast has nothing new it answers JSON: then Done is true and
// NextToken is the mc-siem-token header if one came, else token unchanged.
// A token Mimecast refuses gives ErrInvalidSIEMToken.
//
// onFile, when set, is called with the file's name (Content-Disposition)
// before its first record: the collector uses it to recognise a file it
// delivered before.
func (c *Client) SIEMLogsV1(ctx context.Context, token string, start time.Time, onFile func(name string), fn func(*model.Record) error) (SIEMFileResult, error) {
	if c.version != model.APIVersion1 {
		return SIEMFileResult{}, errors.New("fetching SIEM logs: get-siem-logs needs API 1.0")
	}
	resp, err := c.siemV1Request(ctx, token)
	if err != nil {
		return SIEMFileResult{}, err
	}
	defer resp.Body.Close()

	name := dispositionFileName(resp.Header.Get("Content-Disposition"))
	if name == "" && isJSONContent(resp.Header.Get("Content-Type")) {
		if err := c.siemV1NoData(resp); err != nil {
			return SIEMFileResult{}, fmt.Errorf("fetching SIEM logs: %w", err)
		}
		next := resp.Header.Get("mc-siem-token")
		if next == "" {
			next = token
		}
		return SIEMFileResult{NextToken: next, Done: true}, nil
	}
	next := resp.Header.Get("mc-siem-token")
	if next == "" {
		// Without a token we could not move past this file: refuse it
		// rather than deliver it again and again.
		return SIEMFileResult{}, fmt.Errorf("fetching SIEM logs: %w",
			badResponse("file "+name+" came without an mc-siem-token header", nil))
	}
	where := name
	if where == "" {
		where = "get-siem-logs response"
	}
	if onFile != nil {
		onFile(name)
	}
	d := c.newDecoder(kindSIEMv1, model.StreamSIEM, v1FileLogType(name), fn, where)
	d.notBefore = start

	br := bufio.NewReaderSize(resp.Body, 64<<10)
	magic, _ := br.Peek(4)
	if strings.HasSuffix(strings.ToLower(name), ".zip") || bytes.HasPrefix(magic, []byte("PK\x03\x04")) || bytes.HasPrefix(magic, []byte("PK\x05\x06")) {
		err = c.siemV1Zip(br, d)
	} else {
		err = d.siemV1File(newLimitedReader(br, c.limits.MaxDecompressedBytes))
	}
	res := SIEMFileResult{NextToken: next, FileName: name, Stats: d.stats}
	if err != nil && err != d.cbErr {
		err = fmt.Errorf("reading SIEM file %s: %w", where, err)
	}
	return res, err
}

// siemV1Request posts get-siem-logs and returns the successful response.
func (c *Client) siemV1Request(ctx context.Context, token string) (*http.Response, error) {
	item := map[string]any{"type": "MTA", "fileFormat": c.siemFormat, "compress": true}
	if token != "" {
		item["token"] = token
	}
	body, err := json.Marshal(map[string]any{"data": []any{item}})
	if err != nil {
		return nil, fmt.Errorf("fetching SIEM logs: %w", err)
	}
	resp, err := c.do(ctx, &request{
		method:      http.MethodPost,
		url:         c.base + "/api/audit/get-siem-logs",
		body:        body,
		contentType: "application/json",
		accept:      "*/*",
		auth:        authAPI,
	})
	if err != nil {
		return nil, fmt.Errorf("fetching SIEM logs: %w", err)
	}
	return resp, nil
}

// siemV1NoData reads the JSON answer get-siem-logs gives instead of a file:
// {"meta":{"isLastToken":true,...},"data":[],"fail":[]} means nothing new;
// a non-empty fail[] is an error (e.g. an invalid token).
func (c *Client) siemV1NoData(resp *http.Response) error {
	var env struct {
		Fail []failItem `json:"fail"`
	}
	if err := json.NewDecoder(newLimitedReader(resp.Body, 1<<20)).Decode(&env); err != nil {
		return classifyJSONErr(err)
	}
	return c.failError(resp.StatusCode, env.Fail)
}

// failError turns a non-empty fail[] into an *APIError, or returns nil.
func (c *Client) failError(status int, fail []failItem) error {
	if len(fail) == 0 {
		return nil
	}
	code, msg, retryable := firstFailure(fail)
	kind, hint := classify(status, code, retryable, c.version)
	if kind == ErrRejected && status == http.StatusOK {
		hint = "Mimecast reported a failure"
	}
	return &APIError{Kind: kind, Status: status, Code: c.scrub(code), Message: c.scrub(msg), hint: hint}
}

// isJSONContent reports whether a Content-Type names JSON.
func isJSONContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.Contains(strings.ToLower(ct), "json")
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// dispositionFileName extracts the file name of a Content-Disposition
// header (attachment; filename="delivery_20211018093329655.json").
func dispositionFileName(cd string) string {
	if cd == "" {
		return ""
	}
	if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	// Peers split on `="` and drop the trailing quote; do the same for
	// headers mime cannot parse.
	if i := strings.Index(cd, `filename="`); i >= 0 {
		name := cd[i+len(`filename="`):]
		if j := strings.IndexByte(name, '"'); j >= 0 {
			name = name[:j]
		}
		return name
	}
	return ""
}

// siemV1Zip spools a zip response to a temporary file (zip needs random
// access; spooling keeps it out of memory) and decodes its members.
func (c *Client) siemV1Zip(body io.Reader, d *decoder) error {
	f, err := os.CreateTemp(c.tempDir, "mimecast-siem-*.zip")
	if err != nil {
		return fmt.Errorf("spooling SIEM zip: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, newLimitedReader(body, c.limits.MaxZipBytes))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("spooling SIEM zip: %w", err)
		}
		return classifyReadErr(err)
	}
	return d.zip(f, n, c.limits.MaxZipMembers, c.limits.MaxDecompressedBytes)
}

// zip decodes every member of a SIEM zip in order. A member's log type comes
// from its name, else from the response's file name. At most maxMembers
// members and limit decompressed bytes in total are accepted.
func (d *decoder) zip(ra io.ReaderAt, size int64, maxMembers int, limit int64) error {
	count, err := zipEntryCount(ra, size)
	if err != nil {
		return err
	}
	if count > maxMembers {
		return badResponse(fmt.Sprintf("zip has %d members, more than the limit of %d", count, maxMembers), nil)
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // member names are never used as paths
		return badResponse("unreadable zip", err)
	}
	if len(zr.File) > maxMembers {
		return badResponse(fmt.Sprintf("zip has more than %d members", maxMembers), nil)
	}
	fallback, where := d.logType, d.where
	remaining := limit
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return badResponse("unreadable zip member", err)
		}
		d.logType = v1FileLogType(zf.Name)
		if d.logType == "" {
			d.logType = fallback
		}
		d.where = where + ":" + zf.Name
		lr := newLimitedReader(rc, remaining)
		err = d.siemV1File(lr)
		remaining = lr.remaining
		rc.Close()
		if err != nil {
			return err
		}
	}
	d.logType, d.where = fallback, where
	return nil
}

// zipEntryCount reads the entry count from a zip's end-of-central-directory
// record, so that an archive claiming millions of members is refused before
// archive/zip allocates a header for each. Zip64 counts (0xFFFF) are
// reported as 0xFFFF, which is over any sane member limit.
func zipEntryCount(ra io.ReaderAt, size int64) (int, error) {
	const eocdLen = 22
	if size < eocdLen {
		return 0, badResponse("not a zip file", nil)
	}
	tail := min(size, eocdLen+65535)
	buf := make([]byte, tail)
	if _, err := ra.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, fmt.Errorf("reading spooled zip: %w", err)
	}
	// Like archive/zip, take the last signature whose comment fits the file.
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if string(buf[i:i+4]) != "PK\x05\x06" {
			continue
		}
		commentLen := int(binary.LittleEndian.Uint16(buf[i+20:]))
		if i+eocdLen+commentLen <= len(buf) {
			return int(binary.LittleEndian.Uint16(buf[i+10:])), nil
		}
	}
	return 0, badResponse("not a zip file (no end of central directory)", nil)
}
