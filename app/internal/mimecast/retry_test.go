package mimecast

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// failThen answers the first n requests with fail, then with an empty page.
func failThen(e *testEnv, path string, n int, fail func(w http.ResponseWriter)) *counter {
	calls := &counter{}
	e.mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		if calls.inc() <= n {
			fail(w)
			return
		}
		w.Write([]byte(`{"meta":{"status":200,"pagination":{}},"data":[],"fail":[]}`))
	})
	return calls
}

func fetchDLP(e *testEnv) error {
	_, err := e.client.Logs(context.Background(), LogQuery{Stream: model.StreamDLP}, func(*model.Record) error { return nil })
	return err
}

func TestClient_RateLimitHonoursServerWait(t *testing.T) {
	tests := []struct {
		name     string
		header   map[string]string
		maxWait  time.Duration
		min, max time.Duration
	}{
		{"Retry-After seconds", map[string]string{"Retry-After": "2"}, 0, 2 * time.Second, 2*time.Second + 300*time.Millisecond},
		{"X-RateLimit-Reset milliseconds", map[string]string{"X-RateLimit-Reset": "1500", "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0"}, 0,
			1500 * time.Millisecond, 1500*time.Millisecond + 250*time.Millisecond},
		{"Retry-After wins", map[string]string{"Retry-After": "1", "X-RateLimit-Reset": "9000"}, 0, time.Second, time.Second + 200*time.Millisecond},
		{"jitter stays within MaxWait", map[string]string{"X-RateLimit-Reset": "3000"}, 3 * time.Second, 3 * time.Second, 3 * time.Second},
		{"no header backs off", nil, 0, 5 * time.Second, 5*time.Second + 700*time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, func(o *Options) { o.MaxWait = tc.maxWait })
			calls := failThen(e, "/api/dlp/get-logs", 1, func(w http.ResponseWriter) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			if err := fetchDLP(e); err != nil {
				t.Fatal(err)
			}
			got := e.waits.all()
			if calls.get() != 2 || len(got) != 1 {
				t.Fatalf("%d requests, waits %v; want one wait then success", calls.get(), got)
			}
			if got[0] < tc.min || got[0] > tc.max {
				t.Errorf("waited %v, want within [%v, %v]", got[0], tc.min, tc.max)
			}
		})
	}
}

func TestClient_RateLimitLongerThanMaxWaitFailsWithoutRetrying(t *testing.T) {
	tests := []struct {
		name    string
		reset   string
		maxWait time.Duration
		wait    time.Duration // until the block ends
	}{
		{"beyond MaxWait", "600000", 3 * time.Second, 10 * time.Minute},
		{"epoch milliseconds far ahead, clamped to 15 min", "1731999999000", 0, 15 * time.Minute},
		// The test clock is 2024-11-18 10:00 UTC.
		{"epoch milliseconds taken as a time", "1731924600000", 0, 10 * time.Minute},
		{"epoch seconds taken as a time", "1731924600", 0, 10 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, func(o *Options) { o.MaxWait = tc.maxWait })
			calls := failThen(e, "/api/dlp/get-logs", 1, func(w http.ResponseWriter) {
				w.Header().Set("X-RateLimit-Reset", tc.reset)
				w.WriteHeader(http.StatusTooManyRequests)
			})
			err := fetchDLP(e)
			var rl *RateLimitError
			if !errors.As(err, &rl) || !rl.Until.Equal(e.clock.now().Add(tc.wait)) {
				t.Fatalf("err = %v, want a RateLimitError until %v", err, e.clock.now().Add(tc.wait))
			}
			if calls.get() != 1 || len(e.waits.all()) != 0 {
				t.Errorf("%d requests and waits %v, want 1 request and no wait", calls.get(), e.waits.all())
			}
		})
	}
}

func TestClient_RateLimitedAfterRetriesSaysUntilWhen(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	calls := failThen(e, "/api/dlp/get-logs", 100, func(w http.ResponseWriter) {
		w.Header().Set("X-RateLimit-Reset", "4000")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	err := fetchDLP(e)
	var rl *RateLimitError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &rl) || !rl.Until.Equal(e.clock.now().Add(4*time.Second)) {
		t.Fatalf("err = %v, want RateLimitError until 10:00:04", err)
	}
	if !strings.HasSuffix(err.Error(), "rate limited by Mimecast until 10:00:04 UTC; the next run continues") {
		t.Errorf("message %q does not say until when", err)
	}
	if calls.get() != 3 || len(e.waits.all()) != 2 {
		t.Errorf("%d requests and %d waits, want 3 and 2 (MaxRetries 2)", calls.get(), len(e.waits.all()))
	}
}

func TestClient_ServerErrorsBackOffCappedThenErrServer(t *testing.T) {
	e := newEnv(t, model.APIVersion1, func(o *Options) { o.MaxRetries = 8; o.MaxWait = 10 * time.Minute })
	calls := failThen(e, "/api/dlp/get-logs", 100, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	err := fetchDLP(e)
	var apiErr *APIError
	if !errors.Is(err, ErrServer) || !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("err = %v, want ErrServer 503", err)
	}
	got := e.waits.all()
	if calls.get() != 9 || len(got) != 8 {
		t.Fatalf("%d requests, %d waits; want 9 and 8", calls.get(), len(got))
	}
	for i, d := range got {
		limit := min(time.Second<<i, 30*time.Second)
		if d < limit/2 || d > limit {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, limit/2, limit)
		}
	}
}

func TestClient_ServerErrorThenSuccess(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	calls := failThen(e, "/api/dlp/get-logs", 2, func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	if err := fetchDLP(e); err != nil {
		t.Fatal(err)
	}
	if calls.get() != 3 {
		t.Errorf("%d requests, want 3", calls.get())
	}
}

func TestClient_StatusErrorsAreTypedAndNotRetried(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    error
		message string
	}{
		{"418 expired key", 418, `{"meta":{"status":418},"fail":[{"errors":[{"code":"err_xdk_binding_expired","message":"binding expired"}]}]}`,
			ErrKeyExpired, "access key expired: create new keys"},
		{"418 without body", 418, ``, ErrKeyExpired, "access key expired"},
		{"403 forbidden", 403, string(readFile(t, "testdata/responses/v2-403-app-forbidden.json")), ErrPermission, "permission denied"},
		{"400 validation", 400, `{"fail":[{"errors":[{"code":"err_validation_blank","message":"from must not be blank"}]}]}`,
			ErrRejected, "err_validation_blank"},
		{"404 path", 404, `not found`, ErrRejected, "check the base URL"},
		{"401 wrong region", 401, `{"fail":[{"errors":[{"code":"err_audit_log_incorrect_region","message":"wrong region"}]}]}`,
			ErrAuth, "another region"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			calls := failThen(e, "/api/dlp/get-logs", 100, func(w http.ResponseWriter) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			err := fetchDLP(e)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q lacks %q", err, tc.message)
			}
			if calls.get() != 1 || len(e.waits.all()) != 0 {
				t.Errorf("%d requests, want 1 and no waits", calls.get())
			}
		})
	}
}

func TestClient_FailOnHTTP200IsAnError(t *testing.T) {
	tests := []struct {
		name string
		fail string
		want error
	}{
		{"validation", `[{"key":{},"errors":[{"code":"err_validation_null","message":"field must not be null","retryable":false}]}]`, ErrRejected},
		{"binding expired", `[{"errors":[{"code":"err_xdk_binding_expired","message":"expired"}]}]`, ErrKeyExpired},
		{"retryable", `[{"errors":[{"code":"err_internal","message":"busy","retryable":true}]}]`, ErrServer},
		{"forbidden", `[{"code":"app_forbidden","message":"Forbidden to perform the requested operation"}]`, ErrPermission},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, model.APIVersion1, nil)
			e.mux.HandleFunc("POST /api/dlp/get-logs", func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"meta":{"status":200},"data":[],"fail":` + tc.fail + `}`))
			})
			if err := fetchDLP(e); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestClient_StalledBodyTimesOut(t *testing.T) {
	e := newEnv(t, model.APIVersion1, func(o *Options) { o.StallTimeout = 100 * time.Millisecond })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.mux.HandleFunc("POST /api/dlp/get-logs", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"meta":{"status":200},"data":[{"dlpLogs":[{"eventTime":"2024-11-18T05:11:02+0000"},`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var n int
	_, err := e.client.Logs(t.Context(), LogQuery{Stream: model.StreamDLP}, func(*model.Record) error { n++; return nil })
	if !errors.Is(err, ErrNetwork) || !strings.Contains(err.Error(), "no data received") {
		t.Fatalf("err = %v, want a stall time-out", err)
	}
	if n != 1 {
		t.Errorf("%d records delivered before the stall, want 1", n)
	}
}

func TestClient_SlowHeadersTimeOutAndRetry(t *testing.T) {
	e := newEnv(t, model.APIVersion1, func(o *Options) { o.CallTimeout = 100 * time.Millisecond; o.MaxRetries = 1 })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	calls := &counter{}
	e.mux.HandleFunc("POST /api/dlp/get-logs", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	err := fetchDLP(e)
	if !errors.Is(err, ErrNetwork) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("err = %v, want a time-out", err)
	}
	if calls.get() != 2 {
		t.Errorf("%d requests, want 2 (one retry)", calls.get())
	}
}

func TestClient_ConnectionRefusedIsNetworkError(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	e.srv.Close()
	err := fetchDLP(e)
	if !errors.Is(err, ErrNetwork) {
		t.Fatalf("err = %v, want ErrNetwork", err)
	}
	if len(e.waits.all()) != 2 {
		t.Errorf("waits %v, want 2 retries", e.waits.all())
	}
}

func TestClient_ContextCancelStopsWaiting(t *testing.T) {
	e := newEnv(t, model.APIVersion1, nil)
	failThen(e, "/api/dlp/get-logs", 100, func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := e.client.Logs(ctx, LogQuery{Stream: model.StreamDLP}, func(*model.Record) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the context error", err)
	}
}
