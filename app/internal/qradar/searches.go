package qradar

import (
	"fmt"
	"strings"
)

// Search is one curated Mimecast search. Its AQL uses only the app's custom
// properties (Properties), standard event fields and LEEF keys the app emits,
// so it works on any console the reconciler set up. QRadar's REST API cannot
// create saved searches: the panel offers the AQL to copy, and an
// administrator who saves it as "Mimecast - <Title>" can have it marked as a
// quick search.
type Search struct {
	Name        string // URL-safe identifier used in /api/searches/{name}/run
	Title       string
	Description string
	Select      string
	Where       string
	OrderBy     string
	Limit       int
	// MessageID marks searches that accept a message_id parameter, which
	// narrows them to one message.
	MessageID bool
}

// Default and maximum time range of a search run, in hours.
const (
	DefaultSearchHours = 24
	MaxSearchHours     = 24 * 30
)

const timeColumn = `DATEFORMAT(devicetime, 'yyyy-MM-dd HH:mm:ss') AS "Event Time"`

// Searches returns the curated searches, in display order. This is the one
// place their AQL lives.
func Searches() []Search {
	return []Search{
		{
			Name:        "rejected-inbound-mail",
			Title:       "Rejected inbound mail",
			Description: "Inbound messages Mimecast rejected at receipt, with the reason.",
			Select:      timeColumn + `, "Mimecast Account", "Mimecast Sender", "Mimecast Recipient", "Mimecast Subject", sourceip AS "Sender IP", QIDNAME(qid) AS "Event Name"`,
			Where:       `"Mimecast Log Type" = 'receipt' AND "Mimecast Action" = 'Rej' AND "Mimecast Direction" ILIKE 'inbound'`,
			OrderBy:     "devicetime DESC",
			Limit:       1000,
		},
		{
			Name:        "url-clicks-blocked",
			Title:       "URL clicks blocked",
			Description: "Clicks on URLs in messages that URL Protect blocked.",
			Select:      timeColumn + `, "Mimecast Account", "Mimecast Recipient", "Mimecast URL", "Mimecast Category", "Mimecast Policy", "Mimecast Subject"`,
			Where:       `"Mimecast Log Type" IN ('ttp_url', 'url_protect') AND "Mimecast Action" ILIKE 'block%'`,
			OrderBy:     "devicetime DESC",
			Limit:       1000,
		},
		{
			Name:        "attachment-detections",
			Title:       "Attachment detections",
			Description: "Viruses found, attachments sandboxed and attachments TTP Attachment Protection did not find safe.",
			Select:      timeColumn + `, "Mimecast Account", "Mimecast Log Type", "Mimecast Sender", "Mimecast Recipient", "Mimecast File Name", "Mimecast File Hash", "Mimecast Result", "Mimecast Subject"`,
			Where:       `"Mimecast Log Type" IN ('av', 'attachment_protect') OR ("Mimecast Log Type" = 'ttp_attachment' AND NOT "Mimecast Result" ILIKE 'safe')`,
			OrderBy:     "devicetime DESC",
			Limit:       1000,
		},
		{
			Name:        "impersonation-hits",
			Title:       "Impersonation hits",
			Description: "Messages Impersonation Protect flagged, with the action it took.",
			Select:      timeColumn + `, "Mimecast Account", "Mimecast Sender", "Mimecast Recipient", "Mimecast Subject", "Mimecast Action", "Mimecast Policy", sourceip AS "Sender IP"`,
			Where:       `"Mimecast Log Type" IN ('impersonation_protect', 'ttp_impersonation')`,
			OrderBy:     "devicetime DESC",
			Limit:       1000,
		},
		{
			Name:        "admin-logins",
			Title:       "Administrator logins and failures",
			Description: "Logins to the Mimecast administration console and API, successful and failed, and Mimecast support access.",
			Select:      timeColumn + `, "Mimecast Account", "Mimecast User", "Mimecast Audit Type", "Mimecast Category", QIDNAME(qid) AS "Event Name"`,
			Where:       `"Mimecast Log Type" = 'audit' AND "Mimecast Category" IN ('authentication_logs', 'mimecast_access_logs')`,
			OrderBy:     "devicetime DESC",
			Limit:       1000,
		},
		{
			Name:        "admin-message-releases",
			Title:       "Message release by administrators",
			Description: "Held messages an administrator released, from the message release log and the audit log.",
			Select:      timeColumn + `, "Mimecast Account", "Mimecast Operator", "Mimecast User", "Mimecast Sender", "Mimecast Recipient", "Mimecast Subject", "Mimecast Policy", "Mimecast Audit Type"`,
			Where:       `("Mimecast Log Type" = 'message_release' AND "Mimecast Action" = 'released') OR ("Mimecast Log Type" = 'audit' AND "Mimecast Audit Type" ILIKE '%release%')`,
			OrderBy:     "devicetime DESC",
			Limit:       1000,
		},
		{
			Name:        "trace-message",
			Title:       "Trace a message",
			Description: "Receipt, process and delivery logs of messages side by side, ordered by message id and time; give a message id to follow one message.",
			Select:      timeColumn + `, "Mimecast Message ID", "Mimecast Log Type", "Mimecast Account", "Mimecast Action", "Mimecast Sender", "Mimecast Recipient", "Mimecast Subject", "Mimecast Tracking ID", QIDNAME(qid) AS "Event Name"`,
			Where:       `"Mimecast Log Type" IN ('receipt', 'process', 'delivery') AND "Mimecast Message ID" IS NOT NULL`,
			OrderBy:     `"Mimecast Message ID" ASC, devicetime ASC`,
			Limit:       1000,
			MessageID:   true,
		},
	}
}

// SearchByName returns the curated search with that name.
func SearchByName(name string) (Search, bool) {
	for _, s := range Searches() {
		if s.Name == name {
			return s, true
		}
	}
	return Search{}, false
}

// AQL returns the query for the last lastHours hours, narrowed to messageID
// when the search takes one and it is not empty. The message id must have
// been checked with ValidMessageID.
func (s Search) AQL(lastHours int, messageID string) string {
	where := s.Where
	if s.MessageID && messageID != "" {
		where = "(" + where + `) AND "Mimecast Message ID" = '` + messageID + "'"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM events WHERE %s", s.Select, where)
	if s.OrderBy != "" {
		b.WriteString(" ORDER BY " + s.OrderBy)
	}
	if s.Limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", s.Limit)
	}
	fmt.Fprintf(&b, " LAST %d HOURS", lastHours)
	return b.String()
}

// ValidMessageID reports why id cannot be put into an AQL string literal, or
// "" when it can. AQL has no documented escape for quotes, so ids with quotes
// or backslashes are refused rather than escaped.
func ValidMessageID(id string) string {
	switch {
	case len(id) > 998:
		return "must be at most 998 characters"
	case strings.ContainsAny(id, `'"\`):
		return "must not contain quotes or backslashes"
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}
