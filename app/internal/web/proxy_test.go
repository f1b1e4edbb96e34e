package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
)

type fullSettings struct {
	settingsJSON
	proxySettingsJSON
}

func TestSettings_ProxyIsValidatedAndItsPasswordWriteOnly(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	var s fullSettings
	c.json("GET", "/api/settings", nil, http.StatusOK, &s)
	if s.ProxyURL != "" || s.ProxyUsername != "" || s.ProxyPasswordSet {
		t.Fatalf("proxy before any change = %+v", s.proxySettingsJSON)
	}

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"proxy_url": "http://user:pw@proxy.example.com:3128"}, "proxy_url"},
		{map[string]any{"proxy_url": "ftp://proxy.example.com"}, "proxy_url"},
		{map[string]any{"proxy_url": "http://proxy.example.com:3128/path"}, "proxy_url"},
		{map[string]any{"proxy_url": "http://proxy.example.com:99999"}, "proxy_url"},
		{map[string]any{"proxy_url": "proxy.example.com:3128"}, "proxy_url"},
		{map[string]any{"proxy_url": 3128}, "proxy_url"},
		{map[string]any{"proxy_username": "svc"}, "proxy_username"},
		{map[string]any{"proxy_url": "http://proxy.example.com:3128", "proxy_password": "pw-only"}, "proxy_password"},
		{map[string]any{"proxy_url": "http://proxy.example.com:3128", "proxy_username": "a\x01b"}, "proxy_username"},
		// One bad member: nothing is saved, not even the valid target.
		{map[string]any{"syslog_target": "tcp://new.example.com:514", "proxy_url": "gopher://x"}, "proxy_url"},
	} {
		var e errorBody
		c.json("PUT", "/api/settings", tc.body, http.StatusUnprocessableEntity, &e)
		if e.Fields[tc.field] == "" {
			t.Errorf("PUT %v: fields %v, want a problem with %s", tc.body, e.Fields, tc.field)
		}
	}
	if target, _ := env.server.SyslogTarget(context.Background()); target != "tcp://192.0.2.10:514" {
		t.Errorf("a refused PUT changed the target to %q", target)
	}

	c.json("PUT", "/api/settings", map[string]any{"proxy_url": "http://proxy.example.com:3128/", "proxy_username": "svc-mimecast",
		"proxy_password": secretProxyPassword}, http.StatusOK, &s)
	if s.ProxyURL != "http://proxy.example.com:3128" || s.ProxyUsername != "svc-mimecast" || !s.ProxyPasswordSet ||
		s.SyslogTarget != "tcp://192.0.2.10:514" {
		t.Errorf("after setting the proxy = %+v", s)
	}
	// Omitted or empty password: unchanged.
	c.json("PUT", "/api/settings", map[string]any{"proxy_username": "svc-2", "proxy_password": ""}, http.StatusOK, &s)
	if pw, _, _ := env.store.SecretSetting(context.Background(), settingProxyPassword); pw != secretProxyPassword || !s.ProxyPasswordSet {
		t.Errorf("password after an edit without it: set %t", s.ProxyPasswordSet)
	}
	// An empty user name drops the password; an empty URL drops everything.
	c.json("PUT", "/api/settings", map[string]any{"proxy_username": ""}, http.StatusOK, &s)
	if s.ProxyPasswordSet || s.ProxyURL == "" {
		t.Errorf("after clearing the user name = %+v", s.proxySettingsJSON)
	}
	c.json("PUT", "/api/settings", map[string]any{"proxy_username": "svc", "proxy_password": "again-pw"}, http.StatusOK, nil)
	c.json("PUT", "/api/settings", map[string]any{"proxy_url": ""}, http.StatusOK, &s)
	if s.ProxyURL != "" || s.ProxyUsername != "" || s.ProxyPasswordSet {
		t.Errorf("after removing the proxy = %+v", s.proxySettingsJSON)
	}

	trail := auditTrail(t, c)
	var changes []string
	for i := len(trail) - 1; i >= 0; i-- {
		changes = append(changes, trail[i].Details[settingProxyPassword])
	}
	if strings.Join(changes, ",") != "set,,removed,set,removed" {
		t.Errorf("proxy_password in the audit trail = %q", changes)
	}
	for _, body := range append(c.bodies, env.logs.String()) {
		if strings.Contains(body, secretProxyPassword) || strings.Contains(body, "again-pw") {
			t.Errorf("the proxy password reached %.200s", body)
		}
	}
}

// forwardProxy is a real HTTP forward proxy stand-in: it records each
// request and answers 401 as Mimecast would to bad credentials.
type forwardProxy struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
	urls []string
}

func newForwardProxy(t *testing.T) *forwardProxy {
	p := &forwardProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auth = append(p.auth, r.Header.Get("Proxy-Authorization"))
		p.urls = append(p.urls, r.URL.String())
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"fail":[{"code":"invalid_client","message":"bad client"}]}`))
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *forwardProxy) seen() (auth, urls []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auth...), append([]string(nil), p.urls...)
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestMimecastProxy_SendsMimecastRequestsThroughThePanelProxyAndFollowsSaves(t *testing.T) {
	// As the daemon wires it: one MimecastProxy, made before the server,
	// shared by the collector and the panel.
	var px *MimecastProxy
	env := newTestEnv(t, func(o *Options) { px = NewMimecastProxy(o.Store); o.Proxy = px })
	c := env.client()
	proxy := newForwardProxy(t)
	fn := px.Func()
	const base = "http://mimecast.invalid"
	call := func() {
		t.Helper()
		cl, err := mimecast.New(mimecast.Credentials{APIVersion: model.APIVersion2, BaseURL: base, ClientID: "id", ClientSecret: "s"},
			mimecast.Options{AllowedOrigins: []string{base}, MaxRetries: -1, Proxy: fn})
		if err != nil {
			t.Fatal(err)
		}
		cl.Logs(context.Background(), mimecast.LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	}

	c.json("PUT", "/api/settings", map[string]any{"proxy_url": proxy.URL, "proxy_username": "svc", "proxy_password": "first-pw"}, http.StatusOK, nil)
	call()
	c.json("PUT", "/api/settings", map[string]any{"proxy_password": "second-pw"}, http.StatusOK, nil)
	call()
	auth, urls := proxy.seen()
	if len(auth) != 2 || auth[0] != basic("svc", "first-pw") || auth[1] != basic("svc", "second-pw") ||
		urls[0] != base+"/oauth/token" {
		t.Fatalf("at the proxy: auth %q, urls %q", auth, urls)
	}
	req, _ := http.NewRequest("GET", base+"/x", nil)
	if u, err := env.server.ProxyFunc()(req); err != nil || u == nil || u.Host != strings.TrimPrefix(proxy.URL, "http://") {
		t.Errorf("the server's ProxyFunc = %v, %v; want the same proxy", u, err)
	}

	// Loopback never goes through the proxy, nor do NO_PROXY hosts.
	t.Setenv("NO_PROXY", ".corp.example,10.0.0.0/8")
	c.json("PUT", "/api/settings", map[string]any{"proxy_password": "third-pw"}, http.StatusOK, nil) // re-reads NO_PROXY
	for _, tc := range []struct {
		target string
		proxy  bool
	}{
		{"https://api.services.mimecast.com/oauth/token", true},
		{"http://127.0.0.1:8080/api", false},
		{"https://mimecast-sim.corp.example/api", false},
		{"https://10.1.2.3/api", false},
	} {
		req, _ := http.NewRequest("GET", tc.target, nil)
		u, err := fn(req)
		if err != nil || (u != nil) != tc.proxy {
			t.Errorf("proxy for %s = %v, %v; want proxied %t", tc.target, u, err, tc.proxy)
		}
	}

	// Without a panel proxy the environment decides, exactly as before.
	c.json("PUT", "/api/settings", map[string]any{"proxy_url": ""}, http.StatusOK, nil)
	req, _ = http.NewRequest("GET", "https://api.services.mimecast.com/oauth/token", nil)
	got, err := fn(req)
	want, wantErr := http.ProxyFromEnvironment(req)
	if (got == nil) != (want == nil) || (got != nil && got.String() != want.String()) || (err == nil) != (wantErr == nil) {
		t.Errorf("without a panel proxy: %v, %v; environment says %v, %v", got, err, want, wantErr)
	}
}

func TestProxyFunc_UnreadablePasswordFailsRequestsWithAClearError(t *testing.T) {
	env := newTestEnv(t, nil)
	env.client().json("PUT", "/api/settings", map[string]any{"proxy_url": "http://proxy.example.com:3128", "proxy_username": "svc",
		"proxy_password": "pw"}, http.StatusOK, nil)
	box, err := secrets.Open(t.TempDir(), "another-app-uuid")
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(context.Background(), env.dir, box)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	env2 := newTestEnvOnStore(t, st2)
	req, _ := http.NewRequest("GET", "https://api.services.mimecast.com/", nil)
	u, err := env2.server.ProxyFunc()(req)
	if u != nil || err == nil || !strings.Contains(err.Error(), "enter it again") {
		t.Errorf("ProxyFunc with an unreadable password = %v, %v", u, err)
	}
	var s fullSettings
	env2.client().json("GET", "/api/settings", nil, http.StatusOK, &s)
	if !s.ProxyPasswordSet {
		t.Error("an unreadable password is shown as not set")
	}
}

func TestBypassProxy(t *testing.T) {
	const noProxy = "*.internal.example, corp.example, .sub.example:8443, 192.0.2.7, 198.51.100.0/24, [2001:db8::1]:443, [2001:db8::2]"
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://localhost:9000", true},
		{"https://127.0.0.1", true},
		{"https://[::1]:8443", true},
		{"https://api.services.mimecast.com", false},
		{"https://a.internal.example", true},
		{"https://internal.example", false},
		{"https://corp.example", true},
		{"https://x.corp.example", true},
		{"https://notcorp.example", false},
		{"https://a.sub.example:8443", true},
		{"https://a.sub.example", false}, // port 443, the entry names 8443
		{"https://192.0.2.7", true},
		{"https://198.51.100.99", true},
		{"https://198.51.101.1", false},
		{"https://[2001:db8::1]", true},
		{"https://[2001:db8::1]:8443", false},
		{"https://[2001:db8::2]:8443", true},
	} {
		u, _ := url.Parse(tc.url)
		if got := bypassProxy(u, noProxy); got != tc.want {
			t.Errorf("bypassProxy(%s) = %t, want %t", tc.url, got, tc.want)
		}
	}
	u, _ := url.Parse("https://anything.example")
	if !bypassProxy(u, "*") {
		t.Error(`NO_PROXY "*" does not bypass everything`)
	}
}

func TestSettings_ShowTheEnvironmentProxyWithoutItsPassword(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://envuser:env-SECRET-pw@proxy.corp.example:3128")
	t.Setenv("NO_PROXY", ".corp.example")
	env := newTestEnv(t, nil)
	var s fullSettings
	env.client().json("GET", "/api/settings", nil, http.StatusOK, &s)
	if !strings.Contains(s.ProxyEnvironment, "HTTPS_PROXY=http://proxy.corp.example:3128") ||
		!strings.Contains(s.ProxyEnvironment, "NO_PROXY=.corp.example") || strings.Contains(s.ProxyEnvironment, "env-SECRET-pw") {
		t.Errorf("proxy_environment = %q", s.ProxyEnvironment)
	}
}
