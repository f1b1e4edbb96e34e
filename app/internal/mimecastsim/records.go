package mimecastsim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"mimecast-qradar/app/internal/model"
)

// siemType names one SIEM log type in the model, on the API 2.0 wire
// (reference §4.1) and as an API 1.0 file-name prefix.
type siemType struct {
	log    string
	v2     string
	v1     string
	weight int // share of a mixed backlog, in percent
	// eventTypeKeys: the peers' samples of this type use eventType/subType
	// instead of type/subtype and carry no _offset/_partition. The
	// collector must accept both spellings (reference §4.3), so the
	// simulator serves both.
	eventTypeKeys bool
	gen           func(g *gen)
}

var siemTypes = []*siemType{
	{log: model.LogReceipt, v2: "receipt", v1: "receipt", weight: 25, gen: (*gen).receipt},
	{log: model.LogProcess, v2: "process", v1: "process", weight: 20, gen: (*gen).process},
	{log: model.LogDelivery, v2: "delivery", v1: "delivery", weight: 25, gen: (*gen).delivery},
	{log: model.LogJournal, v2: "journal", v1: "jrnl", weight: 5, gen: (*gen).journal},
	{log: model.LogAV, v2: "av", v1: "av", weight: 2, eventTypeKeys: true, gen: (*gen).av},
	{log: model.LogSpam, v2: "spam", v1: "spameventthread", weight: 8, gen: (*gen).spam},
	{log: model.LogInternalEmailProt, v2: "internal email protect", v1: "iep", weight: 3, gen: (*gen).iep},
	{log: model.LogImpersonationProt, v2: "impersonation protect", v1: "impersonation", weight: 4, eventTypeKeys: true, gen: (*gen).impersonation},
	{log: model.LogURLProtect, v2: "url protect", v1: "ttp_url", weight: 5, gen: (*gen).urlProtect},
	{log: model.LogAttachmentProtect, v2: "attachment protect", v1: "ttp_ap", weight: 3, gen: (*gen).attachmentProtect},
}

func siemTypeByLog(logType string) *siemType {
	for _, t := range siemTypes {
		if t.log == logType {
			return t
		}
	}
	return nil
}

func siemTypeByV2(name string) *siemType {
	for _, t := range siemTypes {
		if t.v2 == name {
			return t
		}
	}
	return nil
}

// V2TypeName returns the API 2.0 wire name of a SIEM log type (e.g.
// "url protect" for model.LogURLProtect), or "" for an unknown type.
func V2TypeName(logType string) string {
	if t := siemTypeByLog(logType); t != nil {
		return t.v2
	}
	return ""
}

// V1FilePrefix returns the API 1.0 file-name prefix of a SIEM log type
// (e.g. "jrnl" for model.LogJournal), or "" for an unknown type.
func V1FilePrefix(logType string) string {
	if t := siemTypeByLog(logType); t != nil {
		return t.v1
	}
	return ""
}

const (
	v1TimeLayout   = "2006-01-02T15:04:05-0700"
	logsTimeLayout = "2006-01-02T15:04:05-0700"
)

type form int

const (
	formV2     form = iota // API 2.0 JSON object
	formV1JSON             // API 1.0 JSON object (element of a file's data[])
	formV1KV               // API 1.0 key_value line
)

// gen draws the values of records. Every generator draws exactly the same
// sequence whatever the form, so the 1.0 and 2.0 renderings of a record
// carry the same values.
type gen struct {
	r  *rand.Rand
	a  *account
	st *siemType
	w  recWriter
	v1 bool
	s  []byte // scratch for building strings

	untimed bool // set by a log generator whose record leaves out its time

	// header of the current SIEM record
	t      time.Time
	agg    string
	proc   string
	offset int64
	part   int64
}

func newGen(a *account, seed1, seed2 uint64, fm form) *gen {
	return &gen{
		r:  rand.New(rand.NewPCG(seed1, seed2)),
		a:  a,
		w:  recWriter{kv: fm == formV1KV},
		v1: fm != formV2,
	}
}

// uid returns a 22-character identifier unique for each (seed, index).
func uid(seed uint64, index int64) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], mix(seed, uint64(index)))
	binary.BigEndian.PutUint64(raw[8:], mix(seed^0x5DEECE66D, uint64(index)))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) chance(pct int) bool     { return g.r.IntN(100) < pct }

func (g *gen) internalAddr() string {
	return g.pick(firstNames) + "." + g.pick(lastNames) + "@" + g.a.domain
}

func (g *gen) externalDomain() string {
	return g.pick(domainWords1) + "-" + g.pick(domainWords2) + g.pick(domainTLDs)
}

func (g *gen) externalAddr() string {
	d := g.externalDomain()
	if g.chance(60) {
		return g.pick(firstNames) + "." + g.pick(lastNames) + "@" + d
	}
	return g.pick(roleLocals) + "@" + d
}

func (g *gen) publicIP() string {
	g.s = append(g.s[:0], g.pick(ipPrefixes)...)
	g.s = strconv.AppendInt(g.s, int64(1+g.r.IntN(254)), 10)
	return string(g.s)
}

func (g *gen) internalIP() string {
	g.s = append(g.s[:0], "10.108."...)
	g.s = strconv.AppendInt(g.s, int64(g.r.IntN(256)), 10)
	g.s = append(g.s, '.')
	g.s = strconv.AppendInt(g.s, int64(1+g.r.IntN(254)), 10)
	return string(g.s)
}

func (g *gen) hex(nbytes int) string {
	g.s = g.s[:0]
	for i := 0; i < nbytes; i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8 && i+j < nbytes; j++ {
			c := byte(v >> (8 * j))
			g.s = append(g.s, hexDigits[c>>4], hexDigits[c&0xF])
		}
	}
	return string(g.s)
}

func (g *gen) b64(nbytes int) string {
	var raw [48]byte
	for i := 0; i < nbytes; i += 8 {
		binary.LittleEndian.PutUint64(raw[i:], g.r.Uint64())
	}
	return base64.RawURLEncoding.EncodeToString(raw[:nbytes])
}

// messageID draws a Message-ID in one of the shapes seen in the samples.
func (g *gen) messageID(host string) string {
	g.s = append(g.s[:0], '<')
	g.s = strconv.AppendUint(g.s, g.r.Uint64()>>1, 16)
	g.s = append(g.s, '-')
	g.s = strconv.AppendInt(g.s, int64(g.r.IntN(400000)), 10)
	g.s = append(g.s, '@')
	g.s = append(g.s, host...)
	g.s = append(g.s, '>')
	return string(g.s)
}

func (g *gen) mtaHost() string {
	return g.pick(mtaHosts)
}

func (g *gen) subject() string { return g.pick(subjects) }

// direction draws the mail direction; outbound mail goes from an internal
// address to an external one and so on.
func (g *gen) direction() (dir, sender, rcpt string) {
	switch n := g.r.IntN(100); {
	case n < 60:
		return "Inbound", g.externalAddr(), g.internalAddr()
	case n < 80:
		return "Outbound", g.internalAddr(), g.externalAddr()
	default:
		return "Internal", g.internalAddr(), g.internalAddr()
	}
}

func domainOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return addr
}

// head writes the fields every SIEM record of the current type carries.
func (g *gen) head() {
	w := &g.w
	if g.v1 {
		w.time("datetime", g.t.In(g.a.loc()), v1TimeLayout)
		w.str("aCode", g.agg)
		w.str("acc", g.a.code)
		return
	}
	if !g.st.eventTypeKeys {
		w.num("_offset", g.offset)
		w.num("_partition", g.part)
	}
	w.str("accountId", g.a.code)
	w.str("aggregateId", g.agg)
	w.str("processingId", g.proc)
	w.num("timestamp", g.t.UnixMilli())
	if g.st.eventTypeKeys {
		w.str("eventType", g.st.v2)
	} else {
		w.str("type", g.st.v2)
	}
}

// subtype writes the 2.0 subtype (null when v is empty).
func (g *gen) subtype(v string) {
	if g.v1 {
		return
	}
	if g.st.eventTypeKeys {
		g.w.opt("subType", v)
	} else {
		g.w.opt("subtype", v)
	}
}

// loc is the zone of the account's API 1.0 datetimes.
func (a *account) loc() *time.Location { return a.zone }

func (g *gen) receipt() {
	dir, sender, rcpt := g.direction()
	accepted := g.chance(85)
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	ip := g.publicIP()
	if dir != "Inbound" {
		ip = g.internalIP()
	}
	tls := g.chance(75)
	tlsVer, cipher := g.pick(tlsVersions), g.pick(tlsCiphers)
	attachments := int64(g.r.IntN(3))
	spamScore := int64(g.r.IntN(30))
	level := int64(g.r.IntN(30))
	spf, dkim, dmarc := g.pick(spfInfos), g.pick(dkimInfos), g.pick(dmarcInfos)
	rej := rejections[g.r.IntN(len(rejections))]
	action := "Acc"
	if !accepted {
		action = "Rej"
	}
	spd := `{"spf":{"allow":true,"info":"` + spf + `"},"dkim":{"allow":true,"info":"` + dkim + `"},"dmarc":{"allow":true,"info":"` + dmarc + `"}}`

	w := &g.w
	g.head()
	if g.v1 {
		w.str("Act", action)
		w.str("Dir", dir)
		w.str("IP", ip)
		w.str("Sender", sender)
		w.str("Rcpt", rcpt)
		if accepted {
			w.str("MsgId", msgID)
			w.text("Subject", subject)
			w.str("headerFrom", sender)
			w.str("SpamInfo", "[]")
			w.num("SpamLimit", 0)
			w.num("SpamScore", spamScore)
			w.raw("SpamProcessingDetail", spd)
		} else {
			w.str("RejType", rej.typ)
			w.str("RejCode", rej.code)
			w.text("RejInfo", rej.info)
		}
		if tls {
			w.str("TlsVer", tlsVer)
			w.str("Cphr", cipher)
		}
		return
	}
	w.str("action", action)
	w.str("direction", dir)
	w.numStr("numberAttachments", attachments)
	w.null("receiptErrors")
	w.str("recipients", rcpt)
	w.str("senderEnvelope", sender)
	w.str("senderIp", ip)
	if accepted {
		w.str("messageId", msgID)
		w.null("rejectionCode")
		w.null("rejectionInfo")
		w.null("rejectionType")
		w.str("senderHeader", sender)
		w.numStr("spamDetectionLevel", level)
		w.str("spamInfo", "[]")
		w.str("spamProcessingDetail", spd)
		w.numStr("spamScore", spamScore)
		w.str("subject", subject)
	} else {
		w.null("messageId")
		w.str("rejectionCode", rej.code)
		w.str("rejectionInfo", rej.info)
		w.str("rejectionType", rej.typ)
		w.null("senderHeader")
		w.null("spamDetectionLevel")
		w.null("spamInfo")
		w.null("spamProcessingDetail")
		w.null("spamScore")
		w.null("subject")
	}
	if tls {
		w.str("tlsCipher", cipher)
		w.str("tlsVersion", tlsVer)
	} else {
		w.null("tlsCipher")
		w.null("tlsVersion")
	}
	w.null("virusFound")
	g.subtype(action)
}

func (g *gen) process() {
	_, sender, _ := g.direction()
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	var action, hold string
	switch n := g.r.IntN(100); {
	case n < 75:
		action = "Acc"
	case n < 90:
		action, hold = "Hld", "Spm"
	default:
		action = "Sdbx"
	}
	natt := int64(g.r.IntN(3))
	var names string
	for i := int64(0); i < natt; i++ {
		if i > 0 {
			names += ", "
		}
		names += `"` + g.pick2(attachmentFiles).name + `"`
	}
	attSize := natt * int64(1000+g.r.IntN(200000))
	msgSize := attSize + int64(1500+g.r.IntN(60000))

	w := &g.w
	g.head()
	if g.v1 {
		w.str("Act", action)
		if hold != "" {
			w.str("Hld", hold)
			w.str("IPInternalName", "false")
			w.str("IPNewDomain", "false")
			w.str("IPReplyMismatch", "false")
			w.str("IPSimilarDomain", "false")
			w.str("IPThreadDict", "false")
		}
		w.num("AttCnt", natt)
		w.opt("AttNames", names)
		w.num("AttSize", attSize)
		w.num("MsgSize", msgSize)
		w.str("MsgId", msgID)
		w.str("Sender", sender)
		w.text("Subject", subject)
		return
	}
	w.str("action", action)
	w.opt("attachments", names)
	w.numStr("emailSize", msgSize)
	w.opt("holdReason", hold)
	w.str("messageId", msgID)
	w.numStr("numberAttachments", natt)
	w.str("senderEnvelope", sender)
	w.str("subject", subject)
	w.numStr("totalSizeAttachments", attSize)
	g.subtype(action)
}

func (g *gen) delivery() {
	dir, sender, rcpt := g.direction()
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	delivered := g.chance(92)
	rej := rejections[g.r.IntN(len(rejections))]
	ip := g.publicIP()
	route := g.pick(deliveryRoutes)
	tls := g.chance(70)
	tlsVer, cipher := g.pick(tlsVersions), g.pick(tlsCiphers)
	natt := int64(g.r.IntN(3))
	attSize := natt * int64(1000+g.r.IntN(200000))
	size := attSize + int64(1500+g.r.IntN(60000))
	latency := int64(200 + g.r.IntN(15000))
	attempt := int64(1)
	if g.chance(5) {
		attempt += int64(g.r.IntN(3))
	}
	host := g.pick(deliveryHosts)

	w := &g.w
	g.head()
	if g.v1 {
		w.num("AttCnt", natt)
		w.num("AttSize", attSize)
		w.num("Attempt", attempt)
		w.boolean("Delivered", delivered)
		w.str("Dir", dir)
		w.str("IP", ip)
		w.num("Latency", latency)
		w.str("MsgId", msgID)
		w.str("Rcpt", rcpt)
		if delivered {
			w.str("ReceiptAck", "250 2.6.0 "+msgID+" Queued mail for delivery")
		} else {
			w.null("ReceiptAck")
			w.str("RejType", rej.typ)
			w.str("RejCode", rej.code)
			w.text("RejInfo", rej.info)
		}
		w.str("Route", route)
		w.str("Sender", sender)
		w.num("Snt", size)
		w.text("Subject", subject)
		if tls {
			w.str("TlsVer", tlsVer)
			w.str("Cphr", cipher)
			w.str("UseTls", "Yes")
		} else {
			w.str("UseTls", "No")
		}
		return
	}
	w.str("Hostname", host)
	w.boolStr("delivered", delivered)
	w.numStr("deliveryAttempts", attempt)
	w.null("deliveryErrors")
	w.numStr("deliveryTime", latency)
	w.str("destinationIp", ip)
	w.str("direction", dir)
	w.numStr("emailSize", size)
	w.str("messageId", msgID)
	w.numStr("numberAttachments", natt)
	w.str("recipients", rcpt)
	if delivered {
		w.null("rejectionCode")
		w.null("rejectionInfo")
		w.null("rejectionType")
	} else {
		w.str("rejectionCode", rej.code)
		w.str("rejectionInfo", rej.info)
		w.str("rejectionType", rej.typ)
	}
	w.str("route", route)
	w.str("senderEnvelope", sender)
	w.str("subject", subject)
	if tls {
		w.str("tlsCipher", cipher)
		w.str("tlsUsed", "Yes")
		w.str("tlsVersion", tlsVer)
	} else {
		w.null("tlsCipher")
		w.str("tlsUsed", "No")
		w.null("tlsVersion")
	}
	w.numStr("totalSizeAttachments", attSize)
	g.subtype(strconv.FormatBool(delivered))
}

func (g *gen) journal() {
	dir, sender, rcpt := g.direction()
	hdr := g.pick([]string{"To", "Cc", "Bcc", "Unknown"})
	w := &g.w
	g.head()
	if g.v1 {
		w.str("Dir", dir)
		w.str("Rcpt", rcpt)
		w.str("RcptActType", "Jnl")
		w.str("RcptHdrType", hdr)
		w.str("Sender", sender)
		return
	}
	w.str("direction", dir)
	w.str("recipients", rcpt)
	w.str("senderEnvelope", sender)
	g.subtype("")
}

func (g *gen) av() {
	sender, rcpt := g.externalAddr(), g.internalAddr()
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	f := g.pick2(attachmentFiles)
	virus := g.pick(viruses)
	ip := g.publicIP()
	size := int64(2000 + g.r.IntN(2000000))
	md5, sha1, sha256 := g.hex(16), g.hex(20), g.hex(32)
	internalDomain := g.chance(10)
	customerIP := g.chance(50)

	w := &g.w
	g.head()
	if g.v1 {
		w.boolStr("CustomerIP", customerIP)
		w.str("IP", ip)
		w.str("MimecastIP", "false")
		w.str("MsgId", msgID)
		w.str("Recipient", rcpt)
		w.str("Route", "Inbound")
		w.str("Sender", sender)
		w.str("SenderDomain", domainOf(sender))
		w.boolStr("SenderDomainInternal", internalDomain)
		w.num("Size", size)
		w.text("Subject", subject)
		w.str("Virus", virus)
		w.str("fileExt", f.ext)
		w.str("fileMime", f.mime)
		w.str("fileName", f.name)
		w.str("md5", md5)
		w.str("sha1", sha1)
		w.str("sha256", sha256)
		return
	}
	w.numStr("emailSize", size)
	w.str("fileExtension", f.ext)
	w.str("fileName", f.name)
	w.str("md5", md5)
	w.str("messageId", msgID)
	w.str("recipients", rcpt)
	w.str("route", "Inbound")
	w.str("senderDomain", domainOf(sender))
	w.boolStr("senderDomainInternal", internalDomain)
	w.str("senderEnvelope", sender)
	w.str("senderIp", ip)
	w.str("sha1", sha1)
	w.str("sha256", sha256)
	w.str("subject", subject)
	w.str("virusFound", virus)
	g.subtype("")
}

func (g *gen) spam() {
	sender, rcpt := g.externalAddr(), g.internalAddr()
	subject := g.subject()
	hasSubject := g.chance(85)
	msgID := g.messageID(g.mtaHost())
	ip := g.publicIP()
	tagged := g.chance(20)
	malicious := g.chance(10)

	w := &g.w
	g.head()
	if g.v1 {
		w.str("MsgId", msgID)
		w.str("Recipient", rcpt)
		w.str("Route", "Inbound")
		w.str("Sender", sender)
		w.str("SenderDomain", domainOf(sender))
		w.str("SourceIP", ip)
		if hasSubject {
			w.text("Subject", subject)
		}
		w.str("headerFrom", sender)
		return
	}
	w.str("messageId", msgID)
	w.str("recipients", rcpt)
	w.str("route", "Inbound")
	w.str("senderDomain", domainOf(sender))
	w.str("senderEnvelope", sender)
	w.str("senderHeader", sender)
	w.str("senderIp", ip)
	if hasSubject {
		w.str("subject", subject)
	} else {
		w.null("subject")
	}
	if tagged {
		w.boolStr("taggedExternal", true)
		w.boolStr("taggedMalicious", malicious)
	}
	g.subtype("")
}

func (g *gen) iep() {
	sender, rcpt := g.internalAddr(), g.internalAddr()
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	url := g.url()
	category := g.pick(urlCategories)
	scan := g.pick([]string{"Blocked URL Category", "Malicious URL", "Suspicious URL"})

	w := &g.w
	g.head()
	if g.v1 {
		w.str("MsgId", msgID)
		w.str("Recipient", rcpt)
		w.str("Route", "Internal")
		w.str("ScanResultInfo", scan)
		w.str("Sender", sender)
		w.text("Subject", subject)
		w.str("URL", url)
		w.str("UrlCategory", category)
		return
	}
	w.str("messageId", msgID)
	w.null("monitoredDomainSource")
	w.str("recipients", rcpt)
	w.str("route", "Internal")
	w.str("scanResults", scan)
	w.str("senderEnvelope", sender)
	w.null("similarDomain")
	w.str("subject", subject)
	w.str("urlCategory", category)
	g.subtype("")
}

func (g *gen) impersonation() {
	sender, rcpt := g.externalAddr(), g.internalAddr()
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	ip := g.publicIP()
	action := g.pick([]string{"Hold", "Tag", "None"})
	hits := int64(1 + g.r.IntN(3))
	var flags [10]bool
	for i := range flags {
		flags[i] = g.chance(25)
	}
	def := g.pick([]string{"Default Impersonation Definition", "IP - 1 hit (Tag email)", "IP - 2 hits (Hold for Review / User Hold)"})

	w := &g.w
	g.head()
	if g.v1 {
		w.str("Action", action)
		w.boolStr("CustomName", flags[0])
		w.boolStr("CustomThreatDictionary", flags[1])
		w.str("Definition", def)
		w.str("Hits", strconv.FormatInt(hits, 10))
		w.str("IP", ip)
		w.boolStr("InternalName", flags[2])
		w.str("MsgId", msgID)
		w.boolStr("NewDomain", flags[3])
		w.str("Recipient", rcpt)
		w.boolStr("ReplyMismatch", flags[4])
		w.str("Route", "Inbound")
		w.str("Sender", sender)
		w.boolStr("SimilarCustomExternalDomain", flags[5])
		w.boolStr("SimilarInternalDomain", flags[6])
		w.boolStr("SimilarMimecastExternalDomain", flags[7])
		w.text("Subject", subject)
		w.boolStr("TaggedExternal", flags[8])
		w.boolStr("TaggedMalicious", flags[9])
		w.boolStr("ThreatDictionary", false)
		return
	}
	w.str("action", action)
	w.boolStr("customNameMatch", flags[0])
	w.boolStr("customThreatDictionary", flags[1])
	w.str("policyDefinition", def)
	w.numStr("itemsDetected", hits)
	w.str("senderIp", ip)
	w.boolStr("internalUserName", flags[2])
	w.str("messageId", msgID)
	w.boolStr("newDomain", flags[3])
	w.str("recipients", rcpt)
	w.boolStr("replyMismatch", flags[4])
	w.str("route", "Inbound")
	w.str("senderEnvelope", sender)
	w.boolStr("similarCustomExternalDomain", flags[5])
	w.boolStr("similarInternalDomain", flags[6])
	w.boolStr("similarMimecastExternalDomain", flags[7])
	w.str("subject", subject)
	w.boolStr("taggedExternal", flags[8])
	w.boolStr("taggedMalicious", flags[9])
	w.boolStr("mimecastThreatDictionary", false)
	g.subtype(action)
}

func (g *gen) urlProtect() {
	sender, rcpt := g.externalAddr(), g.internalAddr()
	subject := g.subject()
	msgID := g.messageID(g.mtaHost())
	hasMsgID := g.chance(50)
	url := g.url()
	category := g.pick(urlCategories)
	ip := g.publicIP()
	blocked := g.chance(70)
	action, reason := "Block", "malicious"
	if !blocked {
		action, reason = "Allow", "clean"
	}
	analysis := g.pick(analyses)

	w := &g.w
	g.head()
	if g.v1 {
		w.str("action", action)
		w.null("credentialTheft")
		if hasMsgID {
			w.str("msgid", msgID)
		} else {
			w.null("msgid")
		}
		w.str("reason", reason)
		w.str("recipient", rcpt)
		w.str("route", "inbound")
		w.str("sender", sender)
		w.str("senderDomain", domainOf(sender))
		w.str("sourceIp", ip)
		w.text("subject", subject)
		w.str("url", url)
		w.str("urlCategory", category)
		return
	}
	w.str("action", action)
	w.str("analysis", analysis)
	w.str("blockReason", reason)
	w.str("messageId", msgID)
	w.str("recipients", rcpt)
	w.str("route", "inbound")
	w.str("senderDomain", domainOf(sender))
	w.str("senderEnvelope", sender)
	w.str("sourceIp", ip)
	w.str("subject", subject)
	w.str("url", url)
	w.str("urlCategory", category)
	g.subtype(action)
}

func (g *gen) attachmentProtect() {
	sender, rcpt := g.externalAddr(), g.internalAddr()
	f := g.pick2(attachmentFiles)
	ip := g.publicIP()
	size := int64(2000 + g.r.IntN(2000000))
	md5, sha1, sha256 := g.hex(16), g.hex(20), g.hex(32)

	w := &g.w
	g.head()
	if g.v1 {
		w.str("IP", ip)
		w.str("Recipient", rcpt)
		w.str("Route", "Inbound")
		w.str("Sender", sender)
		w.str("SenderDomain", domainOf(sender))
		w.num("Size", size)
		w.str("fileExt", f.ext)
		w.str("fileMime", f.mime)
		w.str("fileName", f.name)
		w.str("md5", md5)
		w.str("sha1", sha1)
		w.str("sha256", sha256)
		return
	}
	w.str("fileExtension", f.ext)
	w.str("fileName", f.name)
	w.str("md5", md5)
	w.str("sha1", sha1)
	w.str("sha256", sha256)
	g.subtype("")
}

func (g *gen) pick2(xs []attachmentFile) attachmentFile { return xs[g.r.IntN(len(xs))] }

func (g *gen) url() string {
	return "https://" + g.externalDomain() + g.pick(urlPaths)
}

// Records of the /api/ log endpoints. Each takes the record's time and a
// unique identifier, writes the fields of one JSON object to g.w and returns
// the value of the record's identity field (see RecordID).

func (g *gen) auditEvent(t time.Time, uid string) string {
	ev := auditEvents[g.r.IntN(len(auditEvents))]
	user := g.internalAddr()
	if ev.category == "account_logs" {
		user = "" // system events carry an empty user in the samples
	}
	info := ev.info(user, t, g.publicIP())
	id := "eNqrVipOTS4tSs1MUbJS" + uid + g.b64(45)
	w := &g.w
	w.str("id", id)
	w.str("auditType", ev.typ)
	w.str("user", user)
	w.time("eventTime", t, logsTimeLayout)
	w.str("eventInfo", info)
	w.str("category", ev.category)
	return id
}

func (g *gen) ttpURLLog(t time.Time, uid string) string {
	msgID := "<" + uid + "@" + g.mtaHost() + ">"
	malicious := g.chance(20)
	internal := g.chance(15)
	rcpt, sender := g.internalAddr(), g.externalAddr()
	route, ip := "inbound", g.publicIP()
	if internal {
		route, sender, ip = "internal", g.internalAddr(), "Internal IP"
	}
	url := g.url()
	subject := g.subject()
	category := g.pick(urlCategories)
	action, actions, scan := "allow", "Allow", "clean"
	if malicious {
		action, actions, scan = g.pick([]string{"warn", "block"}), "Block", "malicious"
	}
	method := g.pick([]string{"User Click", "Entry Scan"})
	parts := g.pick([]string{`["Body"]`, `["Attachment"]`, `["Body","Attachment"]`})
	w := &g.w
	w.str("userEmailAddress", rcpt)
	w.str("fromUserEmailAddress", sender)
	w.str("url", url)
	w.str("ttpDefinition", g.pick([]string{"Inbound URL 'Aggressive'", "Default Inbound URL Protect Definition", "Default Internal URL Protect Definition"}))
	w.str("subject", subject)
	w.str("action", action)
	w.str("adminOverride", "N/A")
	w.str("userOverride", "None")
	w.str("scanResult", scan)
	w.str("category", category)
	w.str("sendingIp", ip)
	w.str("userAwarenessAction", g.pick([]string{"N/A", "Continue"}))
	w.time("date", t, logsTimeLayout)
	w.str("actions", actions)
	w.str("route", route)
	w.str("creationMethod", method)
	w.raw("emailPartsDescription", parts)
	w.str("messageId", msgID)
	if malicious {
		tagMap, _ := json.Marshal(map[string]any{"UrlReputationScan": map[string][]string{
			"Status": {"CustomerAll", "VerdictBlock"}, "Type": {category},
			"UrlBlock": {"ORIGINAL:" + url + " (Blocked as " + category + ")"}, "Url": {url},
		}})
		w.raw("tagMap", string(tagMap))
	}
	return msgID
}

func (g *gen) ttpAttachmentLog(t time.Time, uid string) string {
	msgID := "<" + uid + "@" + g.mtaHost() + ">"
	f := g.pick2(attachmentFiles)
	malicious := g.chance(15)
	result, details, action := "safe", "Safe", g.pick([]string{"user release, none", "none"})
	if malicious {
		result, details, action = "malicious", "Malicious", "none"
	}
	secs := g.r.IntN(30)
	route, sender := "inbound", g.externalAddr()
	if g.chance(15) {
		route, sender = "internal", g.internalAddr()
	}
	w := &g.w
	w.str("senderAddress", sender)
	w.str("recipientAddress", g.internalAddr())
	w.str("fileName", f.name)
	w.str("fileType", f.mime)
	w.str("result", result)
	w.str("actionTriggered", action)
	w.time("date", t, logsTimeLayout)
	w.str("details", details+"                                              \r\nTime taken: 0 hrs, 0 min, "+strconv.Itoa(secs)+" sec")
	w.str("route", route)
	w.str("messageId", msgID)
	w.str("subject", g.subject())
	w.str("fileHash", g.hex(32))
	w.str("definition", g.pick([]string{"Inbound - Safe file with On-Demand Sandbox", "Default Internal Attachment Protect Definition", "Default Inbound Attachment Protect Definition"}))
	return msgID
}

func (g *gen) ttpImpersonationLog(t time.Time, uid string) string {
	id := "MTOKEN:eNqrVkouLS7Jz00tSs5PSVWyUnI2MXM0N1XSUcpMUbIy" + uid
	msgID := "<" + uid + "@" + g.mtaHost() + ">"
	first, last := g.pick(firstNames), g.pick(lastNames)
	name := upperFirst(first) + " " + upperFirst(last)
	sender := first + "." + last + "@" + g.externalDomain()
	hits := 1 + g.r.IntN(2)
	identifiers := []string{"internal_user_name"}
	results := []map[string]string{{
		"impersonationDomainSource": "internal_user_name",
		"similarDomain":             name + " <" + first + "." + last + "@" + g.a.domain + ">",
		"stringSimilarToDomain":     name,
		"checkerResult":             "hit",
	}}
	if hits == 2 {
		identifiers = append([]string{"targeted_threat_dictionary"}, identifiers...)
		results = append(results, map[string]string{"impersonationDomainSource": "targeted_threat_dictionary", "stringSimilarToDomain": g.pick([]string{"who", "wire transfer", "urgent"})})
	}
	action, def := "none", "IP - 1 hit (Tag email)"
	if hits == 2 {
		action, def = "hold", "IP - 2 hits (Hold for Review / User Hold)"
	}
	idJSON, _ := json.Marshal(identifiers)
	resJSON, _ := json.Marshal(results)
	w := &g.w
	w.str("id", id)
	w.str("senderAddress", sender)
	w.str("recipientAddress", g.internalAddr())
	w.str("subject", g.subject())
	w.str("definition", def)
	w.num("hits", int64(hits))
	w.raw("identifiers", string(idJSON))
	w.str("action", action)
	w.boolean("taggedExternal", g.chance(50))
	w.boolean("taggedMalicious", true)
	w.str("senderIpAddress", g.publicIP())
	w.time("eventTime", t, logsTimeLayout)
	w.raw("impersonationResults", string(resJSON))
	w.str("messageId", msgID)
	return id
}

func (g *gen) dlpLog(t time.Time, uid string) string {
	msgID := "<" + uid + "@" + g.mtaHost() + ">"
	route := g.pick([]string{"inbound", "outbound", "internal"})
	sender, rcpt := g.externalAddr(), g.internalAddr()
	if route == "outbound" {
		sender, rcpt = rcpt, sender
	}
	w := &g.w
	w.str("senderAddress", sender)
	w.str("recipientAddress", rcpt)
	w.str("subject", g.subject())
	w.time("eventTime", t, logsTimeLayout)
	w.str("route", route)
	w.str("policy", g.pick([]string{"Confidential", "Content Inspection - Watermark", "PCI - Card Numbers", "GDPR - Personal Data"}))
	w.str("action", g.pick([]string{"hold", "notification", "block", "smtp_bounce"}))
	w.str("messageId", msgID)
	return msgID
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// Value pools. Subjects include non-ASCII text and quotes on purpose; none
// contains `|` or `\`, which the key_value format cannot carry.
var (
	firstNames = []string{"james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda",
		"david", "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas",
		"sarah", "charles", "karen", "daniel", "nancy", "matthew", "betty", "anthony", "sandra", "mark",
		"ashley", "donald", "emily", "steven", "kimberly", "paul", "donna", "andrew", "michelle",
		"joshua", "carol", "kenneth", "amanda", "kevin", "melissa", "brian", "deborah", "veronica",
		"richie", "tana", "max", "rhonda", "eric"}
	lastNames = []string{"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
		"rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas",
		"taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris",
		"sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king",
		"wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker",
		"espinoza", "costigan", "denton", "forster", "ring", "weldon"}
	roleLocals   = []string{"info", "billing", "noreply", "newsletter", "support", "alerts", "postmaster", "hr", "sales", "invoices"}
	domainWords1 = []string{"arcadia", "pilot", "creative", "concept", "evaluation", "demo", "innovation", "empire", "north", "blue", "silver", "rapid"}
	domainWords2 = []string{"group", "meadow", "omega", "variety", "fuzz", "visionary", "asylum", "partners", "logistics", "systems"}
	domainTLDs   = []string{".example.com", ".example.net", ".example.org"}
	ipPrefixes   = []string{"81.2.69.", "67.43.156.", "89.160.20.", "216.160.83.", "175.16.199.", "2.125.160.", "198.51.100.", "203.0.113."}
	mtaHosts     = []string{"hapi.b41.example.net", "usb-mta-24.usb.mimecast.lan", "uk-mta-151.uk.mimecast.lan", "mail.gmail.example.com", "mx.outlook.example.com", "ind1s01mta1292.xt.local"}
	subjects     = []string{"Energy Briefing paper for Monday, May 21st", "Weekly Report", "new information",
		"Management Changes", "RE: Q3 forecast", "Invoice Attached for payment", "You have new held messages",
		"Your package has shipped", "Meeting notes", "FW: Contract review", "Password expiry notice",
		"Action required: verify your account", "HPL Nom for January 25, 2001", "Edison MOU", "RE",
		"Tests Only an Internet Marketer Could Love", "Coffee Briefing", "DocuSign- Contract #45576744333",
		"Opportunity to become VP", "Requested File", "Fwd: Here ya go", "Sandbox Test results",
		"Hi Sandra! Neue Styles eingetroffen! – Finde deinen Lieblings-Look!", "Re: \"Project Phoenix\" kickoff",
		"Quarterly all-hands: agenda", "Out of office: back Monday", "Your invoice #88231 is overdue",
		"Undelivered Mail Returned to Sender", "Shared document: budget_2025.xlsx", "Lunch on Friday?",
		"Security alert: new sign-in", "Réunion de projet – compte rendu", "WP-02 Data Response", "FIRE DRILL"}
	tlsVersions = []string{"TLSv1.2", "TLSv1.3"}
	tlsCiphers  = []string{"TLS_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}
	spfInfos    = []string{"ALLOW", "ALLOW", "ALLOW", "SPF_FAIL"}
	dkimInfos   = []string{"ALLOW", "UNKNOWN", "DKIM_UNKNOWN"}
	dmarcInfos  = []string{"ALLOW", "ALLOW", "UNKNOWN"}
	rejections  = []struct{ code, info, typ string }{
		{"550", "Envelope blocked - User Entry", "Manual Envelope Rejection"},
		{"550", "5.4.1 Recipient address rejected: Access denied.", "Recipient email address is possibly incorrect"},
		{"554", "Rejected by header based Blocked Senders", "Header Rejected"},
		{"451", "Greylisting in action, please come back later", "Greylisting"},
	}
	deliveryRoutes = []string{"Office365", "Accept and drop messages", "Mimecast Exchange Route", "Google Workspace"}
	deliveryHosts  = []string{"ha.hamilton321.example.net", "example-com.mail.protection.outlook.example.com", "aspmx.l.google.example.com"}
	viruses        = []string{"Anomali:Phishing", "Win.Trojan.Agent-1234", "Doc.Downloader.Emotet-6985883-0", "bad.virus.found", "Xls.Dropper.Agent-7654"}
	urlCategories  = []string{"Phishing & Fraud", "Compromised", "Malware", "Dangerous file extension", "Business", "Search Engines & Portals", "Blocked"}
	urlPaths       = []string{"/login/", "/invoice/view.php", "/Docun/Docu/index2.php", "/account/verify?id=7731", "/download/setup.exe", "/alerts/feeds/0025975528", "/"}
	analyses       = []string{
		`{"CredentialTheftEvidence":["The website uses an unencrypted connection"],"CredentialTheftTags":["NO_CERTIFICATE","REDIRECTION","REMOTE_RESOURCES"]}`,
		`{"CredentialTheftEvidence":[],"CredentialTheftTags":["REDIRECTION"]}`,
		`{}`,
	}
	attachmentFiles = []attachmentFile{
		{"invoice_2291.pdf", "pdf", "application/pdf"},
		{"zero-day.pdf", "pdf", "application/pdf"},
		{"Q3 results.xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"contract.docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"setup.exe", "exe", "application/x-msdownload"},
		{"WinZip Attachments.zip", "zip", "application/zip"},
		{"Invoice Attached for payment.xlsm", "xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12"},
		{"tpsreport.docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	}
	auditEvents = []auditEvent{
		{"User Logged On", "authentication_logs", func(u string, t time.Time, ip string) string {
			return "Successful authentication for " + u + ", Date: " + t.Format("2006-01-02") + ", Time: " + t.Format("15:04:05") + " UTC, IP: " + ip + ", Application: Administration Console, Method: Two Step Auth, 2FA: TOTP"
		}},
		{"Logon Authentication Failed", "authentication_logs", func(u string, t time.Time, ip string) string {
			return "Failed authentication for " + u + ", Date: " + t.Format("2006-01-02") + ", Time: " + t.Format("15:04:05") + " UTC, IP: " + ip + ", Application: mimecast-moa, Method: Office 365, Reason: Wrong password"
		}},
		{"Threat Intel Feed Download", "reporting_logs", func(u string, t time.Time, ip string) string {
			return "Threat intel multiple feeds download  - malware_customer_csv_" + t.Format("20060102150405") + "000.zip, Date: " + t.Format("2006-01-02") + ", Time: " + t.Format("15:04:05-0700") + ", IP: " + ip + ", Application: Integrations"
		}},
		{"Mimecast Support Login", "mimecast_access_logs", func(u string, t time.Time, ip string) string {
			return "Action Performed - " + u + " logged into this account. Date: " + t.Format("2006-01-02") + " Time: " + t.Format("15:04:05 -0700") + " IP: " + ip + " Application: Administration Console"
		}},
		{"Completed Directory Sync", "account_logs", func(string, time.Time, string) string { return "No changes found." }},
		{"User Password Changed", "user_account_and_role_logs", func(u string, _ time.Time, _ string) string {
			return "Password reset for user: " + u + " User Password Changed, Remote IP is null"
		}},
		{"Search Archive", "archive_service_logs", func(u string, t time.Time, ip string) string {
			return "Archive search by " + u + ", Date: " + t.Format("2006-01-02") + ", IP: " + ip + ", Search reason: compliance review"
		}},
		{"API Application Key Created", "integrations_and_apis", func(u string, _ time.Time, _ string) string {
			return "API application key created by " + u + " for application SIEM connector"
		}},
	}
)

type attachmentFile struct{ name, ext, mime string }

type auditEvent struct {
	typ, category string
	info          func(user string, t time.Time, ip string) string
}
