package qradar

import "mimecast-qradar/app/internal/model"

// Event names one LEEF EventID/cat pair the app emits (design §6): the
// reconciler creates a QID record and a DSM event mapping for each.
//
// This is the one table of event names, categories and severities in the
// repository. Its cat values must match the `cat` values the leef package
// emits (the record's action or category, else the log type); QRadar maps
// EventID and cat literally, so a cat missing here lands as an unknown event.
// QID records cannot be deleted from QRadar: add rows with care, and never
// rename one (a renamed row creates a second record).
type Event struct {
	EventID     string // LEEF EventID: the log type
	Cat         string // LEEF cat value
	Name        string // QID record name, unique, "Mimecast ..." prefixed
	Description string
	Severity    int // 0-10, QRadar's QID severity
	// Categories are low-level category names, best first; the first one the
	// console knows is used (ids are looked up at run time, never hard-coded).
	Categories []string
}

// Low-level category choices. Each list ends in "General Audit Event"
// (19001, verified in QRadar's API docs) so that every console has a match.
var (
	catMailInfo     = []string{"Information", "General Audit Event"}
	catMailPolicy   = []string{"Mail Policy Violation", "Misc Policy Violation", "General Audit Event"}
	catMalware      = []string{"Virus Detected", "Misc Malware", "Mail Policy Violation", "General Audit Event"}
	catPhishing     = []string{"Phishing", "Potential Mail Exploit", "Mail Policy Violation", "General Audit Event"}
	catSpam         = []string{"Spam", "Mail Policy Violation", "General Audit Event"}
	catDataLeak     = []string{"Data Loss Prevention Policy Violation", "Mail Policy Violation", "General Audit Event"}
	catLoginOK      = []string{"User Login Success", "Mail Service Login Succeeded", "General Audit Event"}
	catLoginFailed  = []string{"User Login Failure", "Mail Service Login Failed", "General Audit Event"}
	catAccount      = []string{"User Account Changed", "General Audit Event"}
	catAudit        = []string{"General Audit Event"}
	catHealthOK     = []string{"Information", "General Audit Event"}
	catHealthFailed = []string{"System Failure", "System Error", "General Audit Event"}
)

func ev(eventID, cat, name, desc string, sev int, cats []string) Event {
	return Event{EventID: eventID, Cat: cat, Name: name, Description: desc, Severity: sev, Categories: cats}
}

// Events returns every EventID/cat pair the app maps, in a stable order.
//
// The cat values and severities follow the leef package's log type table
// (leef.Mapping: its Categories, and its Sev for the row whose cat is the log
// type, used when a record has no cat field); TestEvents_CoverEveryCatTheLEEFFormatterEmits
// checks the two tables agree. A record whose cat field holds a value not
// listed there reaches QRadar as an unknown event of the app's type.
func Events() []Event {
	return []Event{
		// receipt: cat = action (2.0) / Act (1.0).
		ev(model.LogReceipt, "Acc", "Mimecast Receipt: Message Accepted", "Mimecast accepted a message at receipt", 1, catMailInfo),
		ev(model.LogReceipt, "Rej", "Mimecast Receipt: Message Rejected", "Mimecast rejected a message at receipt (policy, reputation, spam or virus)", 5, catMailPolicy),
		ev(model.LogReceipt, "Bnc", "Mimecast Receipt: Message Bounced", "Mimecast bounced a message at receipt", 4, catMailPolicy),
		ev(model.LogReceipt, "Ign", "Mimecast Receipt: Message Ignored", "Mimecast ignored a message at receipt", 3, catMailPolicy),
		ev(model.LogReceipt, model.LogReceipt, "Mimecast Receipt: Message Received", "Mimecast receipt log without an action", 3, catMailInfo),
		// process: cat = action / Act.
		ev(model.LogProcess, "Acc", "Mimecast Process: Message Accepted", "Mimecast processed a message and accepted it for delivery", 1, catMailInfo),
		ev(model.LogProcess, "Hld", "Mimecast Process: Message Held", "Mimecast held a message for review (see holdReason)", 5, catMailPolicy),
		ev(model.LogProcess, "Sdbx", "Mimecast Process: Message Sandboxed", "Mimecast sent a message's attachments to the sandbox", 4, catMalware),
		ev(model.LogProcess, "Bnc", "Mimecast Process: Message Bounced", "Mimecast bounced a message during processing", 4, catMailPolicy),
		ev(model.LogProcess, "Rty", "Mimecast Process: Processing Retried", "Mimecast will retry processing a message", 3, catMailInfo),
		ev(model.LogProcess, model.LogProcess, "Mimecast Process: Message Processed", "Mimecast process log without an action", 2, catMailInfo),
		// delivery: cat = delivered / Delivered.
		ev(model.LogDelivery, "true", "Mimecast Delivery: Message Delivered", "Mimecast delivered a message", 1, catMailInfo),
		ev(model.LogDelivery, "false", "Mimecast Delivery: Delivery Failed", "A delivery attempt failed (see the rejection and error fields)", 4, catMailPolicy),
		ev(model.LogDelivery, model.LogDelivery, "Mimecast Delivery: Delivery Attempt", "Mimecast delivery log without an outcome", 2, catMailInfo),
		ev(model.LogJournal, model.LogJournal, "Mimecast Journal: Message Journaled", "Mimecast journaled a message", 1, catMailInfo),
		ev(model.LogAV, model.LogAV, "Mimecast AV: Virus Detected", "Mimecast anti-virus found a virus in a message", 8, catMalware),
		ev(model.LogSpam, model.LogSpam, "Mimecast Spam: Spam Detected", "Mimecast spam scanning detected spam", 5, catSpam),
		// internal_email_protect: cat = scanResults / ScanResultInfo.
		ev(model.LogInternalEmailProt, "Blocked URL Category", "Mimecast Internal Email Protect: Blocked URL Category", "An internal message carried a URL of a blocked category", 6, catPhishing),
		ev(model.LogInternalEmailProt, model.LogInternalEmailProt, "Mimecast Internal Email Protect: Detection", "Internal Email Protect log without a scan result", 6, catPhishing),
		// impersonation_protect: cat = action / Action.
		ev(model.LogImpersonationProt, "Hold", "Mimecast Impersonation Protect: Message Held", "Impersonation Protect held a suspected impersonation", 7, catPhishing),
		ev(model.LogImpersonationProt, "None", "Mimecast Impersonation Protect: Detected, No Action", "Impersonation Protect detected a suspected impersonation and took no action", 6, catPhishing),
		ev(model.LogImpersonationProt, model.LogImpersonationProt, "Mimecast Impersonation Protect: Detection", "Impersonation Protect log without an action", 6, catPhishing),
		// url_protect: cat = action / reason.
		ev(model.LogURLProtect, "Block", "Mimecast URL Protect: URL Blocked", "URL Protect blocked a URL", 7, catPhishing),
		ev(model.LogURLProtect, "Warn", "Mimecast URL Protect: URL Warning", "URL Protect warned the user about a URL", 5, catPhishing),
		ev(model.LogURLProtect, "Allow", "Mimecast URL Protect: URL Allowed", "URL Protect allowed a URL", 2, catMailInfo),
		ev(model.LogURLProtect, "malicious", "Mimecast URL Protect: Malicious URL", "URL Protect found a malicious URL", 8, catPhishing),
		ev(model.LogURLProtect, model.LogURLProtect, "Mimecast URL Protect: URL Scanned", "URL Protect log without an action", 6, catPhishing),
		ev(model.LogAttachmentProtect, model.LogAttachmentProtect, "Mimecast Attachment Protect: Attachment Sandboxed", "Attachment Protect sandboxed an attachment", 7, catMalware),
		// audit: cat = auditType, else category.
		ev(model.LogAudit, "User Logged On", "Mimecast Audit: Administrator Logged On", "A user logged on to the Mimecast administration console or API", 3, catLoginOK),
		ev(model.LogAudit, "Logon Authentication Failed", "Mimecast Audit: Administrator Logon Failed", "A logon to the Mimecast administration console or API failed", 6, catLoginFailed),
		ev(model.LogAudit, "Mimecast Support Login", "Mimecast Audit: Mimecast Support Logged On", "Mimecast support staff logged on to the account", 5, catLoginOK),
		ev(model.LogAudit, "User Password Changed", "Mimecast Audit: User Password Changed", "A Mimecast user's password was changed", 4, catAccount),
		ev(model.LogAudit, "Completed Directory Sync", "Mimecast Audit: Directory Sync Completed", "Mimecast completed a directory synchronisation", 1, catAudit),
		ev(model.LogAudit, "Threat Intel Feed Download", "Mimecast Audit: Threat Intel Feed Downloaded", "A threat intelligence feed was downloaded", 1, catAudit),
		ev(model.LogAudit, model.LogAudit, "Mimecast Audit: Event", "Mimecast audit log without a type or category", 2, catAudit),
		// ttp_url: cat = action (lower case in the TTP URL log).
		ev(model.LogTTPURL, "allow", "Mimecast TTP URL: Click Allowed", "A user's click on a URL was allowed", 2, catMailInfo),
		ev(model.LogTTPURL, "warn", "Mimecast TTP URL: Click Warned", "A user was warned before following a URL", 5, catPhishing),
		ev(model.LogTTPURL, "block", "Mimecast TTP URL: Click Blocked", "A user's click on a URL was blocked", 7, catPhishing),
		ev(model.LogTTPURL, model.LogTTPURL, "Mimecast TTP URL: Click", "TTP URL click log without an action", 3, catPhishing),
		// ttp_attachment: cat = result.
		ev(model.LogTTPAttachment, "safe", "Mimecast TTP Attachment: Attachment Safe", "TTP Attachment Protection found an attachment safe", 2, catMailInfo),
		ev(model.LogTTPAttachment, "malicious", "Mimecast TTP Attachment: Malicious Attachment", "TTP Attachment Protection found a malicious attachment", 8, catMalware),
		ev(model.LogTTPAttachment, model.LogTTPAttachment, "Mimecast TTP Attachment: Attachment Scanned", "TTP Attachment Protection log without a result", 4, catMalware),
		// ttp_impersonation: cat = action.
		ev(model.LogTTPImpersonation, "none", "Mimecast TTP Impersonation: Detected, No Action", "Impersonation Protection detected a message and took no action", 4, catPhishing),
		ev(model.LogTTPImpersonation, "hold", "Mimecast TTP Impersonation: Message Held", "Impersonation Protection held a message", 7, catPhishing),
		ev(model.LogTTPImpersonation, model.LogTTPImpersonation, "Mimecast TTP Impersonation: Detection", "Impersonation Protection log without an action", 5, catPhishing),
		// dlp: cat = action.
		ev(model.LogDLP, "notification", "Mimecast DLP: Policy Notification", "A data leak prevention policy sent a notification", 4, catDataLeak),
		ev(model.LogDLP, "hold", "Mimecast DLP: Message Held", "A data leak prevention policy held a message", 6, catDataLeak),
		ev(model.LogDLP, model.LogDLP, "Mimecast DLP: Policy Triggered", "DLP log without an action", 5, catDataLeak),
		// message_release: cat = status. The row whose cat is the log type
		// predates the status rows; its name stays (QIDs are never renamed).
		ev(LogMessageRelease, LogMessageRelease, "Mimecast Message Release: Held Message Reviewed", "An administrator released or rejected a held message (see status)", 3, catAudit),
		ev(model.LogMessageRelease, "released", "Mimecast Message Release: Held Message Released", "An administrator released a held message to its recipients", 4, catMailPolicy),
		ev(model.LogMessageRelease, "rejected", "Mimecast Message Release: Held Message Rejected", "An administrator (or housekeeping) rejected a held message", 2, catAudit),
		// archive_search: no cat field (description is free text).
		ev(model.LogArchiveSearch, model.LogArchiveSearch, "Mimecast Archive: Archive Searched", "A user or the system searched the email archive (see description and searchText)", 2, catAudit),
		// threat_intel_malware: cat = feed_type; one event per indicator.
		ev(model.LogThreatIntelMalware, "malware_customer", "Mimecast Threat Intel: Malware in Account Mail", "Mimecast found a malicious file (SHA-256 in sha256) in the account's own mail", 6, catMalware),
		ev(model.LogThreatIntelMalware, "malware_grid", "Mimecast Threat Intel: Malware in Regional Grid", "Mimecast found a malicious file (SHA-256 in sha256) in its customers' mail in the region", 4, catMalware),
		ev(model.LogThreatIntelMalware, model.LogThreatIntelMalware, "Mimecast Threat Intel: Malware Indicator", "Threat intel indicator without a feed type", 5, catMalware),
		// ci_entities: cat = threatType.
		ev(model.LogCIEntities, "NO_DETECTIONS", "Mimecast Cloud Integrated: Message Clean", "Mimecast Cloud Integrated scanned a message and found no threat", 1, catMailInfo),
		ev(model.LogCIEntities, "MALWARE", "Mimecast Cloud Integrated: Malware Detected", "Mimecast Cloud Integrated found malware in a message", 8, catMalware),
		ev(model.LogCIEntities, "PHISHING", "Mimecast Cloud Integrated: Phishing Detected", "Mimecast Cloud Integrated found a phishing message", 7, catPhishing),
		ev(model.LogCIEntities, "SPAM", "Mimecast Cloud Integrated: Spam Detected", "Mimecast Cloud Integrated found spam", 4, catSpam),
		ev(model.LogCIEntities, "POLICIES_DISABLED", "Mimecast Cloud Integrated: Policies Disabled", "Mimecast Cloud Integrated did not scan a message: its policies are disabled", 2, catMailInfo),
		ev(model.LogCIEntities, model.LogCIEntities, "Mimecast Cloud Integrated: Message Scanned", "Mimecast Cloud Integrated message log with another threat type", 5, catMailPolicy),
		ev(model.LogCIMailflow, model.LogCIMailflow, "Mimecast Cloud Integrated: Mail Flow", "SPF, DKIM and DMARC results of a message (see authResults)", 1, catMailInfo),
		// ci_urlclick: cat = action (blocked clicks only).
		ev(model.LogCIURLClick, "BLOCK", "Mimecast Cloud Integrated: URL Click Blocked", "Mimecast Cloud Integrated blocked a click on a URL", 7, catPhishing),
		ev(model.LogCIURLClick, model.LogCIURLClick, "Mimecast Cloud Integrated: URL Click", "Mimecast Cloud Integrated URL click without an action", 6, catPhishing),
		// Awareness Training rows (changed snapshot rows, not events).
		ev(model.LogAwarenessSafeScore, "A", "Mimecast Awareness: Risk Grade A", "A user's awareness training risk grade is now A (lowest risk)", 1, catAudit),
		ev(model.LogAwarenessSafeScore, "B", "Mimecast Awareness: Risk Grade B", "A user's awareness training risk grade is now B", 2, catAudit),
		ev(model.LogAwarenessSafeScore, "C", "Mimecast Awareness: Risk Grade C", "A user's awareness training risk grade is now C", 4, catAudit),
		ev(model.LogAwarenessSafeScore, "D", "Mimecast Awareness: Risk Grade D", "A user's awareness training risk grade is now D", 6, catAudit),
		ev(model.LogAwarenessSafeScore, "F", "Mimecast Awareness: Risk Grade F", "A user's awareness training risk grade is now F (highest risk)", 7, catAudit),
		ev(model.LogAwarenessSafeScore, model.LogAwarenessSafeScore, "Mimecast Awareness: Safe Score Changed", "A user's awareness training safe score changed", 3, catAudit),
		ev(model.LogAwarenessPerf, model.LogAwarenessPerf, "Mimecast Awareness: Training Performance Changed", "A user's training results changed (see numCorrect, numIncorrect)", 1, catAudit),
		ev(model.LogAwarenessWatchlist, model.LogAwarenessWatchlist, "Mimecast Awareness: Watchlist Changed", "A user's watchlist count changed (see watchlistCount)", 4, catAudit),
		// awareness_phishing_user: cat = status.
		ev(model.LogAwarenessPhishing, "sent", "Mimecast Awareness: Phishing Test Sent", "A phishing test message was sent to a user", 1, catAudit),
		ev(model.LogAwarenessPhishing, "opened", "Mimecast Awareness: Phishing Test Opened", "A user opened a phishing test message", 2, catAudit),
		ev(model.LogAwarenessPhishing, "clicked", "Mimecast Awareness: Phishing Test Clicked", "A user clicked the link of a phishing test message", 6, catPhishing),
		ev(model.LogAwarenessPhishing, "reported", "Mimecast Awareness: Phishing Test Reported", "A user reported a phishing test message", 1, catAudit),
		ev(model.LogAwarenessPhishing, "submitted", "Mimecast Awareness: Phishing Test Data Submitted", "A user submitted data to a phishing test page", 7, catPhishing),
		ev(model.LogAwarenessPhishing, model.LogAwarenessPhishing, "Mimecast Awareness: Phishing Test Status Changed", "A user's phishing test status changed", 3, catAudit),
		// The app's own health events: cat = the run's outcome.
		ev(model.LogCollectorHealth, "ok", "Mimecast Collector: Run Succeeded", "The Mimecast app collected one account and stream successfully", 1, catHealthOK),
		ev(model.LogCollectorHealth, "error", "Mimecast Collector: Run Failed", "The Mimecast app failed to collect one account and stream (see mcError)", 7, catHealthFailed),
	}
}

// LogMessageRelease is the EventID of held-release logs (stream
// message_release), the same as model.LogMessageRelease; the table above
// was written before model had the constant.
const LogMessageRelease = model.LogMessageRelease
