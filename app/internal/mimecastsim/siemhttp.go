package mimecastsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// batchCursor is what an API 2.0 @nextPage carries. Clients must treat it
// as opaque; the simulator seals it so tampering is detected.
type batchCursor struct {
	Types []string `json:"t,omitempty"` // 2.0 type names; empty = all
	From  string   `json:"f,omitempty"` // YYYY-MM-DD
	To    string   `json:"e,omitempty"` // YYYY-MM-DD
	Pos   int64    `json:"p"`           // seq of the next file to consider
	Kind  string   `json:"k,omitempty"` // siemKind.prefix: a Cloud Gateway cursor is no Cloud Integrated one
}

const dateLayout = "2006-01-02"

// batchHandler answers GET /siem/v1/batch/events/cg or .../ci (reference
// §6.2, more-streams §5) for the files of kind k.
func (s *Sim) batchHandler(k *siemKind) func(*call) {
	return func(c *call) { s.batch(c, k) }
}

// batch lists one page of an account's batch files of kind k.
func (s *Sim) batch(c *call, k *siemKind) {
	q := c.r.URL.Query()
	var cur batchCursor
	if np := q.Get("nextPage"); np != "" {
		payload, ok := s.open(np)
		if !ok || json.Unmarshal(payload, &cur) != nil || cur.Kind != k.prefix {
			c.siemError(http.StatusBadRequest, "InvalidNextPage", "nextPage is not a valid token")
			return
		}
	}
	cur.Kind = k.prefix
	if t := q.Get("type"); t != "" {
		cur.Types = nil
		for _, name := range strings.Split(t, ",") {
			name = strings.TrimSpace(name)
			if k.typeByV2(name) == nil {
				c.siemError(http.StatusBadRequest, "InvalidType", "unknown type "+strconv.Quote(name))
				return
			}
			cur.Types = append(cur.Types, name)
		}
	}
	for _, d := range []struct {
		param string
		dst   *string
	}{{"dateRangeStartsAt", &cur.From}, {"dateRangeEndsAt", &cur.To}} {
		param, dst := d.param, d.dst
		if v := q.Get(param); v != "" {
			if _, err := time.Parse(dateLayout, v); err != nil {
				c.siemError(http.StatusBadRequest, "InvalidDate", param+" must be YYYY-MM-DD")
				return
			}
			*dst = v
		}
	}
	pageSize := s.opts.BatchPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.siemError(http.StatusBadRequest, "InvalidPageSize", "pageSize must be a positive number")
			return
		}
		pageSize = min(n, 1000)
	}
	if cur.Pos < 1 {
		cur.Pos = 1
	}

	now := s.now()
	fromMs, toMs := int64(0), int64(1<<62)
	if t, err := time.Parse(dateLayout, cur.From); err == nil {
		fromMs = t.UnixMilli()
	}
	if t, err := time.Parse(dateLayout, cur.To); err == nil {
		toMs = t.AddDate(0, 0, 1).UnixMilli()
	}
	match := func(f *siemFile) bool {
		if s.purged(f, now) || f.end < fromMs || f.start >= toMs {
			return false
		}
		if len(cur.Types) == 0 {
			return true
		}
		for _, t := range cur.Types {
			if t == f.st.v2 {
				return true
			}
		}
		return false
	}

	s.mu.RLock()
	files := c.acct.queue(k).files
	s.mu.RUnlock()
	var page []*siemFile
	if s.hasFile(files[:min(int(cur.Pos-1), len(files))], match) && s.take(c, FaultDuplicateFile) != nil {
		for i := min(int(cur.Pos-1), len(files)) - 1; i >= 0; i-- {
			if match(files[i]) {
				page = append(page, files[i])
				break
			}
		}
	}
	i := int(cur.Pos - 1)
	for ; i < len(files) && len(page) < pageSize; i++ {
		if match(files[i]) {
			page = append(page, files[i])
		}
	}
	next := cur
	next.Pos = int64(i) + 1
	more := s.hasFile(files[min(i, len(files)):], match)
	caughtUp := len(page) == 0 || (s.opts.CaughtUpWithLastFiles && !more)

	type fileRef struct {
		URL    string `json:"url"`
		Size   int    `json:"size"`
		Expiry string `json:"expiry"`
	}
	value := make([]fileRef, 0, len(page))
	expires := now.Add(s.opts.URLTTL)
	for _, f := range page {
		value = append(value, fileRef{
			URL:    s.fileURL(c.r, c.acct, f, expires),
			Size:   s.gzSize(c.acct, f),
			Expiry: expires.UTC().Format("2006-01-02T15:04:05.000Z"),
		})
	}
	payload, _ := json.Marshal(next)
	c.writeJSON(http.StatusOK, map[string]any{"value": value, "@nextPage": s.seal(payload), "isCaughtUp": caughtUp})
}

func (s *Sim) hasFile(files []*siemFile, match func(*siemFile) bool) bool {
	for _, f := range files {
		if match(f) {
			return true
		}
	}
	return false
}

func (s *Sim) gzSize(a *account, f *siemFile) int {
	if f.gzSize > 0 {
		return f.gzSize
	}
	return len(renderV2(a, f, -1)) // an account that had no 2.0 credentials when generated
}

// fileURL is the "pre-signed" URL of a file: the simulator's own
// /storage/ path, valid until expires.
func (s *Sim) fileURL(r *http.Request, a *account, f *siemFile, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	name := f.kind.prefix + strconv.FormatInt(f.seq, 10)
	return baseURL(r) + "/storage/" + a.key + "/" + name + ".json.gz?expires=" + exp +
		"&signature=" + s.urlSignature(a.key, name, exp)
}

// urlSignature signs an object name (the file's kind prefix and seq).
func (s *Sim) urlSignature(acctKey, name, exp string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("storage:" + acctKey + ":" + name + ":" + exp))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (s *Sim) resolveStorage(c *call) {
	key := c.r.PathValue("acct")
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.accounts {
		if a.key == key {
			c.acct = a
			return
		}
	}
}

// storageError answers like S3 does.
func (c *call) storageError(status int, code, message string) {
	c.writeBody(status, "application/xml", []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>"+code+"</Code><Message>"+message+"</Message></Error>"))
}

// storage is GET /storage/{acct}/{seq}.json.gz: the object store behind the
// batch URLs. Like S3 it needs no Authorization and refuses one.
func (s *Sim) storage(c *call) {
	if c.r.Header.Get("Authorization") != "" {
		c.storageError(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	name, ok := strings.CutSuffix(c.r.PathValue("file"), ".json.gz")
	k := kindCG
	seqText := name
	if rest, isCI := strings.CutPrefix(name, kindCI.prefix); isCI {
		k, seqText = kindCI, rest
	}
	seq, err := strconv.ParseInt(seqText, 10, 64)
	exp := c.r.URL.Query().Get("expires")
	if !ok || err != nil || c.acct == nil ||
		!hmac.Equal([]byte(c.r.URL.Query().Get("signature")), []byte(s.urlSignature(c.acct.key, name, exp))) {
		c.storageError(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	expUnix, _ := strconv.ParseInt(exp, 10, 64)
	now := s.now()
	if now.Unix() > expUnix || s.take(c, FaultExpiredURL) != nil {
		c.storageError(http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	s.mu.RLock()
	files := c.acct.queue(k).files
	s.mu.RUnlock()
	if seq < 1 || seq > int64(len(files)) || s.purged(files[seq-1], now) {
		c.storageError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	f := files[seq-1]
	body := f.gz
	if s.take(c, FaultMalformedRecord) != nil {
		body = renderV2(c.acct, f, f.count/2)
	} else if body == nil {
		body = renderV2(c.acct, f, -1)
	}
	if s.take(c, FaultTruncated) != nil {
		body = body[:len(body)/2]
	}
	c.writeBody(http.StatusOK, "application/octet-stream", body)
}

// siemToken is an API 1.0 mc-siem-token: the position of the next file.
func (s *Sim) siemToken(a *account, pos int64) string {
	return s.seal([]byte("siem:" + a.key + ":" + strconv.FormatInt(pos, 10)))
}

func (s *Sim) openSIEMToken(a *account, token string) (int64, bool) {
	payload, ok := s.open(token)
	if !ok {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(payload), "siem:"+a.key+":")
	if !ok {
		return 0, false
	}
	pos, err := strconv.ParseInt(rest, 10, 64)
	return pos, err == nil
}

// siemV1 is POST /api/audit/get-siem-logs (reference §3): each call returns
// the next file of the account's queue and its successor's token in
// mc-siem-token; a drained queue answers JSON with isLastToken.
func (s *Sim) siemV1(c *call) {
	req, ok := c.parseAPI()
	if !ok {
		return
	}
	item := req.item()
	if t, ok := fieldString(item, "type"); ok && !strings.EqualFold(t, "MTA") {
		c.apiFail(http.StatusOK, item, "err_validation_invalid_value", "type must be MTA", false)
		return
	}
	kv := true // without fileFormat Mimecast returns key_value files
	if ff, ok := fieldString(item, "fileFormat"); ok {
		switch strings.ToLower(ff) {
		case "json":
			kv = false
		case "key_value":
		default:
			c.apiFail(http.StatusOK, item, "err_validation_invalid_value", "fileFormat must be json or key_value", false)
			return
		}
	}
	compress := fieldBool(item, "compress")
	token, _ := fieldString(item, "token")

	now := s.now()
	s.mu.RLock()
	files := c.acct.cg.files
	s.mu.RUnlock()
	first := int64(len(files)) + 1 // oldest retained file
	for i, f := range files {
		if !s.purged(f, now) {
			first = int64(i) + 1
			break
		}
	}
	pos := first
	if token != "" {
		p, ok := s.openSIEMToken(c.acct, token)
		// A token pointing at purged data is as invalid as a forged one
		// (reference §3.4: after 7 days a saved token may be stale).
		if !ok || p < first || p > int64(len(files))+1 {
			c.apiFail(http.StatusOK, item, "err_audit_siem_invalid_token", "The SIEM token is invalid", false)
			return
		}
		pos = p
	}

	perReply := 1
	if compress {
		perReply = s.opts.V1FilesPerZip
	}
	var out []*siemFile
	nextPos := pos
	if pos > first && s.take(c, FaultDuplicateFile) != nil {
		out = append(out, files[pos-2]) // the file the token came with
	} else {
		for i := pos - 1; i < int64(len(files)) && len(out) < perReply; i++ {
			if !s.purged(files[i], now) {
				out = append(out, files[i])
			}
			nextPos = i + 2
		}
	}
	if len(out) == 0 {
		if token != "" {
			c.w.Header().Set("mc-siem-token", token)
		}
		c.writeJSON(http.StatusOK, map[string]any{
			"meta": map[string]any{"isLastToken": true, "status": http.StatusOK},
			"data": []any{},
			"fail": []any{},
		})
		return
	}

	malformedAt := -1
	if s.take(c, FaultMalformedRecord) != nil {
		malformedAt = out[0].count / 2
	}
	var body []byte
	var name string
	switch {
	case compress && len(out) == 1 && !kv && malformedAt < 0 && out[0].v1zip != nil:
		body, name = out[0].v1zip, out[0].v1Name("zip")
	case compress:
		body, name = renderV1Zip(c.acct, out, kv, malformedAt), out[0].v1Name("zip")
	case kv:
		body, name = renderV1File(c.acct, out[0], true, malformedAt), out[0].v1Name("log")
	default:
		body, name = renderV1File(c.acct, out[0], false, malformedAt), out[0].v1Name("json")
	}
	if s.take(c, FaultTruncated) != nil {
		body = body[:len(body)/2]
	}
	c.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	c.w.Header().Set("mc-siem-token", s.siemToken(c.acct, nextPos))
	c.writeBody(http.StatusOK, "application/octet-stream", body)
}
