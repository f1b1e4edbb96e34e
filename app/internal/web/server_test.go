package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
)

func TestServer_DebugPanelAndHeaders(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.AppID = "1234" })
	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/debug", "text/plain", "Pong!"},
		{"/", "text/html", "Mimecast API Configuration"},
		{"/index", "text/html", "Mimecast API Configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(env.http.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantType) ||
				!strings.Contains(string(body), tt.wantBody) {
				t.Errorf("GET %s = %d %s %.100q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if got := resp.Header.Get("Server"); got != "QRadar App 1234" {
				t.Errorf("Server = %q", got)
			}
		})
	}
}

func TestPanel_EveryURLIsRelative(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, err := http.Get(env.http.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	refs := regexp.MustCompile(`(?:src|href|action)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("found only %d URLs in the page", len(refs))
	}
	for _, m := range refs {
		u := m[1]
		if strings.HasPrefix(u, "/") || strings.Contains(u, "://") {
			t.Errorf("URL %q is not relative", u)
		}
	}
	js, err := http.Get(env.http.URL + "/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	script, _ := io.ReadAll(js.Body)
	js.Body.Close()
	for _, absolute := range []string{`"/api`, `'/api`, "`/api", `fetch("/`, `fetch('/`, `"/static`} {
		if strings.Contains(string(script), absolute) {
			t.Errorf("script contains the absolute URL start %s", absolute)
		}
	}
}

func TestStatic_ServedWithCacheHeaders(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct {
		path       string
		status     int
		wantCache  string
		wantPrefix string
	}{
		{"/static/app.css?v=" + env.server.assetVersion, 200, "immutable", "text/css"},
		{"/static/app.js", 200, "max-age=3600", "text/javascript"},
		{"/static/", 404, "", ""},
		{"/static/../templates/index.html", 404, "", ""},
		{"/static/missing.js", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(env.http.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(resp.Header.Get("Cache-Control"), tt.wantCache) {
				t.Errorf("Cache-Control = %q, want %q", resp.Header.Get("Cache-Control"), tt.wantCache)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantPrefix) {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestSession_CookieAttributes(t *testing.T) {
	tests := []struct {
		name, appID, proto string
		wantName, wantPath string
		wantSecure         bool
	}{
		{"with app id over https", "1234", "https", "session_1234", "/console/plugins/1234/app_proxy", true},
		{"with app id over http", "1234", "", "session_1234", "/console/plugins/1234/app_proxy", false},
		{"without app id", "", "", "session_mimecast_qradar", "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, func(o *Options) { o.AppID = tt.appID })
			for _, path := range []string{"/api/csrf", "/"} {
				req, _ := http.NewRequest("GET", env.http.URL+path, nil)
				if tt.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tt.proto)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				cookies := resp.Cookies()
				if len(cookies) != 1 {
					t.Fatalf("%s set %d cookies", path, len(cookies))
				}
				c := cookies[0]
				if c.Name != tt.wantName || c.Path != tt.wantPath || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != tt.wantSecure {
					t.Errorf("%s cookie = %+v", path, c)
				}
			}
		})
	}
}

func TestSession_KeysKeptAcrossRestart(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client()
	// A second server on the same store accepts the first one's session.
	srv2, err := New(context.Background(), Options{Store: env.store, Collector: env.collector, WebDir: webDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(srv2.Handler())
	defer hs2.Close()
	u1, _ := url.Parse(env.http.URL)
	u2, _ := url.Parse(hs2.URL)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u2, c.hc.Jar.Cookies(u1))
	c2 := &apiClient{t: t, base: hs2.URL, hc: &http.Client{Jar: jar}, token: c.token}
	c2.json("POST", "/api/accounts", account2("After restart"), http.StatusCreated, nil)

	// With another sealing key the stored keys cannot be opened: the server
	// still starts, with new keys, so the old session is no longer valid.
	box, err := secrets.Open(t.TempDir(), "another-app-uuid")
	if err != nil {
		t.Fatal(err)
	}
	st3, err := store.Open(context.Background(), env.dir, box)
	if err != nil {
		t.Fatal(err)
	}
	defer st3.Close()
	srv3, err := New(context.Background(), Options{Store: st3, Collector: env.collector, WebDir: webDir(t)})
	if err != nil {
		t.Fatalf("New after a key change: %v", err)
	}
	hs3 := httptest.NewServer(srv3.Handler())
	defer hs3.Close()
	u3, _ := url.Parse(hs3.URL)
	jar.SetCookies(u3, c.hc.Jar.Cookies(u1))
	c3 := &apiClient{t: t, base: hs3.URL, hc: &http.Client{Jar: jar}, token: c.token}
	c3.json("POST", "/api/accounts", account2("Old session"), http.StatusForbidden, nil)
	fresh := &apiClient{t: t, base: hs3.URL, hc: &http.Client{Jar: jar}}
	status, body := fresh.do("GET", "/api/csrf", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "token") {
		t.Errorf("GET /api/csrf after a key change: %d %s", status, body)
	}
}

func TestPanel_ThemeFromQueryIsRememberedForTheSession(t *testing.T) {
	env := newTestEnv(t, nil)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	get := func(path string) string {
		resp, err := hc.Get(env.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`<html lang="en" data-theme="(\w+)">`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("no theme in page")
		}
		return m[1]
	}
	steps := []struct{ path, want string }{
		{"/", "light"},
		{"/index?ui=new&theme=dark", "dark"},
		{"/", "dark"},
		{"/?theme=bogus", "dark"},
		{"/?theme=light", "light"},
		{"/index", "light"},
	}
	for _, s := range steps {
		if got := get(s.path); got != s.want {
			t.Errorf("GET %s theme = %s, want %s", s.path, got, s.want)
		}
	}
}

func TestNew_FailsFastWithoutTemplates(t *testing.T) {
	env := newTestEnv(t, nil)
	_, err := New(context.Background(), Options{Store: env.store, Collector: env.collector, WebDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "templates") {
		t.Errorf("New with an empty web dir: %v", err)
	}
}
