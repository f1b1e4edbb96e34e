package mimecast

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"mimecast-qradar/app/internal/model"
)

// TestClient_SendsEveryRequestThroughOptionsProxy runs a real forward proxy
// and points a client at a host that does not resolve: only a request sent
// through the proxy can reach it.
func TestClient_SendsEveryRequestThroughOptionsProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(r.Context()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"fail":[{"code":"invalid_client","message":"bad client"}]}`))
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	proxyURL.User = url.UserPassword("proxy-user", "proxy-pass")

	const base = "http://mimecast.invalid"
	c, err := New(v2Creds(base), Options{AllowedOrigins: []string{base}, MaxRetries: -1, Sleep: (&waits{}).sleep,
		Proxy: http.ProxyURL(proxyURL)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	if err == nil {
		t.Fatal("the call succeeded against a proxy that answers 401")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatalf("the proxy saw no request (err %v)", err)
	}
	r := seen[0]
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("proxy-user:proxy-pass"))
	if r.URL.Host != "mimecast.invalid" || r.URL.Path != "/oauth/token" || r.Header.Get("Proxy-Authorization") != wantAuth {
		t.Errorf("request at the proxy: %s %s, Proxy-Authorization %q", r.Method, r.URL, r.Header.Get("Proxy-Authorization"))
	}
}

func TestClient_ProxyErrorFailsTheRequestWithoutADirectConnection(t *testing.T) {
	direct := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { direct++ }))
	defer srv.Close()
	refuse := errors.New("proxy settings cannot be read")
	c, err := New(v2Creds(srv.URL), Options{AllowedOrigins: []string{srv.URL}, MaxRetries: -1, Sleep: (&waits{}).sleep,
		Proxy: func(*http.Request) (*url.URL, error) { return nil, refuse }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), refuse.Error()) || direct != 0 {
		t.Fatalf("err = %v, direct requests %d; want the proxy error and none", err, direct)
	}
}

func TestClient_NilProxyKeepsTheEnvironmentProxy(t *testing.T) {
	c, err := New(v2Creds(DefaultBaseURL), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := c.hc.Transport.(*http.Transport)
	if reflect.ValueOf(tr.Proxy).Pointer() != reflect.ValueOf(http.ProxyFromEnvironment).Pointer() {
		t.Error("without Options.Proxy the proxy is not taken from the environment")
	}
}
