package leef

import (
	"slices"

	"mimecast-qradar/app/internal/model"
)

// FieldMapping is one row of the log type table: which Mimecast fields feed
// the added LEEF keys of a log type. Each list names candidate fields in
// priority order (API 2.0 spelling first, then API 1.0); the first one present
// with a non-empty value wins. docs/leef-fields.md shows the same table.
type FieldMapping struct {
	LogType string       // the EventID
	Stream  model.Stream // the stream records of this log type come from

	Time    []string // the record's own time, used when model.Record.Time is zero; none for snapshot rows
	Cat     []string // cat; when none is present, cat is the log type
	Src     []string // src (only a valid IP address is used)
	Dst     []string // dst (only a valid IP address is used)
	UsrName []string // usrName

	// Sev is the severity (1-10) of a record whose cat is not in Categories.
	Sev int
	// Categories are the known cat values, with a QRadar event name and
	// severity each. Values match case-insensitively.
	Categories []Category
	// SevRules raise the severity when a field has a given value.
	SevRules []SevRule

	// Keep names identity fields that truncation never cuts (the time
	// fields are never cut either).
	Keep []string
}

// Category is one known cat value of a log type.
type Category struct {
	Value string // the cat value as Mimecast writes it
	Name  string // a short event name, e.g. for a QRadar QID record
	Sev   int    // severity 1-10
}

// SevRule raises a record's severity to Sev when Field has Value
// (case-insensitive; "*" matches any non-empty value).
type SevRule struct {
	Field string
	Value string
	Sev   int
}

// AnyValue is the SevRule value that matches any non-empty field value.
const AnyValue = "*"

var (
	siemTime = []string{"timestamp", "datetime"}
	v2Keep   = []string{"aggregateId", "processingId", "messageId", "accountId"}
	v1Keep   = []string{"aCode", "MsgId", "msgid", "acc"}
	siemKeep = slices.Concat(v2Keep, v1Keep)
)

// mappings is the log type table. Order is the display order of the docs.
var mappings = []FieldMapping{
	{
		LogType: model.LogReceipt, Stream: model.StreamSIEM,
		Time: siemTime, Cat: []string{"action", "Act"},
		Src: []string{"senderIp", "IP"}, UsrName: []string{"recipients", "Rcpt"},
		Sev: 3,
		Categories: []Category{
			{"Acc", "Message accepted", 1},
			{"Rej", "Message rejected", 5},
			{"Bnc", "Message bounced", 4},
			{"Ign", "Message ignored", 3},
		},
		SevRules: []SevRule{{"virusFound", AnyValue, 8}, {"Virus", AnyValue, 8}},
		Keep:     siemKeep,
	},
	{
		LogType: model.LogProcess, Stream: model.StreamSIEM,
		Time: siemTime, Cat: []string{"action", "Act"},
		UsrName: []string{"senderEnvelope", "Sender"},
		Sev:     2,
		Categories: []Category{
			{"Acc", "Message accepted for delivery", 1},
			{"Hld", "Message held", 5},
			{"Sdbx", "Message sent to sandbox", 4},
			{"Bnc", "Message bounced", 4},
			{"Rty", "Message processing retried", 3},
		},
		Keep: siemKeep,
	},
	{
		LogType: model.LogDelivery, Stream: model.StreamSIEM,
		Time: siemTime, Cat: []string{"delivered", "Delivered"},
		Dst: []string{"destinationIp", "IP"}, UsrName: []string{"recipients", "Rcpt"},
		Sev: 2,
		Categories: []Category{
			{"true", "Message delivered", 1},
			{"false", "Message delivery failed", 4},
		},
		Keep: siemKeep,
	},
	{
		LogType: model.LogJournal, Stream: model.StreamSIEM,
		Time: siemTime, UsrName: []string{"senderEnvelope", "Sender"},
		Sev:  1,
		Keep: siemKeep,
	},
	{
		LogType: model.LogAV, Stream: model.StreamSIEM,
		Time: siemTime,
		Src:  []string{"senderIp", "IP"}, UsrName: []string{"recipients", "Recipient"},
		Sev:  8,
		Keep: siemKeep,
	},
	{
		LogType: model.LogSpam, Stream: model.StreamSIEM,
		Time: siemTime,
		Src:  []string{"senderIp", "SourceIP"}, UsrName: []string{"recipients", "Recipient"},
		Sev:      5,
		SevRules: []SevRule{{"taggedMalicious", "true", 7}},
		Keep:     siemKeep,
	},
	{
		LogType: model.LogInternalEmailProt, Stream: model.StreamSIEM,
		Time: siemTime, Cat: []string{"scanResults", "ScanResultInfo"},
		UsrName: []string{"senderEnvelope", "Sender"},
		Sev:     6,
		Categories: []Category{
			{"Blocked URL Category", "Internal message with blocked URL category", 6},
		},
		Keep: siemKeep,
	},
	{
		LogType: model.LogImpersonationProt, Stream: model.StreamSIEM,
		Time: siemTime, Cat: []string{"action", "Action"},
		Src: []string{"senderIp", "IP"}, UsrName: []string{"recipients", "Recipient"},
		Sev: 6,
		Categories: []Category{
			{"Hold", "Impersonation attempt held", 7},
			{"None", "Impersonation attempt detected", 6},
		},
		SevRules: []SevRule{{"taggedMalicious", "true", 8}, {"TaggedMalicious", "true", 8}},
		Keep:     siemKeep,
	},
	{
		LogType: model.LogURLProtect, Stream: model.StreamSIEM,
		Time: siemTime, Cat: []string{"action", "reason"},
		Src: []string{"sourceIp"}, UsrName: []string{"recipients", "recipient"},
		Sev: 6,
		Categories: []Category{
			{"Block", "URL blocked", 7},
			{"Warn", "URL warning shown", 5},
			{"Allow", "URL allowed", 2},
			{"malicious", "Malicious URL", 8},
		},
		SevRules: []SevRule{{"blockReason", "malicious", 8}, {"reason", "malicious", 8}},
		Keep:     siemKeep,
	},
	{
		LogType: model.LogAttachmentProtect, Stream: model.StreamSIEM,
		Time: siemTime,
		Src:  []string{"senderIp", "IP"}, UsrName: []string{"recipients", "Recipient"},
		Sev:  7,
		Keep: siemKeep,
	},
	{
		LogType: model.LogAudit, Stream: model.StreamAudit,
		Time: []string{"eventTime"}, Cat: []string{"auditType", "category"},
		UsrName: []string{"user"},
		Sev:     2,
		Categories: []Category{
			{"User Logged On", "Administrator logged on", 3},
			{"Logon Authentication Failed", "Administrator logon failed", 6},
			{"Mimecast Support Login", "Mimecast support logged on", 5},
			{"User Password Changed", "User password changed", 4},
			{"Completed Directory Sync", "Directory synchronisation completed", 1},
			{"Threat Intel Feed Download", "Threat intelligence feed downloaded", 1},
		},
		Keep: []string{"id"},
	},
	{
		LogType: model.LogTTPURL, Stream: model.StreamTTPURL,
		Time: []string{"date"}, Cat: []string{"action"},
		Src: []string{"sendingIp"}, UsrName: []string{"userEmailAddress"},
		Sev: 3,
		Categories: []Category{
			{"allow", "URL click allowed", 2},
			{"warn", "URL click warned", 5},
			{"block", "URL click blocked", 7},
		},
		SevRules: []SevRule{{"scanResult", "malicious", 8}},
		Keep:     []string{"messageId"},
	},
	{
		LogType: model.LogTTPAttachment, Stream: model.StreamTTPAttachment,
		Time: []string{"date"}, Cat: []string{"result"},
		UsrName: []string{"recipientAddress"},
		Sev:     4,
		Categories: []Category{
			{"safe", "Attachment scanned safe", 2},
			{"malicious", "Malicious attachment", 8},
		},
		Keep: []string{"messageId", "fileHash"},
	},
	{
		LogType: model.LogTTPImpersonation, Stream: model.StreamTTPImpersonation,
		Time: []string{"eventTime"}, Cat: []string{"action"},
		Src: []string{"senderIpAddress"}, UsrName: []string{"recipientAddress"},
		Sev: 5,
		Categories: []Category{
			{"none", "Impersonation detected, no action", 4},
			{"hold", "Impersonation attempt held", 7},
		},
		SevRules: []SevRule{{"taggedMalicious", "true", 7}},
		Keep:     []string{"id", "messageId"},
	},
	{
		LogType: model.LogDLP, Stream: model.StreamDLP,
		Time: []string{"eventTime"}, Cat: []string{"action"},
		UsrName: []string{"senderAddress"},
		Sev:     5,
		Categories: []Category{
			{"notification", "DLP policy notification", 4},
			{"hold", "Message held by DLP policy", 6},
		},
		Keep: []string{"messageId"},
	},
	// Held release logs come in three shapes (more-streams §2); the
	// flattened names of each feed the same keys: operator a string (the
	// documentation's shape), operator {emailAddress} (elastic's API 2.0
	// mock) or operator {email} (BlinkOps' API 2.0 page). They carry no IP
	// address. A record without released gets the collection time.
	{
		LogType: model.LogMessageRelease, Stream: model.StreamMessageRelease,
		Time: []string{"released"}, Cat: []string{"status"},
		UsrName: []string{"operator_emailAddress", "operator_email", "operator"},
		Sev:     3,
		Categories: []Category{
			{"released", "Held message released", 4},
			{"rejected", "Held message rejected", 2},
		},
		Keep: []string{"id"},
	},
	// Archive search logs: description is free text ("Audit [Page 1] -
	// Depth 100"), so cat is the log type. emailAddr is "<>" for searches
	// the system ran.
	{
		LogType: model.LogArchiveSearch, Stream: model.StreamArchiveSearch,
		Time: []string{"createTime"}, UsrName: []string{"emailAddr"},
		Sev:  2,
		Keep: []string{"emailAddr", "searchText"},
	},
	// Threat intel indicators (both feeds): cat is the feed the client
	// adds as feed_type; sha256 is read from the STIX pattern.
	{
		LogType: model.LogThreatIntelMalware, Stream: model.StreamThreatIntelCustomer,
		Time: []string{"modified", "created"}, Cat: []string{"feed_type"},
		Sev: 5,
		Categories: []Category{
			{"malware_customer", "Malware seen in the account's mail", 6},
			{"malware_grid", "Malware seen across Mimecast's customers", 4},
		},
		Keep: []string{"id", "sha256"},
	},
	{
		LogType: model.LogCIEntities, Stream: model.StreamSIEMCI,
		Time: []string{"timestamp"}, Cat: []string{"threatType"},
		Src: []string{"senderIp"}, UsrName: []string{"senderEnvelope", "senderHeader"},
		Sev: 5,
		Categories: []Category{
			{"NO_DETECTIONS", "Message scanned, no threat", 1},
			{"MALWARE", "Malware in a message", 8},
			{"PHISHING", "Phishing message", 7},
			{"SPAM", "Spam message", 4},
			{"POLICIES_DISABLED", "Message not scanned, policies disabled", 2},
		},
		Keep: []string{"messageId", "processingId", "aggregateId", "accountId"},
	},
	{
		LogType: model.LogCIMailflow, Stream: model.StreamSIEMCI,
		Time: []string{"timestamp"},
		Sev:  1,
		Keep: []string{"messageId", "processingId", "aggregateId", "accountId"},
	},
	{
		LogType: model.LogCIURLClick, Stream: model.StreamSIEMCI,
		Time: []string{"timestamp"}, Cat: []string{"action"},
		Src: []string{"sourceIp"},
		Sev: 6,
		Categories: []Category{
			{"BLOCK", "URL click blocked", 7},
		},
		Keep: []string{"processingId", "aggregateId", "accountId"},
	},
	// Awareness Training rows are snapshots of a user's state, without a
	// time of their own: devTime is the collection time.
	{
		LogType: model.LogAwarenessSafeScore, Stream: model.StreamAwarenessTraining,
		Cat: []string{"risk"}, UsrName: []string{"emailAddress"},
		Sev: 3,
		Categories: []Category{
			{"A", "User risk grade A", 1},
			{"B", "User risk grade B", 2},
			{"C", "User risk grade C", 4},
			{"D", "User risk grade D", 6},
			{"F", "User risk grade F", 7},
		},
		Keep: []string{"emailAddress"},
	},
	{
		LogType: model.LogAwarenessPerf, Stream: model.StreamAwarenessTraining,
		UsrName: []string{"email"},
		Sev:     1,
		Keep:    []string{"email"},
	},
	{
		LogType: model.LogAwarenessWatchlist, Stream: model.StreamAwarenessTraining,
		UsrName: []string{"email"},
		Sev:     4,
		Keep:    []string{"email"},
	},
	{
		LogType: model.LogAwarenessPhishing, Stream: model.StreamAwarenessTraining,
		Cat: []string{"status"}, Src: []string{"clickedIp"}, UsrName: []string{"email"},
		Sev: 3,
		Categories: []Category{
			{"sent", "Phishing test sent", 1},
			{"opened", "Phishing test opened", 2},
			{"clicked", "Phishing test link clicked", 6},
			{"reported", "Phishing test reported", 1},
			{"submitted", "Phishing test data submitted", 7},
		},
		Keep: []string{"email", "campaignId"},
	},
}

// fallbackMapping is used for a log type missing from the table: its time
// from the usual time fields, cat from an action field or the log type.
var fallbackMapping = FieldMapping{
	Time: []string{"timestamp", "datetime", "eventTime", "date"},
	Cat:  []string{"action"},
	Sev:  3,
}

// Mapping returns the table row for a log type. A log type missing from the
// table gets a generic row (usual time fields, cat from "action", sev 3).
func Mapping(logType string) FieldMapping {
	m := compiledFor(logType).FieldMapping
	m.LogType = logType
	m.Time = slices.Clone(m.Time)
	m.Cat = slices.Clone(m.Cat)
	m.Src = slices.Clone(m.Src)
	m.Dst = slices.Clone(m.Dst)
	m.UsrName = slices.Clone(m.UsrName)
	m.Categories = slices.Clone(m.Categories)
	m.SevRules = slices.Clone(m.SevRules)
	m.Keep = slices.Clone(m.Keep)
	return m
}

// LogTypes lists the log types of the table, in table order.
func LogTypes() []string {
	out := make([]string, len(mappings))
	for i, m := range mappings {
		out[i] = m.LogType
	}
	return out
}

// Product returns the LEEF Product of a stream family.
func Product(s model.Stream) string {
	switch s {
	case model.StreamSIEM, model.StreamMessageRelease:
		return "Email Security"
	case model.StreamAudit:
		return "Audit"
	case model.StreamTTPURL, model.StreamTTPAttachment, model.StreamTTPImpersonation:
		return "Targeted Threat Protection"
	case model.StreamDLP:
		return "Data Leak Prevention"
	case model.StreamArchiveSearch:
		return "Archive"
	case model.StreamThreatIntelCustomer, model.StreamThreatIntelGrid:
		return "Threat Intelligence"
	case model.StreamSIEMCI:
		return "Cloud Integrated"
	case model.StreamAwarenessTraining:
		return "Awareness Training"
	}
	return "Email Security"
}

// Added LEEF keys. A record field with one of these names is carried as
// mc_<name> instead.
const (
	keyDevTime       = "devTime"
	keyDevTimeFormat = "devTimeFormat"
	keyCat           = "cat"
	keySev           = "sev"
	keySrc           = "src"
	keyDst           = "dst"
	keyUsrName       = "usrName"
	keyStream        = "mcStream"
	keyLogType       = "mcLogType"
	keyAccount       = "mcAccount"
	keyTruncated     = "mcTruncated"
	// keyTimeSource says where devTime came from when it is not the
	// record's own time ("collected": the collection time).
	keyTimeSource = "mcTimeSource"
)

// AddedKeys lists the keys the formatter adds to every record event.
var AddedKeys = []string{keyDevTime, keyDevTimeFormat, keyCat, keySev, keySrc, keyDst,
	keyUsrName, keyStream, keyLogType, keyAccount, keyTruncated, keyTimeSource}

// name flags in a compiled mapping.
const (
	flagKeep    = 1 << iota // never cut by truncation
	flagCollide             // renamed mc_<name>
)

const maxNameLen = 48

// compiled is a FieldMapping prepared for matching field names while a
// record is walked: names of interest indexed by length, so a field costs
// one slice index and a comparison or two.
type compiled struct {
	FieldMapping
	names                    []string
	flags                    []uint8
	byLen                    [maxNameLen + 1][]uint8
	time, cat, src, dst, usr []uint8
	rules                    []compiledRule
}

type compiledRule struct {
	name  uint8
	value string
	sev   int
}

var compiledMappings = compileAll()

func compileAll() map[string]*compiled {
	out := make(map[string]*compiled, len(mappings))
	for _, m := range mappings {
		out[m.LogType] = compile(m)
	}
	return out
}

var compiledFallback = compile(fallbackMapping)

// compiledFor returns the compiled row of a log type, or the shared
// fallback row (whose LogType is empty) for a log type missing from the table.
func compiledFor(logType string) *compiled {
	if c, ok := compiledMappings[logType]; ok {
		return c
	}
	return compiledFallback
}

func compile(m FieldMapping) *compiled {
	c := &compiled{FieldMapping: m}
	index := func(name string, flag uint8) uint8 {
		if i := slices.Index(c.names, name); i >= 0 {
			c.flags[i] |= flag
			return uint8(i)
		}
		if len(name) > maxNameLen || len(c.names) >= maxNames {
			panic("leef: mapping field name too long or too many names: " + name)
		}
		c.names = append(c.names, name)
		c.flags = append(c.flags, flag)
		i := uint8(len(c.names) - 1)
		c.byLen[len(name)] = append(c.byLen[len(name)], i)
		return i
	}
	list := func(names []string, flag uint8) []uint8 {
		var out []uint8
		for _, n := range names {
			out = append(out, index(n, flag))
		}
		return out
	}
	for _, k := range AddedKeys {
		index(k, flagCollide)
	}
	c.time = list(m.Time, flagKeep)
	list(m.Keep, flagKeep)
	c.cat = list(m.Cat, 0)
	c.src = list(m.Src, 0)
	c.dst = list(m.Dst, 0)
	c.usr = list(m.UsrName, 0)
	for _, r := range m.SevRules {
		c.rules = append(c.rules, compiledRule{name: index(r.Field, 0), value: r.Value, sev: r.Sev})
	}
	return c
}

// maxNames bounds the names of interest of one mapping (see walker.hits).
const maxNames = 64

// sevFor returns the severity of a record with the given cat value.
func (c *compiled) sevFor(cat []byte) int {
	for _, k := range c.Categories {
		if equalFold(cat, k.Value) {
			return k.Sev
		}
	}
	return c.Sev
}

// equalFold reports whether b equals s under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
