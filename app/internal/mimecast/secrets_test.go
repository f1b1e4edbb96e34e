package mimecast

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// syncBuffer is a bytes.Buffer safe for concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSecretsNeverAppearInErrorsOrLogs(t *testing.T) {
	const presignedSig = "sig-SECRET-123"
	secrets := []string{testClientSecret, testAppKey, testAccessKey, testSecretKey, "tok-1", "tok-2", presignedSig}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	withLogger := func(o *Options) {
		o.Logger = logger
		o.StallTimeout = 100 * time.Millisecond
	}
	var errs []error

	// API 2.0: a token endpoint and a data endpoint that echo what they got.
	e2 := newEnv(t, model.APIVersion2, withLogger)
	tokenCalls := &counter{}
	e2.mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if tokenCalls.inc() == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"fail":[{"code":"InvalidClientIdentifier","message":"client secret ` + r.Form.Get("client_secret") + ` is invalid"}]}`))
			return
		}
		writeJSON(w, map[string]any{"access_token": "tok-" + string(rune('0'+tokenCalls.get()-1)), "expires_in": 1799})
	})
	e2.mux.HandleFunc("POST /api/audit/get-audit-events", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"fail":[{"code":"bad_token","message":"` + r.Header.Get("Authorization") + ` was refused"}]}`))
	})
	e2.mux.HandleFunc("GET /files/", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "stall") {
			w.Write([]byte{0x1f, 0x8b})
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<Error><Message>Signature ` + r.URL.Query().Get("X-Amz-Signature") + ` expired</Message></Error>`))
	})
	errs = append(errs, e2.client.CheckAuth(t.Context()))
	_, err := e2.client.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	errs = append(errs, err)
	for _, f := range []string{"/files/expired.gz", "/files/stall.gz"} {
		_, err = e2.client.DownloadSIEMFile(t.Context(), BatchFile{URL: e2.srv.URL + f + "?X-Amz-Signature=" + presignedSig}, func(*model.Record) error { return nil })
		errs = append(errs, err)
	}
	_, err = e2.client.DownloadSIEMFile(t.Context(), BatchFile{URL: "http://127.0.0.1:1/x.gz?X-Amz-Signature=" + presignedSig}, func(*model.Record) error { return nil })
	errs = append(errs, err)

	// API 1.0: an endpoint that echoes the signed headers.
	e1 := newEnv(t, model.APIVersion1, withLogger)
	e1.mux.HandleFunc("POST /api/dlp/get-logs", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"fail":[{"errors":[{"code":"err_xdk_invalid_signature","message":"` + r.Header.Get("Authorization") +
			` ` + testAppKey + ` ` + testSecretKey + `"}]}]}`))
	})
	_, err = e1.client.Logs(t.Context(), LogQuery{Stream: model.StreamDLP}, func(*model.Record) error { return nil })
	errs = append(errs, err)
	e1.srv.Close()
	_, err = e1.client.SIEMLogsV1(t.Context(), "", time.Time{}, nil, func(*model.Record) error { return nil })
	errs = append(errs, err)

	bad := v1Creds("https://eu-api.mimecast.com")
	bad.SecretKey = "%%" + testAppKey
	_, err = New(bad, Options{})
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("scenario %d did not fail", i)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %d shows secret %q: %v", i, s, err)
			}
		}
	}
	out := logs.String()
	if !strings.Contains(out, "mimecast request") {
		t.Fatal("no request was logged; the log check would prove nothing")
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log shows secret %q", s)
		}
	}
	if !strings.Contains(errs[0].Error(), "[redacted]") {
		t.Errorf("echoed secret was not replaced: %v", errs[0])
	}
}
