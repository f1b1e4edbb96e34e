package leef

import (
	"testing"

	"mimecast-qradar/app/internal/model"
)

func TestAppendRecord_FurtherStreamsFeedTheAddedKeys(t *testing.T) {
	cases := []struct {
		name    string
		logType string
		stream  model.Stream
		raw     string
		want    map[string]string
		absent  []string
	}{
		// The three held release shapes give the same added keys.
		{"held release, operator a string", model.LogMessageRelease, model.StreamMessageRelease,
			`{"id":"a","status":"released","operator":"admin@example.com","fromEnv":{"displayableName":"X","emailAddress":"x@example.net"}}`,
			map[string]string{"cat": "released", "sev": "4", "usrName": "admin@example.com", "fromEnv_emailAddress": "x@example.net"}, []string{"src"}},
		{"held release, operator {emailAddress}", model.LogMessageRelease, model.StreamMessageRelease,
			`{"id":"b","status":"rejected","operator":{"emailAddress":"admin@example.com"},"fromEnv":{"emailAddress":"x@example.net"}}`,
			map[string]string{"cat": "rejected", "sev": "2", "usrName": "admin@example.com"}, []string{"src"}},
		{"held release, operator {email}", model.LogMessageRelease, model.StreamMessageRelease,
			`{"id":"c","status":"released","operator":{"email":"admin@example.com"},"fromEnv":{"address":"x@example.net","domain":"example.net"}}`,
			map[string]string{"cat": "released", "sev": "4", "usrName": "admin@example.com", "fromEnv_address": "x@example.net"}, nil},
		{"held release without status", model.LogMessageRelease, model.StreamMessageRelease, `{"id":"d"}`,
			map[string]string{"cat": "message_release", "sev": "3"}, []string{"usrName"}},
		{"archive search by the system", model.LogArchiveSearch, model.StreamArchiveSearch,
			`{"createTime":"2024-11-12T16:21:27+0000","emailAddr":"<>","description":"Audit [Page 1] - Depth 100"}`,
			map[string]string{"cat": "archive_search", "sev": "2", "usrName": "<>"}, nil},
		{"grid indicator", model.LogThreatIntelMalware, model.StreamThreatIntelGrid,
			`{"type":"indicator","id":"indicator--1","sha256":"ab","feed_type":"malware_grid"}`,
			map[string]string{"cat": "malware_grid", "sev": "4", "mcStream": "threat_intel_grid"}, []string{"usrName"}},
		{"Cloud Integrated entity with malware", model.LogCIEntities, model.StreamSIEMCI,
			`{"threatType":"MALWARE","senderIp":"81.2.69.144","senderEnvelope":"","senderHeader":"h@example.net","recipients":["r@example.com"]}`,
			map[string]string{"cat": "MALWARE", "sev": "8", "src": "81.2.69.144", "usrName": "h@example.net"}, nil},
		{"Cloud Integrated entity of an unknown threat type", model.LogCIEntities, model.StreamSIEMCI,
			`{"threatType":"IMPERSONATION"}`, map[string]string{"cat": "IMPERSONATION", "sev": "5"}, nil},
		{"Cloud Integrated URL click", model.LogCIURLClick, model.StreamSIEMCI,
			`{"action":"BLOCK","sourceIp":"2001:db8::5"}`, map[string]string{"cat": "BLOCK", "sev": "7", "src": "2001:db8::5"}, nil},
		{"risk grade F", model.LogAwarenessSafeScore, model.StreamAwarenessTraining,
			`{"emailAddress":"u@example.com","risk":"F"}`, map[string]string{"cat": "F", "sev": "7", "usrName": "u@example.com"}, nil},
		{"phishing test clicked", model.LogAwarenessPhishing, model.StreamAwarenessTraining,
			`{"email":"u@example.com","status":"clicked","clickedIp":"81.2.69.144","campaignId":"CMP1"}`,
			map[string]string{"cat": "clicked", "sev": "6", "src": "81.2.69.144", "usrName": "u@example.com"}, nil},
		{"phishing test without a click", model.LogAwarenessPhishing, model.StreamAwarenessTraining,
			`{"email":"u@example.com","status":"sent","clickedIp":null}`,
			map[string]string{"cat": "sent", "sev": "1", "clickedIp": ""}, []string{"src"}},
		{"a field named like an added key is renamed", model.LogMessageRelease, model.StreamMessageRelease,
			`{"id":"e","mcTimeSource":"x"}`, map[string]string{"mc_mcTimeSource": "x"}, nil},
	}
	f := newFormatter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := model.Record{Stream: tc.stream, LogType: tc.logType, Raw: []byte(tc.raw), Time: collectedAt}
			out, err := f.AppendRecord(nil, testAccount, &rec)
			if err != nil {
				t.Fatal(err)
			}
			ev := checkEvent(t, string(out), testAccount, rec, testVersion)
			for k, v := range tc.want {
				if got, ok := ev.Attrs[k]; !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			// The record's own time is used: nothing to say about it.
			for _, k := range append(tc.absent, "mcTimeSource") {
				if v, ok := ev.Attrs[k]; ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
		})
	}
}

func TestAppendRecord_RecordsWithoutTimeGetTheCollectionTime(t *testing.T) {
	cases := []struct {
		name, logType string
		stream        model.Stream
		raw           string
	}{
		{"held release without released", model.LogMessageRelease, model.StreamMessageRelease, `{"id":"x","status":"released"}`},
		{"awareness snapshot row", model.LogAwarenessWatchlist, model.StreamAwarenessTraining, `{"email":"u@example.com","watchlistCount":2}`},
	}
	f := newFormatter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := model.Record{Stream: tc.stream, LogType: tc.logType, Raw: []byte(tc.raw)}
			out, err := f.AppendRecord(nil, testAccount, &rec)
			if err != nil {
				t.Fatal(err)
			}
			ev := checkEvent(t, string(out), testAccount, rec, testVersion)
			if want := "2026-11-22T10:00:00.000+0000"; ev.Attrs["devTime"] != want {
				t.Errorf("devTime = %q, want the collection time %s", ev.Attrs["devTime"], want)
			}
			if ev.Attrs["mcTimeSource"] != "collected" {
				t.Errorf("mcTimeSource = %q, want collected", ev.Attrs["mcTimeSource"])
			}
		})
	}
}
