package mimecastsim

import "mimecast-qradar/app/internal/model"

// ciTypes are the Cloud Integrated SIEM log types (more-streams §5): one
// file per type, API 2.0 batch files only.
var ciTypes = []*siemType{
	{log: model.LogCIEntities, v2: "entities", weight: 50, gen: (*gen).ciEntities},
	{log: model.LogCIMailflow, v2: "mailflow", weight: 40, gen: (*gen).ciMailflow},
	{log: model.LogCIURLClick, v2: "urlclick", weight: 10, gen: (*gen).ciURLClick},
}

func ciTypeByLog(logType string) *siemType {
	for _, t := range ciTypes {
		if t.log == logType {
			return t
		}
	}
	return nil
}

// ciMessageID draws a Message-ID as Microsoft 365 and others write them.
func (g *gen) ciMessageID() string {
	if g.chance(50) {
		return "<" + g.hex(16) + "@" + g.pick([]string{"SJ0PR18MB4090.namprd18.prod.outlook.com", "mtasv.net", "LV3PR18MB6327.namprd18.prod.outlook.com"}) + ">"
	}
	return g.messageID(g.mtaHost())
}

func (g *gen) ciEntities() {
	sender, rcpt := g.externalAddr(), g.internalAddr()
	threat := g.pick([]string{"NO_DETECTIONS", "NO_DETECTIONS", "NO_DETECTIONS", "MALWARE", "PHISHING", "SPAM"})
	state, action, tags := "DELIVERED", "DO_NOTHING", "null"
	switch threat {
	case "NO_DETECTIONS":
		state = g.pick([]string{"DELIVERED", "DELIVERY_IN_PROGRESS"})
	default:
		state, action, tags = "BLOCKED", "BLOCK", `[`+jq(threat)+`]`
	}
	natt := g.r.IntN(3)
	atts := "["
	for i := range natt {
		if i > 0 {
			atts += ","
		}
		atts += jq(g.pick2(attachmentFiles).name)
	}
	atts += "]"
	w := &g.w
	g.head()
	w.raw("attachments", atts)
	w.str("direction", "INBOUND")
	w.boolean("historicalMail", g.chance(5))
	w.str("messageId", g.ciMessageID())
	w.raw("policiesApplied", "["+jobj("action", jq(action), "mode", jq("ACTIVE"), "name", jq("Default O365 Mail policy"))+"]")
	w.raw("recipients", "["+jq(rcpt)+"]")
	w.str("senderEnvelope", sender)
	w.str("senderHeader", sender)
	w.str("senderIp", g.publicIP())
	w.str("source", "OFFICE_365_MAIL")
	w.str("subject", g.subject())
	w.raw("tags", tags)
	w.str("threatState", state)
	w.str("threatType", threat)
	g.subtype(threat)
}

func (g *gen) ciMailflow() {
	result := func(fails int) string {
		if g.chance(fails) {
			return "fail"
		}
		return "pass"
	}
	aligned := func() string { return g.pick([]string{"true", "false", "null"}) }
	auth := "[" + jobj("aligned", aligned(), "result", jq(result(5)), "type", jq("SPF")) + "," +
		jobj("aligned", aligned(), "result", jq(result(5)), "type", jq("DKIM")) + "," +
		jobj("aligned", aligned(), "result", jq(result(10)), "type", jq("DMARC")) + "]"
	w := &g.w
	g.head()
	w.raw("authResults", auth)
	w.str("messageId", g.ciMessageID())
	g.subtype("")
}

func (g *gen) ciURLClick() {
	url := g.url()
	w := &g.w
	g.head()
	w.str("action", "BLOCK")
	w.str("originalUrl", url)
	w.str("redirectUrl", "https://protect.mimecast.example/s/"+g.b64(12)+"?domain="+domainOfURL(url))
	w.str("sourceIp", g.publicIP())
	g.subtype("")
}

// domainOfURL returns the host of an https:// URL made by gen.url.
func domainOfURL(u string) string {
	rest := u[len("https://"):]
	for i := range len(rest) {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return rest
}
