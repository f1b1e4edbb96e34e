package mimecast

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// threatFeeds maps the threat intel streams to their feedType.
var threatFeeds = map[model.Stream]string{
	model.StreamThreatIntelCustomer: "malware_customer",
	model.StreamThreatIntelGrid:     "malware_grid",
}

// Threat intel feed protocol details (reference §4).
const (
	threatIntelPath      = "/api/ttp/threat-intel/get-feed"
	threatFeedNextHeader = "x-mc-threat-feed-next-token"
	codeThreatNoResult   = "err_threat_intel_feed_no_result_found"
	threatIntelFeature   = "the Threat Intel feed"
)

// ThreatIntel fetches one page of a malware feed (threat_intel_customer or
// threat_intel_grid) as a STIX bundle and calls fn once per indicator, in
// bundle order; fn's error aborts and is returned unchanged.
//
// Each record has LogType threat_intel_malware, ID = the indicator's STIX
// id, Time = its modified (else created) time, and Raw = the indicator
// object plus sha256 (read from its pattern), malware_name (the name of the
// malware a relationship says it indicates, when the bundle links one) and
// feed_type. Malware and relationship objects are not records.
//
// token "" asks for the window [start, end] (start zero: Mimecast's default
// of 7 days back; end zero: now); otherwise token, the next value of the
// previous page, continues that listing. next is "" when there are no more
// pages. "No results for this window" (HTTP 200 with
// err_threat_intel_feed_no_result_found) is an empty last page, not an
// error.
func (c *Client) ThreatIntel(ctx context.Context, feed model.Stream, start, end time.Time, token string, fn func(*model.Record) error) (next string, stats DecodeStats, err error) {
	feedType, ok := threatFeeds[feed]
	if !ok {
		return "", DecodeStats{}, fmt.Errorf("fetching threat intel: %s is not a threat intel feed", feed)
	}
	what := "threat intel feed " + feedType
	item := map[string]any{"feedType": feedType, "fileType": "stix"}
	if token != "" {
		// elastic's API 2.0 program sends the token without the window: the
		// token carries the listing's position and filters.
		item["token"] = token
	} else {
		if end.IsZero() {
			end = c.now()
		}
		if !start.IsZero() {
			item["start"] = start.UTC().Format(requestTimeLayout)
		}
		item["end"] = end.UTC().Format(requestTimeLayout)
	}
	body, err := json.Marshal(map[string]any{"data": []any{item}})
	if err != nil {
		return "", DecodeStats{}, fmt.Errorf("fetching %s: %w", what, err)
	}
	resp, err := c.do(ctx, &request{
		method:      http.MethodPost,
		url:         c.base + threatIntelPath,
		body:        body,
		contentType: "application/json",
		accept:      "application/json",
		auth:        authAPI,
		feature:     threatIntelFeature,
	})
	if err != nil {
		return "", DecodeStats{}, fmt.Errorf("fetching %s: %w", what, err)
	}
	defer resp.Body.Close()

	d := c.newDecoder(kindAPI, feed, model.LogThreatIntelMalware, fn, threatIntelPath)
	objects, fail, err := d.stixBundle(newLimitedReader(resp.Body, c.limits.MaxDecompressedBytes), feedType)
	if err != nil {
		if err == d.cbErr {
			return "", d.stats, err
		}
		return "", d.stats, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(fail) > 0 {
		if code, _, _ := firstFailure(fail); code == codeThreatNoResult {
			return "", d.stats, nil
		}
		return "", d.stats, fmt.Errorf("fetching %s: %w", what, c.failErrorFor(resp.StatusCode, fail, threatIntelFeature))
	}
	next = strings.TrimSpace(resp.Header.Get(threatFeedNextHeader))
	// Sentinel stops when the header repeats the token it sent; an empty
	// bundle with a token would loop the same way.
	if next == token || objects == 0 {
		next = ""
	}
	return next, d.stats, nil
}

// Bounds of the state kept while a bundle streams by. An indicator waits
// for its relationship (which follows it in Mimecast's bundles) at most
// until maxPendingIndicators other indicators or maxPendingBytes arrived;
// then it is delivered without malware_name.
const (
	maxPendingIndicators = 1024
	maxPendingBytes      = 8 << 20
	maxStixLinks         = 16384
)

// stixState is what a decoder remembers while reading one bundle.
type stixState struct {
	feedType     string
	names        boundedMap // malware id -> name
	links        boundedMap // indicator id -> malware id ("indicates" relationships)
	pending      []pendingIndicator
	pendingBytes int
}

type pendingIndicator struct {
	id, sha256 string
	t          time.Time
	raw        []byte
	extras     stixExtras
}

// stixExtras records which of the added members an indicator already has.
type stixExtras struct{ sha256, malwareName, feedType bool }

// stixObject holds the members of a STIX object that matter here.
type stixObject struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Created          string          `json:"created"`
	Modified         string          `json:"modified"`
	Name             string          `json:"name"`
	Pattern          string          `json:"pattern"`
	RelationshipType string          `json:"relationship_type"`
	SourceRef        string          `json:"source_ref"`
	TargetRef        string          `json:"target_ref"`
	SHA256           json.RawMessage `json:"sha256"`
	MalwareName      json.RawMessage `json:"malware_name"`
	FeedType         json.RawMessage `json:"feed_type"`
}

// stixBundle reads a threat intel response: a STIX bundle {"type":"bundle",
// "objects":[…]} or, for errors and empty windows, the /api envelope with
// fail[]. It emits one record per indicator and returns the number of STIX
// objects seen.
func (d *decoder) stixBundle(r io.Reader, feedType string) (objects int, fail []failItem, err error) {
	d.stix = &stixState{feedType: feedType,
		names: boundedMap{max: maxStixLinks}, links: boundedMap{max: maxStixLinks}}
	s := &jstream{br: bufio.NewReaderSize(r, 32<<10)}
	empty, err := s.open('{', '}')
	if err != nil || empty {
		return 0, nil, err
	}
	var keyBuf []byte
	for {
		name, err := s.key(&keyBuf)
		if err != nil {
			return objects, fail, err
		}
		switch string(name) {
		case "objects":
			n, err := d.stixObjects(s)
			objects += n
			if err != nil {
				return objects, fail, err
			}
		case "fail":
			raw, over, err := s.value(nil, 1<<20)
			if err != nil {
				return objects, fail, err
			}
			if over || json.Unmarshal(raw, &fail) != nil {
				fail = []failItem{{Message: "unreadable error details"}}
			}
		default:
			if err := s.skip(); err != nil {
				return objects, fail, err
			}
		}
		if more, err := s.next('}'); err != nil {
			return objects, fail, err
		} else if !more {
			return objects, fail, nil
		}
	}
}

// stixObjects reads the objects array, delivering indicators as soon as
// their malware is known and the rest at the end of the array.
func (d *decoder) stixObjects(s *jstream) (int, error) {
	c, err := s.peek()
	if err != nil {
		return 0, err
	}
	if c == 'n' {
		return 0, s.skip()
	}
	empty, err := s.open('[', ']')
	if err != nil || empty {
		return 0, err
	}
	n := 0
	for {
		raw, over, err := s.value(d.buf[:0], d.maxRecord)
		if err != nil {
			return n, err
		}
		d.buf = raw
		n++
		if over {
			d.oversized()
		} else if err := d.stixObject(raw); err != nil {
			return n, err
		}
		more, err := s.next(']')
		if err != nil {
			return n, err
		}
		if !more {
			return n, d.flushIndicators(true)
		}
	}
}

// stixObject takes in one object of the bundle.
func (d *decoder) stixObject(raw []byte) error {
	st := d.stix
	if err := scanRecord(raw, &d.fields); err != nil {
		d.seen++
		d.malformed("STIX object: " + err.Error())
		return nil
	}
	var o stixObject
	// A member of an unexpected type is left empty; the object is valid JSON.
	_ = json.Unmarshal(raw, &o)
	switch o.Type {
	case "malware":
		st.names.put(o.ID, o.Name)
	case "relationship":
		if o.RelationshipType == "indicates" && o.SourceRef != "" {
			if _, linked := st.links.get(o.SourceRef); !linked {
				st.links.put(o.SourceRef, o.TargetRef)
			}
		}
	case "indicator":
		t, ok := parseTime([]byte(o.Modified))
		if !ok {
			t, _ = parseTime([]byte(o.Created))
		}
		st.pending = append(st.pending, pendingIndicator{id: o.ID, sha256: patternSHA256(o.Pattern), t: t,
			raw:    append([]byte(nil), raw...),
			extras: stixExtras{sha256: o.SHA256 != nil, malwareName: o.MalwareName != nil, feedType: o.FeedType != nil}})
		st.pendingBytes += len(raw)
	}
	return d.flushIndicators(false)
}

// flushIndicators delivers waiting indicators in bundle order: those whose
// malware is known, those pushed out by the bounds, and all when final.
func (d *decoder) flushIndicators(final bool) error {
	st := d.stix
	for len(st.pending) > 0 {
		p := &st.pending[0]
		malwareID, linked := st.links.get(p.id)
		_, named := st.names.get(malwareID)
		if !final && !(linked && named) && len(st.pending) <= maxPendingIndicators && st.pendingBytes <= maxPendingBytes {
			return nil
		}
		err := d.emitIndicator(p)
		st.pendingBytes -= len(p.raw)
		st.pending[0] = pendingIndicator{}
		st.pending = st.pending[1:]
		if err != nil {
			return err
		}
	}
	return nil
}

// emitIndicator hands one indicator to the callback.
func (d *decoder) emitIndicator(p *pendingIndicator) error {
	st := d.stix
	d.seen++
	extra := d.kvBuf[:0]
	add := func(key, value string) {
		if len(extra) > 0 {
			extra = append(extra, ',')
		}
		extra = appendJSONString(extra, []byte(key))
		extra = append(extra, ':')
		extra = appendJSONString(extra, []byte(value))
	}
	if p.sha256 != "" && !p.extras.sha256 {
		add("sha256", p.sha256)
	}
	if malwareID, linked := st.links.get(p.id); linked && !p.extras.malwareName {
		if name, named := st.names.get(malwareID); named {
			add("malware_name", name)
		}
	}
	if !p.extras.feedType {
		add("feed_type", st.feedType)
	}
	d.kvBuf = extra
	r := &d.rec
	*r = model.Record{Stream: d.stream, LogType: d.logType, Raw: p.raw, Time: p.t, ID: p.id}
	if len(extra) > 0 {
		r.Raw = d.withMembers(p.raw, extra)
	}
	d.stats.Records++
	if err := d.fn(r); err != nil {
		d.cbErr = err
		return err
	}
	return nil
}

// patternSHA256 extracts the SHA-256 from a STIX pattern such as
// [file:hashes.'SHA-256' = '275a…'] (lower case hex), or "".
func patternSHA256(pattern string) string {
	// ASCII-only upper case keeps byte offsets valid in pattern
	// (strings.ToUpper may change the length of other characters).
	upper := []byte(pattern)
	for i, c := range upper {
		if c >= 'a' && c <= 'z' {
			upper[i] = c - 'a' + 'A'
		}
	}
	for _, name := range []string{"SHA-256", "SHA256"} {
		i := bytes.Index(upper, []byte(name))
		if i < 0 {
			continue
		}
		rest := pattern[i+len(name):]
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			continue
		}
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		if len(rest) < 2 || (rest[0] != '\'' && rest[0] != '"') {
			continue
		}
		end := strings.IndexByte(rest[1:], rest[0])
		if end != 64 {
			continue
		}
		hexText := rest[1 : 1+end]
		for j := 0; j < len(hexText); j++ {
			if !isHex(hexText[j]) {
				return ""
			}
		}
		return strings.ToLower(hexText)
	}
	return ""
}

// boundedMap is a string map that forgets its oldest entries beyond max.
type boundedMap struct {
	m     map[string]string
	order []string // ring of keys in insertion order
	head  int
	max   int
}

func (b *boundedMap) get(k string) (string, bool) {
	v, ok := b.m[k]
	return v, ok
}

func (b *boundedMap) put(k, v string) {
	if b.m == nil {
		b.m = make(map[string]string)
	}
	if _, ok := b.m[k]; ok {
		b.m[k] = v
		return
	}
	if len(b.order) < b.max {
		b.order = append(b.order, k)
	} else {
		delete(b.m, b.order[b.head])
		b.order[b.head] = k
		b.head = (b.head + 1) % b.max
	}
	b.m[k] = v
}
