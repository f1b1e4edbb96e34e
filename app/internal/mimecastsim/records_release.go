package mimecastsim

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Held release log shapes (more-streams §2): the documentation's, with
// operator a string and spamVerdict; elastic's API 2.0 mock, with operator
// {emailAddress} and verdict; BlinkOps' API 2.0 page, with operator {email},
// senders {address, domain} and a top-level verdict. Collectors must accept
// all three, so the simulator serves all three.
const (
	releaseShapeDoc = iota
	releaseShapeElastic
	releaseShapeBlinkOps
	releaseShapes
)

// untimedReleasePct is the share of held release records without released,
// like one of elastic's fixtures.
const untimedReleasePct = 2

// jq quotes s as a JSON string.
func jq(s string) string { return string(appendJSONString(nil, s)) }

// jobj renders an object from key, raw JSON value pairs, in order.
func jobj(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jq(kv[i]))
		b.WriteByte(':')
		b.WriteString(kv[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// address renders a mail address in the shape's spelling.
func (g *gen) address(shape int, addr string) string {
	switch shape {
	case releaseShapeDoc:
		local, _, _ := strings.Cut(addr, "@")
		first, last, _ := strings.Cut(local, ".")
		return jobj("displayableName", jq(strings.TrimSpace(upperFirst(first)+" "+upperFirst(last))), "emailAddress", jq(addr))
	case releaseShapeElastic:
		return jobj("emailAddress", jq(addr))
	}
	return jobj("address", jq(addr), "domain", jq(domainOf(addr)))
}

func (g *gen) check(info string) string {
	return jobj("allow", strconv.FormatBool(!strings.Contains(info, "fail")), "info", jq(info))
}

// spamVerdict renders a verdict object; score is only inside it in the
// BlinkOps shape.
func (g *gen) spamVerdict(shape int, score int64) string {
	risk := g.pick([]string{"negligible", "low", "medium", "high"})
	sub := jobj("name", jq(g.pick([]string{"technology_feed", "phishing", "bulk", "reputation"})), "risk", jq(risk),
		"augmentations", "["+g.pick([]string{"", jobj("name", jq("body"), "risk", jq("negligible"))})+"]")
	cats := jobj("name", jq(g.pick([]string{"spam", "graymail", "phishing"})), "risk", jq(risk), "subcategories", "["+sub+"]")
	kv := []string{"decision", jq(g.pick([]string{"spam", "graymail", "clean"})), "description", jq(""), "risk", jq(risk), "categories", "[" + cats + "]"}
	if shape == releaseShapeBlinkOps {
		kv = append([]string{"spamScore", strconv.FormatInt(score, 10)}, kv...)
	}
	return jobj(kv...)
}

func (g *gen) messageReleaseLog(t time.Time, uid string) string {
	id := "eNoNjt0KgjAYQN9l10HTDCvow" + uid + g.b64(24)
	shape := g.r.IntN(releaseShapes)
	rejected := g.chance(30)
	g.untimed = g.chance(untimedReleasePct)
	inbound := g.chance(85)
	sender, rcpt := g.externalAddr(), g.internalAddr()
	route := "inbound"
	if !inbound {
		sender, rcpt, route = g.internalAddr(), g.externalAddr(), "outbound"
	}
	operator := g.pick([]string{"admin", "secops", "helpdesk"}) + "@" + g.a.domain
	score := int64(g.r.IntN(30))
	policy := g.pick(releasePolicies)
	held := g.pick(heldReasons)
	info := g.pick(releaseInfos)
	size := int64(2000 + g.r.IntN(200000))
	attachments := g.chance(30)
	level := g.pick([]string{"relaxed", "moderate", "aggressive", "cluster", "whitelisted_cluster"})

	w := &g.w
	w.str("id", id)
	if rejected {
		w.str("status", "rejected")
		w.str("rejectReason", g.pick([]string{"Message goes against email policies", "Message contains undesirable content"}))
	} else {
		w.str("status", "released")
	}
	w.str("heldReason", held)
	if shape == releaseShapeDoc {
		w.str("heldGroup", g.pick([]string{"IT Staff Global", "Everyone", "Finance"}))
	}
	w.str("messageInfo", info)
	if !g.untimed {
		layout := "2006-01-02T15:04:05-0700"
		if shape == releaseShapeDoc {
			layout = "2006-01-02T15:04:05-07:00" // as in Mimecast's documentation
		}
		w.time("released", t, layout)
	}
	switch shape {
	case releaseShapeDoc:
		w.str("operator", operator)
	case releaseShapeElastic:
		w.raw("operator", jobj("emailAddress", jq(operator)))
	default:
		w.raw("operator", jobj("email", jq(operator)))
	}
	w.raw("fromEnv", g.address(shape, sender))
	w.raw("fromHdr", g.address(shape, sender))
	w.raw("to", "["+g.address(shape, rcpt)+"]")
	w.str("subject", g.subject())
	w.boolean("attachments", attachments)
	w.str("route", route)
	w.num("size", size)
	w.str("policy", policy)
	if shape == releaseShapeBlinkOps {
		w.raw("verdict", g.spamVerdict(shape, score))
		return id
	}
	w.num("spamScore", score)
	w.str("detectionLevel", level)
	verdictKey := "verdict"
	if shape == releaseShapeDoc {
		verdictKey = "spamVerdict"
	}
	w.raw("spamProcessingDetail", jobj(
		"rbl", g.check(g.pick([]string{"", "allow"})),
		"greyEmail", strconv.FormatBool(info == "Graymail"),
		"spf", g.check(g.pick([]string{"allow", "allow", "fail"})),
		"dkim", g.check(g.pick([]string{"allow", "unknown"})),
		"dmarc", g.check(g.pick([]string{"allow", "allow", "fail"})),
		"permittedSender", g.check(g.pick([]string{"none", "allow"})),
		"managedSender", g.check(g.pick([]string{"unknown", "allow"})),
		verdictKey, g.spamVerdict(shape, score),
	))
	return id
}

func (g *gen) archiveSearchLog(t time.Time, uid string) string {
	user := g.internalAddr()
	if g.chance(3) {
		user = "<>" // searches by the system, as in elastic's fixture
	}
	desc := g.pick(archiveDescriptions)
	// Every search text holds something unique to the record (a message
	// id, a hash), so that only deliberate twins are identical.
	var text string
	switch desc {
	case "Threat Remediation search":
		sum := sha256.Sum256([]byte(uid))
		text = hex.EncodeToString(sum[:]) + " [User : " + user + "]"
	case "Message Tracking Search":
		text = "<" + uid + "@" + g.mtaHost() + ">"
	default:
		text = g.externalDomain() + " id:" + uid
	}
	createTime := t.Format(logsTimeLayout)
	w := &g.w
	w.str("createTime", createTime)
	w.str("emailAddr", user)
	w.str("source", "archive")
	w.str("searchText", text)
	w.str("searchReason", g.pick([]string{"", "", "compliance review", "legal hold"}))
	w.str("description", desc)
	if g.chance(20) {
		w.str("searchPath", g.pick([]string{"/foo/bar", "/Inbox", "/Legal/2025"}))
	}
	return createTime + "|" + user + "|" + text
}

var (
	releasePolicies     = []string{"Default Spam Scanning Definition", "Moderate Spam Detection", "Aggressive Spam Detection"}
	heldReasons         = []string{"Default Spam Scanning Definition", "High-Confidence Impersonation Protection", "Spam Policy", "Attachment Management"}
	releaseInfos        = []string{"Graymail", "Spam Policy", "Expired in queue - rejected by housekeeping", "Attachment held for review"}
	archiveDescriptions = []string{"Message Tracking Search", "Audit [Page 1] - Depth 100", "Threat Remediation search", "Search Archive"}
)
