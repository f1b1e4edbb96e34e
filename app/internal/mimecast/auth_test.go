package mimecast

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

func TestSignatureV1_MatchesReferenceWorkedExample(t *testing.T) {
	// Reference §1.3 (go-mimecast TestAuthorizationHeader).
	date := time.Date(2022, 8, 21, 13, 49, 40, 0, time.UTC).Format(v1DateLayout)
	if date != "Sun, 21 Aug 2022 13:49:40 UTC" {
		t.Fatalf("x-mc-date = %q", date)
	}
	sig, err := SignV1("U2VjcmV0S2V5", date, "3d796b76-4180-40e5-8f7c-6e0fd643b1a9", "/api/test/some-url", "ApplicationKey")
	if err != nil {
		t.Fatal(err)
	}
	if got := "MC AccessKey:" + sig; got != "MC AccessKey:WOywLsnZlsE+D6bp/ug6uch5kxc=" {
		t.Errorf("Authorization = %q", got)
	}
	if _, err := SignV1("not base64!", date, "id", "/api/x", "k"); err == nil {
		t.Error("SignV1 accepted a secret key that is not base64")
	}
}

func TestClient_SignsV1RequestsWithMCHeaders(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	var mu sync.Mutex
	reqIDs := map[string]bool{}
	e.mux.HandleFunc("POST /api/ttp/url/get-logs", func(w http.ResponseWriter, r *http.Request) {
		date, reqID := r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id")
		if date != "Mon, 18 Nov 2024 10:00:00 UTC" {
			t.Errorf("x-mc-date = %q", date)
		}
		if !uuidRE.MatchString(reqID) {
			t.Errorf("x-mc-req-id = %q, want a v4 UUID", reqID)
		}
		mu.Lock()
		if reqIDs[reqID] {
			t.Errorf("x-mc-req-id %s reused", reqID)
		}
		reqIDs[reqID] = true
		mu.Unlock()
		if got := r.Header.Get("x-mc-app-id"); got != testAppID {
			t.Errorf("x-mc-app-id = %q", got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		// Recompute the signature here, independently of the client.
		key, _ := base64.StdEncoding.DecodeString(testSecretKey)
		mac := hmac.New(sha1.New, key)
		mac.Write([]byte(date + ":" + reqID + ":" + r.URL.Path + ":" + testAppKey))
		want := "MC " + testAccessKey + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if got := r.Header.Get("Authorization"); got != want {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(readFile(t, "testdata/responses/v1-error-401-invalid-signature.json"))
			return
		}
		w.Write([]byte(`{"meta":{"status":200,"pagination":{}},"data":[],"fail":[]}`))
	})
	for range 2 {
		if _, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamTTPURL}, func(*model.Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClient_V1InvalidSignatureIsAuthError(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	calls := &counter{}
	e.mux.HandleFunc("POST /api/audit/get-audit-events", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(readFile(t, "testdata/responses/v1-error-401-invalid-signature.json"))
	})
	_, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	var apiErr *APIError
	if !errors.Is(err, ErrAuth) || !errors.As(err, &apiErr) || apiErr.Code != "err_xdk_invalid_signature" {
		t.Fatalf("err = %v, want ErrAuth with the code", err)
	}
	if !strings.Contains(err.Error(), "check the application ID, application key, access key and secret key") {
		t.Errorf("message gives no hint: %v", err)
	}
	if calls.get() != 1 {
		t.Errorf("%d requests, want 1 (a 401 on API 1.0 is not retried)", calls.get())
	}
}

// bearerLog serves an audit page and records the Authorization headers.
func bearerLog(e *testEnv, reject func(auth string) bool) *[]string {
	var mu sync.Mutex
	var seen []string
	e.mux.HandleFunc("POST /api/audit/get-audit-events", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		seen = append(seen, auth)
		mu.Unlock()
		if r.Header.Get("x-mc-app-id") != "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if reject(auth) {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"fail":[{"code":"InvalidToken","message":"token is not valid"}]}`))
			return
		}
		w.Write([]byte(`{"meta":{"status":200},"data":[],"fail":[]}`))
	})
	return &seen
}

func TestClient_CachesTokenAndRefreshesAheadOfExpiry(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	tokens := e.serveToken(t, 1799)
	seen := bearerLog(e, func(string) bool { return false })
	call := func() {
		t.Helper()
		if _, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	call()
	call()
	e.clock.advance(25 * time.Minute) // still well inside the 1799 s lifetime
	call()
	if tokens.get() != 1 {
		t.Fatalf("%d token requests, want 1 (cached)", tokens.get())
	}
	// 29 min 1 s: less than two minutes before expiry, so renewed early.
	e.clock.advance(4*time.Minute + time.Second)
	call()
	if tokens.get() != 2 {
		t.Fatalf("%d token requests, want 2 (renewed ahead of expiry)", tokens.get())
	}
	want := []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}
	if strings.Join(*seen, ",") != strings.Join(want, ",") {
		t.Errorf("Authorization headers = %v, want %v", *seen, want)
	}
}

func TestClient_RetriesOnceWithFreshTokenOn401(t *testing.T) {
	t.Run("fresh token accepted", func(t *testing.T) {
		e := newEnv(t, model.APIVersion2, nil)
		tokens := e.serveToken(t, 1799)
		seen := bearerLog(e, func(auth string) bool { return auth == "Bearer tok-1" })
		if _, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if tokens.get() != 2 || strings.Join(*seen, ",") != "Bearer tok-1,Bearer tok-2" {
			t.Errorf("tokens=%d headers=%v", tokens.get(), *seen)
		}
	})
	t.Run("still refused", func(t *testing.T) {
		e := newEnv(t, model.APIVersion2, nil)
		tokens := e.serveToken(t, 1799)
		seen := bearerLog(e, func(string) bool { return true })
		_, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
		if len(*seen) != 2 || tokens.get() != 2 {
			t.Errorf("%d data requests and %d tokens, want exactly one retry", len(*seen), tokens.get())
		}
	})
}

func TestClient_RefusedClientCredentialsAreAuthError(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	e.mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(readFile(t, "testdata/responses/v2-oauth-token-401.json"))
	})
	data := &counter{}
	e.mux.HandleFunc("POST /api/audit/get-audit-events", func(w http.ResponseWriter, r *http.Request) { data.inc() })
	err := e.client.CheckAuth(t.Context())
	var apiErr *APIError
	if !errors.Is(err, ErrAuth) || !errors.As(err, &apiErr) || apiErr.Code != "InvalidClientIdentifier" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "authentication failed: check the client ID and client secret") {
		t.Errorf("message = %q", err)
	}
	_, err = e.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	if !errors.Is(err, ErrAuth) || data.get() != 0 {
		t.Errorf("Logs err = %v after %d data requests; want ErrAuth and none", err, data.get())
	}
}

func TestClient_CheckAuthFetchesFreshToken(t *testing.T) {
	e := newEnv(t, model.APIVersion2, nil)
	tokens := e.serveToken(t, 1799)
	for range 2 {
		if err := e.client.CheckAuth(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if tokens.get() != 2 {
		t.Errorf("%d token requests, want one per check", tokens.get())
	}
}

func TestDiscoverRegion(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(self string) string
		want    func(self string) string
		wantErr error
	}{
		{"own origin", func(self string) string { return `{"data":[{"region":{"api":"` + self + `"}}],"fail":[]}` },
			func(self string) string { return self }, nil},
		{"mimecast region", func(string) string { return `{"data":[{"region":{"api":"https://eu-api.mimecast.com"}}]}` },
			func(string) string { return "https://eu-api.mimecast.com" }, nil},
		{"host only", func(string) string { return `{"data":[{"region":{"api":"de-api.mimecast.com"}}]}` },
			func(string) string { return "https://de-api.mimecast.com" }, nil},
		{"unknown address", func(string) string { return `{"data":[{}],"fail":[]}` }, nil, ErrRejected},
		{"foreign host", func(string) string { return `{"data":[{"region":{"api":"https://evil.example.com"}}]}` }, nil, ErrBadResponse},
		{"fail", func(string) string {
			return `{"fail":[{"errors":[{"code":"err_validation_invalid_email_address","message":"bad address"}]}]}`
		}, nil, ErrRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			e.mux.HandleFunc("POST /api/login/discover-authentication", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" || r.Header.Get("x-mc-req-id") == "" || r.Header.Get("x-mc-date") == "" {
					t.Errorf("unexpected headers %v", r.Header)
				}
				w.Write([]byte(tc.answer(e.srv.URL)))
			})
			got, err := DiscoverRegion(t.Context(), e.srv.Client(), e.srv.URL, "user@example.com")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want(e.srv.URL) {
				t.Fatalf("DiscoverRegion = %q, %v", got, err)
			}
		})
	}
}
