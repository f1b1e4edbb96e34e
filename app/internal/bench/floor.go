package bench

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mimecast-qradar/app/internal/mimecast"
)

// FloorResult is what a floor pass fetched and how long it took.
type FloorResult struct {
	Files   int   // SIEM files (2.0) or get-siem-logs replies (1.0) fetched
	Records int64 // non-empty lines (2.0 only: a 1.0 JSON file has no line per record)
	Bytes   int64 // decompressed bytes
	Wire    int64 // bytes received (compressed)
	// List is the time spent authenticating and listing the 2.0 files; it
	// is not part of Elapsed, which makes the floor faster and our ratio to
	// it stricter.
	List    time.Duration
	Elapsed time.Duration // downloading, decompressing and splitting
}

// FloorV2 lists every API 2.0 SIEM file of the account from start on, then
// downloads each with a plain GET, gunzips it and splits it into lines that
// go nowhere: the least any collector must do with the same files. Files
// are fetched one after the other, as the collector fetches them.
func FloorV2(ctx context.Context, hc *http.Client, baseURL, clientID, clientSecret string, start time.Time) (FloorResult, error) {
	var res FloorResult
	t0 := time.Now()
	token, err := oauthToken(ctx, hc, baseURL, clientID, clientSecret)
	if err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	urls, err := listV2(ctx, hc, baseURL, token, start)
	if err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	res.List = time.Since(t0)

	t1 := time.Now()
	in := bufio.NewReaderSize(nil, 32<<10)
	lines := bufio.NewReaderSize(nil, 64<<10)
	var zr gzip.Reader
	for _, u := range urls {
		if err := getV2File(ctx, hc, u, in, &zr, lines, &res); err != nil {
			return res, fmt.Errorf("floor: %w", err)
		}
	}
	res.Elapsed = time.Since(t1)
	return res, nil
}

func getV2File(ctx context.Context, hc *http.Client, u string, in *bufio.Reader, zr *gzip.Reader, lines *bufio.Reader, res *FloorResult) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("downloading a SIEM file: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading a SIEM file: %s", resp.Status)
	}
	wire := &countingReader{r: resp.Body}
	in.Reset(wire)
	if err := zr.Reset(in); err != nil {
		return fmt.Errorf("gunzipping a SIEM file: %w", err)
	}
	lines.Reset(zr)
	inLine := false
	for {
		line, err := lines.ReadSlice('\n')
		res.Bytes += int64(len(line))
		if len(bytes.TrimSpace(line)) > 0 && !inLine {
			res.Records++
		}
		inLine = err == bufio.ErrBufferFull
		if err == io.EOF {
			break
		}
		if err != nil && !inLine {
			return fmt.Errorf("reading a SIEM file: %w", err)
		}
	}
	res.Files++
	res.Wire += wire.n
	return nil
}

// oauthToken runs the API 2.0 client-credentials grant.
func oauthToken(ctx context.Context, hc *http.Client, baseURL, clientID, clientSecret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(hc, req, &tok); err != nil {
		return "", fmt.Errorf("getting an access token: %w", err)
	}
	if tok.AccessToken == "" {
		return "", errors.New("getting an access token: none in the reply")
	}
	return tok.AccessToken, nil
}

// listV2 follows the batch listing (every log type at once) to its end.
func listV2(ctx context.Context, hc *http.Client, baseURL, token string, start time.Time) ([]string, error) {
	var urls []string
	next := ""
	for {
		q := url.Values{"pageSize": {"1000"}, "dateRangeStartsAt": {start.UTC().Format(time.DateOnly)}}
		if next != "" {
			q.Set("nextPage", next)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/siem/v1/batch/events/cg?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		var page struct {
			Value []struct {
				URL string `json:"url"`
			} `json:"value"`
			NextPage   string `json:"@nextPage"`
			IsCaughtUp bool   `json:"isCaughtUp"`
		}
		if err := doJSON(hc, req, &page); err != nil {
			return nil, fmt.Errorf("listing SIEM files: %w", err)
		}
		for _, v := range page.Value {
			urls = append(urls, v.URL)
		}
		if len(page.Value) == 0 || page.IsCaughtUp || page.NextPage == "" || page.NextPage == next {
			return urls, nil
		}
		next = page.NextPage
	}
}

func doJSON(hc *http.Client, req *http.Request, v any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// V1Keys are the four API 1.0 credentials.
type V1Keys struct {
	AppID, AppKey, AccessKey, SecretKey string
}

// FloorV1 fetches the account's API 1.0 SIEM queue from its start, one
// get-siem-logs reply (a zip of one JSON file) after the other as the
// collector does, and inflates every zip member into nothing. The zip is
// held in memory (the collector spools it to a file), which only makes the
// floor faster.
func FloorV1(ctx context.Context, hc *http.Client, baseURL string, keys V1Keys) (FloorResult, error) {
	var res FloorResult
	t0 := time.Now()
	var buf bytes.Buffer
	token := ""
	for {
		next, more, err := getV1Reply(ctx, hc, baseURL, keys, token, &buf, &res)
		if err != nil {
			return res, fmt.Errorf("floor: %w", err)
		}
		if !more {
			break
		}
		if next == "" || next == token {
			return res, errors.New("floor: get-siem-logs sent a file without a new token")
		}
		token = next
	}
	res.Elapsed = time.Since(t0)
	return res, nil
}

const v1SIEMPath = "/api/audit/get-siem-logs"

// getV1Reply makes one get-siem-logs call. more is false when Mimecast
// answered that there is nothing more.
func getV1Reply(ctx context.Context, hc *http.Client, baseURL string, keys V1Keys, token string, buf *bytes.Buffer, res *FloorResult) (next string, more bool, err error) {
	item := map[string]any{"type": "MTA", "fileFormat": "json", "compress": true}
	if token != "" {
		item["token"] = token
	}
	body, err := json.Marshal(map[string]any{"data": []any{item}})
	if err != nil {
		return "", false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+v1SIEMPath, bytes.NewReader(body))
	if err != nil {
		return "", false, err
	}
	date := time.Now().UTC().Format(time.RFC1123)
	var id [16]byte
	rand.Read(id[:])
	reqID := hex.EncodeToString(id[:])
	sig, err := mimecast.SignV1(keys.SecretKey, date, reqID, v1SIEMPath, keys.AppKey)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("x-mc-date", date)
	req.Header.Set("x-mc-req-id", reqID)
	req.Header.Set("x-mc-app-id", keys.AppID)
	req.Header.Set("Authorization", "MC "+keys.AccessKey+":"+sig)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "*/*")
	resp, err := hc.Do(req)
	if err != nil {
		return "", false, fmt.Errorf("fetching SIEM logs: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("fetching SIEM logs: %s", resp.Status)
	}
	if resp.Header.Get("Content-Disposition") == "" {
		var env struct {
			Meta struct {
				IsLastToken bool `json:"isLastToken"`
			} `json:"meta"`
			Fail []json.RawMessage `json:"fail"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			return "", false, fmt.Errorf("fetching SIEM logs: %w", err)
		}
		if len(env.Fail) > 0 || !env.Meta.IsLastToken {
			return "", false, fmt.Errorf("fetching SIEM logs: unexpected reply %+v", env)
		}
		return "", false, nil
	}
	buf.Reset()
	n, err := buf.ReadFrom(resp.Body)
	if err != nil {
		return "", false, fmt.Errorf("downloading a SIEM zip: %w", err)
	}
	res.Wire += n
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return "", false, fmt.Errorf("opening a SIEM zip: %w", err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return "", false, fmt.Errorf("opening a SIEM zip member: %w", err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return "", false, fmt.Errorf("inflating a SIEM zip member: %w", err)
		}
		res.Bytes += n
	}
	res.Files++
	return resp.Header.Get("mc-siem-token"), true, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
