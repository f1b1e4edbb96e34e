package web

import (
	"encoding/json"
	"strings"
	"testing"

	"mimecast-qradar/app/internal/model"
)

// FuzzAccountInput feeds arbitrary request bodies through the same steps as
// POST /api/accounts (body checks, member decoding, merge, validation). It
// must never panic, an accepted account must satisfy every rule of design
// §5, and no problem message may echo a secret it was given.
func FuzzAccountInput(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Acme EU","api_version":"2.0","base_url":"https://api.services.mimecast.com","client_id":"id","client_secret":"s3cret","streams":["siem","audit"],"schedule":"*/15 * * * *"}`,
		`{"name":"Legacy","api_version":"1.0","base_url":"https://eu-api.mimecast.com","app_id":"a","app_key":"k","access_key":"ak","secret_key":"c2s=","streams":["dlp"]}`,
		`{"name":"","streams":["nope"],"schedule":"* * *","initial_lookback_hours":0}`,
		`{"name":"x","streams":"siem","enabled":"yes","initial_lookback_hours":1e9}`,
		`{"name":"\u0000","base_url":"http://169.254.169.254","client_secret":"topsecret"}`,
		`[[[[[[[[[[[]]]]]]]]]]]`, `{}`, `null`, `"str"`, `{"name":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkJSON(body) != nil {
			return
		}
		var members map[string]json.RawMessage
		if json.Unmarshal(body, &members) != nil || members == nil {
			return
		}
		a := newAccountDefaults()
		fe := fieldErrors{}
		applyAccountInput(&a, members, fe)
		validateAccount(&a, nil, fe)

		for _, field := range model.SecretFields {
			raw, ok := members[field]
			var secret string
			if !ok || json.Unmarshal(raw, &secret) != nil || len(strings.TrimSpace(secret)) < 4 {
				continue
			}
			if echoedElsewhere(members, field, strings.TrimSpace(secret)) {
				continue // the same text was also given as a non-secret value
			}
			for k, msg := range fe {
				if strings.Contains(msg, strings.TrimSpace(secret)) {
					t.Fatalf("problem for %s echoes the %s: %q", k, field, msg)
				}
			}
		}
		if len(fe) > 0 {
			return
		}
		// Accepted: every rule holds.
		if a.Name == "" || a.LogSourceIdentifier == "" || len(a.Streams) == 0 || a.BaseURL == "" {
			t.Fatalf("accepted an incomplete account: %+v", a)
		}
		for _, s := range a.Streams {
			if !s.IsSupported() {
				t.Fatalf("accepted unknown stream %q", s)
			}
		}
		if validateSchedule(a.Schedule) != nil || a.InitialLookbackHours < 1 || a.InitialLookbackHours > maxLookbackHours {
			t.Fatalf("accepted schedule %q / lookback %d", a.Schedule, a.InitialLookbackHours)
		}
		switch a.APIVersion {
		case model.APIVersion2:
			if a.ClientID == "" || a.ClientSecret == "" {
				t.Fatal("accepted API 2.0 without client credentials")
			}
		case model.APIVersion1:
			if a.AppID == "" || a.AppKey == "" || a.AccessKey == "" || a.SecretKey == "" {
				t.Fatal("accepted API 1.0 without its four keys")
			}
		default:
			t.Fatalf("accepted api_version %q", a.APIVersion)
		}
	})
}

// echoedElsewhere reports whether text also appears in a member other than
// the secret field itself.
func echoedElsewhere(members map[string]json.RawMessage, field, text string) bool {
	for k, raw := range members {
		if k != field && strings.Contains(string(raw), text) {
			return true
		}
	}
	return false
}
