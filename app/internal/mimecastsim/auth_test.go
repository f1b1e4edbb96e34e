package mimecastsim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
)

// TestSignature_MatchesReferenceTestVector uses the worked example of
// reference §1.3 both through the exported helper and over HTTP.
func TestSignature_MatchesReferenceTestVector(t *testing.T) {
	const (
		date = "Sun, 21 Aug 2022 13:49:40 UTC"
		id   = "3d796b76-4180-40e5-8f7c-6e0fd643b1a9"
		path = "/api/test/some-url"
		want = "WOywLsnZlsE+D6bp/ug6uch5kxc="
	)
	got, err := mimecastsim.Signature("U2VjcmV0S2V5", date, id, path, "ApplicationKey")
	if err != nil || got != want {
		t.Fatalf("Signature = %q, %v; want %q", got, err, want)
	}
	if got := sign("U2VjcmV0S2V5", date, id, path, "ApplicationKey"); got != want {
		t.Fatalf("the test's own signing gives %q, want %q", got, want)
	}

	e := newEnv(t, mimecastsim.Options{})
	e.sim.AddAccount(mimecastsim.Account{Name: "Vector", AppID: "app", AppKey: "ApplicationKey", AccessKey: "AccessKey", SecretKey: "U2VjcmV0S2V5"})
	for _, tc := range []struct {
		name       string
		auth       string
		wantStatus int
		wantCode   string
	}{
		{"vector signature authenticates (then the path is unknown)", "MC AccessKey:" + want, http.StatusNotFound, "err_resource_not_found"},
		{"altered signature is refused", "MC AccessKey:X" + want[1:], http.StatusUnauthorized, "err_xdk_invalid_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(`{"data":[]}`))
			req.Header.Set("x-mc-date", date)
			req.Header.Set("x-mc-req-id", id)
			req.Header.Set("x-mc-app-id", "app")
			req.Header.Set("Authorization", tc.auth)
			resp := e.do(t, req)
			var env envelope
			decode(t, resp, &env)
			if resp.StatusCode != tc.wantStatus || env.failCode() != tc.wantCode || env.Meta.Status != tc.wantStatus {
				t.Errorf("got HTTP %d meta.status %d code %q; want %d %q", resp.StatusCode, env.Meta.Status, env.failCode(), tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func TestHMAC_RejectsBadRequestsWithTheV1Envelope(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	expired := acme
	expired.Name, expired.AccessKey = "Expired", "expired-access-key"
	expired.BindingExpired = true
	e.sim.AddAccount(expired)
	const path = "/api/audit/get-audit-events"
	for _, tc := range []struct {
		name       string
		edit       func(*http.Request)
		wantStatus int
		wantCode   string
	}{
		{"valid", func(*http.Request) {}, http.StatusOK, ""},
		{"signature over another path", func(r *http.Request) {
			r.Header.Set("Authorization", "MC "+acme.AccessKey+":"+sign(acme.SecretKey, r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id"), "/api/ttp/url/get-logs", acme.AppKey))
		}, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"signed with another account's secret", func(r *http.Request) {
			r.Header.Set("Authorization", "MC "+acme.AccessKey+":"+sign(globex.SecretKey, r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id"), path, acme.AppKey))
		}, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"x-mc-date changed after signing", func(r *http.Request) { r.Header.Set("x-mc-date", "Mon, 23 Nov 2026 10:00:00 UTC") },
			http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"missing x-mc-req-id", func(r *http.Request) { r.Header.Del("x-mc-req-id") }, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"unknown access key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), acme.AccessKey, "nobody", 1))
		}, http.StatusUnauthorized, "err_xdk_invalid_signature"},
		{"wrong application id", func(r *http.Request) { r.Header.Set("x-mc-app-id", globex.AppID) }, http.StatusUnauthorized, "err_developer_key"},
		{"no Authorization header", func(r *http.Request) { r.Header.Del("Authorization") }, http.StatusUnauthorized, "err_xdk_invalid_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := e.signedReq(t, acme, path, map[string]any{"data": []any{map[string]string{"startDateTime": "2026-11-22T00:00:00+0000", "endDateTime": "2026-11-22T10:00:00+0000"}}})
			tc.edit(req)
			resp := e.do(t, req)
			var env envelope
			decode(t, resp, &env)
			if resp.StatusCode != tc.wantStatus || env.failCode() != tc.wantCode {
				t.Errorf("got HTTP %d code %q; want %d %q", resp.StatusCode, env.failCode(), tc.wantStatus, tc.wantCode)
			}
		})
	}
	t.Run("expired binding answers 418", func(t *testing.T) {
		resp := e.signed(t, expired, path, nil)
		var env envelope
		decode(t, resp, &env)
		if resp.StatusCode != http.StatusTeapot || env.failCode() != "err_xdk_binding_expired" {
			t.Errorf("got HTTP %d %q, want 418 err_xdk_binding_expired", resp.StatusCode, env.failCode())
		}
	})
}

func TestHMAC_ClockSkewIsCheckedWhenConfigured(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{MaxClockSkew: 15 * time.Minute})
	body := map[string]any{"data": []any{map[string]string{"startDateTime": "2026-11-22T00:00:00+0000", "endDateTime": "2026-11-22T10:00:00+0000"}}}
	if resp := e.signed(t, acme, "/api/audit/get-audit-events", body); resp.StatusCode != http.StatusOK {
		t.Fatalf("current date: HTTP %d", resp.StatusCode)
	}
	req := e.signedReq(t, acme, "/api/audit/get-audit-events", body)
	e.clock.Advance(time.Hour) // the request now carries an hour-old date
	if resp := e.do(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("hour-old date: HTTP %d, want 401", resp.StatusCode)
	}
}

func TestOAuthToken(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	form := func(id, secret, grant string) url.Values {
		return url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {grant}}
	}
	t.Run("valid credentials get a 1799 s Bearer token", func(t *testing.T) {
		resp := e.tokenResp(t, form(acme.ClientID, acme.ClientSecret, "client_credentials"))
		var body map[string]any
		decode(t, resp, &body)
		if resp.StatusCode != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != float64(1799) ||
			body["access_token"] == "" || body["scope"] != "" {
			t.Errorf("HTTP %d %v", resp.StatusCode, body)
		}
	})
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantCode   string
	}{
		{"wrong secret", form(acme.ClientID, globex.ClientSecret, "client_credentials"), http.StatusUnauthorized, "InvalidClientIdentifier"},
		{"unknown client", form("nobody", "x", "client_credentials"), http.StatusUnauthorized, "InvalidClientIdentifier"},
		{"wrong grant type", form(acme.ClientID, acme.ClientSecret, "password"), http.StatusBadRequest, "UnsupportedGrantType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.tokenResp(t, tc.form)
			var body v2Fail
			decode(t, resp, &body)
			if resp.StatusCode != tc.wantStatus || len(body.Fail) != 1 || body.Fail[0].Code != tc.wantCode {
				t.Errorf("got HTTP %d %+v, want %d %s", resp.StatusCode, body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	t.Run("JSON body is refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token",
			strings.NewReader(`{"client_id":"acme-client","client_secret":"acme-client-secret","grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		if resp := e.do(t, req); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("HTTP %d, want 400", resp.StatusCode)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/oauth/token", nil)
		if resp := e.do(t, req); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("HTTP %d, want 405", resp.StatusCode)
		}
	})
}

func TestBearer_TokenLifetimeAndScope(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", "audit", 10)
	e.sim.Generate("Globex", "audit", 3)
	tok := e.token(t, acme)
	audit := func() (*http.Response, envelope) {
		resp := e.bearer(t, tok, http.MethodPost, "/api/audit/get-audit-events",
			map[string]any{"data": []any{map[string]string{"startDateTime": "2026-11-01T00:00:00Z", "endDateTime": "2026-11-22T10:00:00Z"}}})
		var env envelope
		if resp.StatusCode == http.StatusOK {
			decode(t, resp, &env)
		}
		return resp, env
	}
	resp, env := audit()
	if resp.StatusCode != http.StatusOK || len(env.Data) != 10 {
		t.Fatalf("fresh token: HTTP %d, %d records; want 200 with Acme's 10", resp.StatusCode, len(env.Data))
	}
	e.clock.Advance(1798 * time.Second)
	if resp, _ := audit(); resp.StatusCode != http.StatusOK {
		t.Fatalf("token at 1798 s: HTTP %d, want 200", resp.StatusCode)
	}
	e.clock.Advance(2 * time.Second)
	resp, _ = audit()
	var body v2Fail
	decode(t, resp, &body)
	if resp.StatusCode != http.StatusUnauthorized || len(body.Fail) == 0 {
		t.Errorf("token at 1800 s: HTTP %d %+v, want 401 with fail[]", resp.StatusCode, body)
	}
	if resp := e.bearer(t, "made-up", http.MethodGet, "/siem/v1/batch/events/cg", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: HTTP %d, want 401", resp.StatusCode)
	}
}

func TestSIEMEndpointsRefuseHMAC(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	req := e.signedReq(t, acme, "/siem/v1/batch/events/cg", nil)
	req.Method = http.MethodGet
	if resp := e.do(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HMAC on /siem/: HTTP %d, want 401", resp.StatusCode)
	}
}

func TestForbiddenPrefixesAnswer403InEachGenerationsShape(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	limited := acme
	limited.Forbidden = []string{"/api/dlp/", "/siem/"}
	e.sim.AddAccount(limited) // same name: updates Acme
	tok := e.token(t, acme)

	resp := e.bearer(t, tok, http.MethodPost, "/api/dlp/get-logs", nil)
	var b2 v2Fail
	decode(t, resp, &b2)
	if resp.StatusCode != http.StatusForbidden || len(b2.Fail) == 0 || b2.Fail[0].Code != "app_forbidden" {
		t.Errorf("2.0: HTTP %d %+v, want 403 app_forbidden", resp.StatusCode, b2)
	}
	if _, resp := e.batch(t, tok, url.Values{"type": {"receipt"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("2.0 batch: HTTP %d, want 403", resp.StatusCode)
	}
	resp = e.signed(t, acme, "/api/dlp/get-logs", nil)
	var b1 envelope
	decode(t, resp, &b1)
	if resp.StatusCode != http.StatusForbidden || b1.failCode() != "app_forbidden" {
		t.Errorf("1.0: HTTP %d %q, want 403 app_forbidden", resp.StatusCode, b1.failCode())
	}
	if resp := e.bearer(t, tok, http.MethodPost, "/api/ttp/url/get-logs", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("allowed path: HTTP %d, want 200", resp.StatusCode)
	}
}

func TestDiscoverAuthenticationPointsBackAtTheSimulator(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/login/discover-authentication",
		strings.NewReader(`{"data":[{"emailAddress":"admin@acme.example.com"}]}`))
	req.Header.Set("x-mc-app-id", acme.AppID)
	resp := e.do(t, req)
	var body struct {
		Data []struct {
			Region struct {
				API string `json:"api"`
			} `json:"region"`
		} `json:"data"`
	}
	decode(t, resp, &body)
	if resp.StatusCode != http.StatusOK || len(body.Data) != 1 || body.Data[0].Region.API != e.srv.URL {
		t.Errorf("HTTP %d %+v, want data[0].region.api = %s", resp.StatusCode, body, e.srv.URL)
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/api/login/discover-authentication", strings.NewReader(`{"data":[{}]}`))
	var env envelope
	decode(t, e.do(t, req), &env)
	if env.failCode() != "err_validation_blank" {
		t.Errorf("no email: fail code %q, want err_validation_blank", env.failCode())
	}
}
