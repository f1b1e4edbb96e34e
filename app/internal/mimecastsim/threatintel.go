package mimecastsim

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// threatIntelPath serves both malware feeds (more-streams §4).
const threatIntelPath = "/api/ttp/threat-intel/get-feed"

// threatFeed is one malware feed.
type threatFeed struct {
	stream   model.Stream
	feedType string
	named    int // percentage of malware objects with a (file) name
}

var threatFeeds = []*threatFeed{
	{stream: model.StreamThreatIntelCustomer, feedType: "malware_customer", named: 20},
	{stream: model.StreamThreatIntelGrid, feedType: "malware_grid", named: 50},
}

func threatFeedOf(stream model.Stream) *threatFeed {
	for _, f := range threatFeeds {
		if f.stream == stream {
			return f
		}
	}
	return nil
}

func threatFeedByType(feedType string) *threatFeed {
	for _, f := range threatFeeds {
		if f.feedType == feedType {
			return f
		}
	}
	return nil
}

// stixID returns a STIX identifier "<type>--<uuid v4>" unique per (seed, n).
func stixID(typ string, seed uint64, n uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], mix(seed, n))
	binary.BigEndian.PutUint64(b[8:], mix(seed^0x57A7, n))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return typ + "--" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// stixTimeLayout is the time format of the feed's objects.
const stixTimeLayout = "2006-01-02T15:04:05.000Z"

// indicator returns the builder of the feed's records: an indicator, the
// malware it indicates and the relationship between them. Now and then an
// indicator repeats the previous one's hash under a new id, as in the
// fixtures.
func (f *threatFeed) indicator(a *account, stream model.Stream) func(g *gen, t time.Time, seq int64, uid string) logRec {
	seed := streamSeed(a, stream)
	lastHash := ""
	return func(g *gen, t time.Time, seq int64, _ string) logRec {
		hash := g.hex(32)
		if lastHash != "" && g.chance(10) {
			hash = lastHash
		}
		lastHash = hash
		name := ""
		if g.chance(f.named) {
			name = g.pick2(attachmentFiles).name
		}
		ts := jq(t.UTC().Format(stixTimeLayout))
		indID := stixID("indicator", seed, uint64(seq))
		malID := stixID("malware", seed, uint64(seq))
		relID := stixID("relationship", seed, uint64(seq))
		malware := jobj("type", jq("malware"), "id", jq(malID), "created", ts, "modified", ts, "name", jq(name), "labels", `["virus"]`)
		ind := jobj("type", jq("indicator"), "id", jq(indID), "created", ts, "modified", ts, "labels", `["malicious-activity"]`,
			"pattern", jq("[file:hashes.'SHA-256' = '"+hash+"']"), "valid_from", ts)
		rel := jobj("type", jq("relationship"), "id", jq(relID), "created", ts, "modified", ts,
			"relationship_type", jq("indicates"), "source_ref", jq(indID), "target_ref", jq(malID))
		return logRec{t: t, seq: seq, id: indID, raw: []byte(ind), malware: []byte(malware), rel: []byte(rel), malwareName: name}
	}
}

// tiCursor is what an x-mc-threat-feed-next-token carries.
type tiCursor struct {
	Feed   string `json:"f"`
	From   int64  `json:"s"` // window, unix seconds, both ends inclusive
	To     int64  `json:"e"`
	Offset int    `json:"o"`
}

// threatIntel is POST /api/ttp/threat-intel/get-feed with fileType stix: a
// STIX 2.0 bundle of at most Options.ThreatIntelPageSize indicators, each
// with its malware and relationship objects, oldest first. More pages are
// announced by the x-mc-threat-feed-next-token header; the client sends it
// back as data[0].token (then start/end are not needed). As in elastic's
// mock, the last relationship of a page that has a successor arrives at the
// start of the next page. An empty window answers HTTP 200 with
// err_threat_intel_feed_no_result_found.
func (s *Sim) threatIntel(c *call) {
	req, ok := c.parseAPI()
	if !ok {
		return
	}
	item := req.item()
	ftName, _ := fieldString(item, "feedType")
	feed := threatFeedByType(ftName)
	if feed == nil {
		c.apiFail(http.StatusOK, item, "err_validation_invalid_value", "feedType must be malware_customer or malware_grid", false)
		return
	}
	if fileType, ok := fieldString(item, "fileType"); ok && fileType != "stix" {
		c.apiFail(http.StatusOK, item, "err_validation_invalid_value", "the simulator serves fileType stix only", false)
		return
	}
	if fieldBool(item, "compress") {
		c.apiFail(http.StatusOK, item, "err_validation_invalid_value", "the simulator serves uncompressed feeds only", false)
		return
	}
	var cur tiCursor
	if tok, _ := fieldString(item, "token"); tok != "" {
		payload, ok := s.open(tok)
		if !ok || json.Unmarshal(payload, &cur) != nil || cur.Feed != feed.feedType {
			c.apiFail(http.StatusOK, item, "err_threat_intel_invalid_token", "The token is invalid", false)
			return
		}
	} else {
		now := s.now()
		from, to := now.Add(-7*24*time.Hour), now // documented defaults
		for _, w := range []struct {
			key string
			dst *time.Time
		}{{"start", &from}, {"end", &to}} {
			v, present := fieldString(item, w.key)
			if !present {
				continue
			}
			t, err := parseTime(v)
			if err != nil {
				c.apiFail(http.StatusOK, item, "err_validation_invalid_value", w.key+": "+err.Error(), false)
				return
			}
			*w.dst = t
		}
		cur = tiCursor{Feed: feed.feedType, From: from.Unix(), To: to.Unix()}
	}

	s.mu.RLock()
	var recs []logRec
	if ls := c.acct.logs[feed.stream]; ls != nil {
		lo, _ := slices.BinarySearchFunc(ls.recs, cur.From, func(r logRec, t int64) int { return int(r.t.Unix() - t) })
		hi, _ := slices.BinarySearchFunc(ls.recs, cur.To+1, func(r logRec, t int64) int { return int(r.t.Unix() - t) })
		recs = ls.recs[lo:hi]
	}
	s.mu.RUnlock()
	if cur.Offset >= len(recs) {
		key := map[string]any{"start": time.Unix(cur.From, 0).UTC().Format(logsTimeLayout), "end": time.Unix(cur.To, 0).UTC().Format(logsTimeLayout),
			"fileType": "stix", "feedType": feed.feedType, "compress": false}
		c.apiFail(http.StatusOK, key, "err_threat_intel_feed_no_result_found", "No results found for threat intel feed.", false)
		return
	}
	end := min(cur.Offset+s.opts.ThreatIntelPageSize, len(recs))
	more := end < len(recs)
	var objects []string
	if cur.Offset > 0 {
		objects = append(objects, string(recs[cur.Offset-1].rel))
	}
	for i := cur.Offset; i < end; i++ {
		r := recs[i]
		objects = append(objects, string(r.malware), string(r.raw))
		if i < end-1 || !more {
			objects = append(objects, string(r.rel))
		}
	}
	if s.take(c, FaultMalformedRecord) != nil {
		objects = slices.Insert(objects, len(objects)/2, `"not an object"`)
	}
	if more {
		next := cur
		next.Offset = end
		payload, _ := json.Marshal(next)
		c.w.Header().Set("X-Mc-Threat-Feed-Next-Token", s.seal(payload))
	}
	bundleID := stixID("bundle", c.acct.seed, uint64(cur.From)<<20^uint64(cur.Offset))
	body := []byte(`{"type":"bundle","id":` + jq(bundleID) + `,"spec_version":"2.0","objects":[` + strings.Join(objects, ",") + `]}`)
	if s.take(c, FaultTruncated) != nil {
		body = body[:len(body)/2]
	}
	c.writeBody(http.StatusOK, "application/json", body)
}
