package qradar

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/qradarsim"
)

// TestRunSearch_FindsEventsFormattedByTheLEEFPackage runs the curated
// searches over events written by the app's own LEEF formatter: the QID
// mappings name them and the custom properties read their keys.
func TestRunSearch_FindsEventsFormattedByTheLEEFPackage(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	h.store.setAccounts(account(1, "Acme", "mimecast-acme"))
	m := h.manager()
	h.reconcile(m)

	at := time.Now().Add(-time.Hour).UTC()
	iso := at.Format("2006-01-02T15:04:05-0700")
	records := []model.Record{
		{Stream: model.StreamSIEM, LogType: model.LogReceipt, Time: at, Raw: []byte(fmt.Sprintf(
			`{"accountId":"C1","action":"Rej","direction":"Inbound","messageId":"<r1@evil.example>","recipients":"alice@acme.example","senderEnvelope":"bad@evil.example","senderIp":"81.2.69.144","subject":"Invoice","timestamp":%d,"type":"receipt","aggregateId":"agg1"}`, at.UnixMilli()))},
		{Stream: model.StreamTTPURL, LogType: model.LogTTPURL, Time: at, Raw: []byte(fmt.Sprintf(
			`{"userEmailAddress":"alice@acme.example","url":"https://evil.example/login","action":"block","category":"Phishing","date":%q,"messageId":"<r2@evil.example>","ttpDefinition":"Default URL policy"}`, iso))},
		{Stream: model.StreamTTPAttachment, LogType: model.LogTTPAttachment, Time: at, Raw: []byte(fmt.Sprintf(
			`{"senderAddress":"bad@evil.example","recipientAddress":"alice@acme.example","fileName":"invoice.pdf","result":"malicious","date":%q,"fileHash":"%s"}`, iso, "ab12"+fmt.Sprintf("%060d", 0)))},
		{Stream: model.StreamAudit, LogType: model.LogAudit, Time: at, Raw: []byte(fmt.Sprintf(
			`{"id":"a1","auditType":"Logon Authentication Failed","category":"authentication_logs","user":"admin@acme.example","eventTime":%q,"eventInfo":"Failed authentication"}`, iso))},
	}
	var f leef.Formatter
	acct := leef.Account{Name: "Acme", LogSourceIdentifier: "mimecast-acme"}
	var data []byte
	for i := range records {
		var err error
		if data, err = f.AppendRecord(data, acct, &records[i]); err != nil {
			t.Fatal(err)
		}
		data = append(data, '\n')
	}
	if err := os.WriteFile(h.events, data, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		search, column, want string
		eventName            string
	}{
		{"rejected-inbound-mail", "Mimecast Sender", "bad@evil.example", "Mimecast Receipt: Message Rejected"},
		{"url-clicks-blocked", "Mimecast URL", "https://evil.example/login", ""},
		{"attachment-detections", "Mimecast File Name", "invoice.pdf", ""},
		{"admin-logins", "Mimecast User", "admin@acme.example", "Mimecast Audit: Administrator Logon Failed"},
	}
	for _, tt := range tests {
		res, err := m.RunSearch(context.Background(), tt.search, 24, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.search, err)
		}
		if len(res.Rows) != 1 {
			t.Errorf("%s: %d rows %v, want 1", tt.search, len(res.Rows), res.Rows)
			continue
		}
		row := res.Rows[0]
		if row[tt.column] != tt.want || row["Mimecast Account"] != "Acme" {
			t.Errorf("%s: row %v, want %s = %s", tt.search, row, tt.column, tt.want)
		}
		if tt.eventName != "" && row["Event Name"] != tt.eventName {
			t.Errorf("%s: event name %v, want %s", tt.search, row["Event Name"], tt.eventName)
		}
	}
}
