package qradar

// Property is a custom event property the reconciler creates
// (regex_properties) with one LEEF expression (property_leef_expressions) per
// LEEF key that carries it. API 1.0 and 2.0 records spell the same attribute
// differently (Mimecast's spelling is kept in LEEF, design §6), so a property
// lists every spelling; QRadar takes the first expression that matches.
type Property struct {
	Name        string // "Mimecast ..." prefixed; names are global in QRadar
	Description string
	// RuleEngine sets use_for_rule_engine: parse at ingest so rules and the
	// reference-set match can use it. It costs ingest time, so only the
	// attributes rules need have it.
	RuleEngine bool
	LEEFKeys   []string
}

// Properties returns the custom properties the curated searches and analysts
// filter on. Every property is a string property.
func Properties() []Property {
	return []Property{
		{Name: "Mimecast Log Type", Description: "Mimecast log type (the LEEF EventID)", RuleEngine: true, LEEFKeys: []string{"mcLogType"}},
		{Name: "Mimecast Account", Description: "Name of the Mimecast account connection in the app", RuleEngine: true, LEEFKeys: []string{"mcAccount"}},
		{Name: "Mimecast Sender", Description: "Envelope sender address", RuleEngine: true,
			LEEFKeys: []string{"senderEnvelope", "Sender", "senderAddress", "fromUserEmailAddress", "sender", "fromEnv_emailAddress", "fromEnv_address", "fromEnv"}},
		{Name: "Mimecast Recipient", Description: "Recipient address(es)", RuleEngine: true,
			LEEFKeys: []string{"recipients", "Rcpt", "recipientAddress", "userEmailAddress", "Recipient", "recipient", "to"}},
		{Name: "Mimecast Subject", Description: "Message subject", LEEFKeys: []string{"subject", "Subject"}},
		{Name: "Mimecast Action", Description: "Action Mimecast took (or release status)", RuleEngine: true,
			LEEFKeys: []string{"action", "Act", "Action", "status"}},
		{Name: "Mimecast Result", Description: "Scan result", LEEFKeys: []string{"result", "scanResult", "scanResults", "ScanResultInfo"}},
		{Name: "Mimecast Policy", Description: "Policy or definition that applied", LEEFKeys: []string{"policy", "policyDefinition", "Definition", "definition", "ttpDefinition"}},
		{Name: "Mimecast URL", Description: "URL found in or clicked from a message", RuleEngine: true, LEEFKeys: []string{"url", "URL", "originalUrl"}},
		{Name: "Mimecast File Hash", Description: "SHA-256 of an attachment", RuleEngine: true, LEEFKeys: []string{"sha256", "fileHash"}},
		{Name: "Mimecast File Name", Description: "Attachment file name", LEEFKeys: []string{"fileName"}},
		{Name: "Mimecast Message ID", Description: "Internet message id", LEEFKeys: []string{"messageId", "MsgId", "msgid"}},
		{Name: "Mimecast Tracking ID", Description: "Mimecast id linking a message's receipt, process and delivery logs", LEEFKeys: []string{"aggregateId", "aCode"}},
		{Name: "Mimecast Direction", Description: "Mail direction or route (Inbound, Outbound, Internal)", LEEFKeys: []string{"direction", "Dir", "route", "Route"}},
		{Name: "Mimecast Category", Description: "Audit category or URL category", LEEFKeys: []string{"category", "urlCategory", "UrlCategory"}},
		{Name: "Mimecast Audit Type", Description: "Audit event type", LEEFKeys: []string{"auditType"}},
		{Name: "Mimecast User", Description: "User who performed an audited action", LEEFKeys: []string{"user"}},
		{Name: "Mimecast Operator", Description: "Administrator who released or rejected a held message", LEEFKeys: []string{"operator_emailAddress", "operator_email", "operator"}},
		{Name: "Mimecast Malware Name", Description: "Name of the malware a threat intel indicator points at (often the attachment's file name)", LEEFKeys: []string{"malware_name"}},
		{Name: "Mimecast Awareness Campaign", Description: "Phishing test campaign of an Awareness Training row", LEEFKeys: []string{"campaignName"}},
	}
}

// ReferenceSetName is the reference set of SHA-256 hashes (threat
// intelligence) the reconciler creates.
const ReferenceSetName = "Mimecast Malware SHA256"
