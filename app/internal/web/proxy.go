package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"mimecast-qradar/app/internal/store"
)

// Settings keys of the proxy for Mimecast connections. The password is
// stored sealed (store.SetSecretSetting), like account secrets.
const (
	SettingProxyURL      = "proxy_url"
	SettingProxyUsername = "proxy_username"
	settingProxyPassword = "proxy_password"
)

const (
	maxProxyUsernameLength = 256
	maxProxyPasswordLength = 1024
)

// proxySetting is the panel's proxy as MimecastProxy uses it.
type proxySetting struct {
	url     *url.URL // with the credentials; nil: the environment decides
	noProxy string   // NO_PROXY (or no_proxy) when the setting was read
}

// proxySettingsJSON is the proxy part of GET /api/settings. The password
// is write-only: only whether it is set is returned.
type proxySettingsJSON struct {
	ProxyURL         string `json:"proxy_url"`
	ProxyUsername    string `json:"proxy_username"`
	ProxyPasswordSet bool   `json:"proxy_password_set"`
	// ProxyEnvironment describes the proxy the container's environment
	// sets (HTTPS_PROXY, NO_PROXY), used when ProxyURL is empty; "" when
	// there is none.
	ProxyEnvironment string `json:"proxy_environment"`
}

// MimecastProxy chooses the proxy of each Mimecast request from the proxy
// saved in the panel, which it caches until the panel saves a new one.
// Create one with NewMimecastProxy and share it between the collector
// (Func, as mimecast.Options.Proxy) and the web server (Options.Proxy), so
// collection uses the setting from its first request on. It is safe for
// concurrent use.
type MimecastProxy struct {
	store *store.Store

	// A save bumps gen, so a load that raced with it is not kept.
	mu     sync.Mutex
	cached *proxySetting
	gen    uint64
}

// NewMimecastProxy returns the proxy chooser reading st's settings.
func NewMimecastProxy(st *store.Store) *MimecastProxy {
	return &MimecastProxy{store: st}
}

// Func returns the function to pass as mimecast.Options.Proxy: the proxy
// saved in the panel (with its user name and password) when there is one,
// except for loopback hosts and hosts that NO_PROXY names; otherwise the
// environment's HTTPS_PROXY/NO_PROXY (http.ProxyFromEnvironment). When the
// setting cannot be read (for example the sealing key changed and the
// password cannot be opened), requests fail with an error saying so rather
// than going out without the proxy.
func (m *MimecastProxy) Func() func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		p, err := m.setting(req.Context())
		if err != nil {
			return nil, err
		}
		if p.url == nil {
			return http.ProxyFromEnvironment(req)
		}
		if bypassProxy(req.URL, p.noProxy) {
			return nil, nil
		}
		return p.url, nil
	}
}

// ProxyFunc returns the server's MimecastProxy function (see
// MimecastProxy.Func), which follows every save in the panel.
func (s *Server) ProxyFunc() func(*http.Request) (*url.URL, error) {
	return s.proxy.Func()
}

// setting returns the cached setting, reading it when there is none.
// Errors are not cached, so a passing database error heals by itself.
func (m *MimecastProxy) setting(ctx context.Context) (*proxySetting, error) {
	m.mu.Lock()
	p, gen := m.cached, m.gen
	m.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.gen == gen {
		m.cached = p
	}
	m.mu.Unlock()
	return p, nil
}

// invalidate drops the cached setting after a save.
func (m *MimecastProxy) invalidate() {
	m.mu.Lock()
	m.cached = nil
	m.gen++
	m.mu.Unlock()
}

func (m *MimecastProxy) load(ctx context.Context) (*proxySetting, error) {
	raw, _, err := m.store.Setting(ctx, SettingProxyURL)
	if err != nil {
		return nil, fmt.Errorf("reading the proxy setting: %w", err)
	}
	p := &proxySetting{noProxy: envNoProxy()}
	if raw == "" {
		return p, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the saved proxy URL is not a URL: save the proxy setting again")
	}
	user, _, err := m.store.Setting(ctx, SettingProxyUsername)
	if err != nil {
		return nil, fmt.Errorf("reading the proxy setting: %w", err)
	}
	password, _, err := m.store.SecretSetting(ctx, settingProxyPassword)
	if err != nil {
		return nil, errors.New("the proxy password cannot be read (the app's key changed?): enter it again under Administration")
	}
	switch {
	case user != "" && password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}
	p.url = u
	return p, nil
}

func envNoProxy() string {
	if v := os.Getenv("NO_PROXY"); v != "" {
		return v
	}
	return os.Getenv("no_proxy")
}

// bypassProxy reports whether a request to u goes direct although a proxy
// is set: loopback hosts always (as with http.ProxyFromEnvironment), and
// hosts matching noProxy with the NO_PROXY rules of Go's standard library:
// "*" matches everything; an IP address or CIDR range matches addresses;
// "example.com" matches it and its subdomains, ".example.com" and
// "*.example.com" only subdomains; an entry with ":port" matches that port
// only.
func bypassProxy(u *url.URL, noProxy string) bool {
	host := strings.ToLower(u.Hostname())
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, entry := range strings.Split(noProxy, ",") {
		entry = strings.ToLower(strings.TrimSpace(entry))
		if entry == "" {
			continue
		}
		if entry == "*" {
			return true
		}
		if _, cidr, err := net.ParseCIDR(entry); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return true
			}
			continue
		}
		ehost, eport := entry, ""
		if h, p, err := net.SplitHostPort(entry); err == nil {
			ehost, eport = h, p
		}
		if eport != "" && eport != port {
			continue
		}
		ehost = strings.TrimSuffix(strings.TrimPrefix(ehost, "["), "]")
		if eip := net.ParseIP(ehost); eip != nil {
			if ip != nil && eip.Equal(ip) {
				return true
			}
			continue
		}
		ehost = strings.TrimPrefix(ehost, "*")
		if strings.HasPrefix(ehost, ".") {
			if strings.HasSuffix(host, ehost) {
				return true
			}
			continue
		}
		if host == ehost || strings.HasSuffix(host, "."+ehost) {
			return true
		}
	}
	return false
}

// proxySettings reads the proxy part of the settings for the API.
func (s *Server) proxySettings(ctx context.Context) (proxySettingsJSON, error) {
	var out proxySettingsJSON
	var err error
	if out.ProxyURL, _, err = s.store.Setting(ctx, SettingProxyURL); err != nil {
		return out, err
	}
	if out.ProxyUsername, _, err = s.store.Setting(ctx, SettingProxyUsername); err != nil {
		return out, err
	}
	// A password sealed with another key counts as set: it exists, and the
	// administrator has to enter it again (ProxyFunc says so).
	pw, ok, err := s.store.SecretSetting(ctx, settingProxyPassword)
	out.ProxyPasswordSet = ok && (pw != "" || err != nil)
	out.ProxyEnvironment = environmentProxy()
	return out, nil
}

// environmentProxy describes the proxy from the environment, credentials
// removed.
func environmentProxy() string {
	var parts []string
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		if v := os.Getenv(name); v != "" {
			parts = append(parts, name+"="+redactTarget(v))
		}
	}
	return strings.Join(parts, " ")
}

// proxyInput is a change of the proxy setting; nil fields are unchanged.
type proxyInput struct {
	url, username, password *string
}

// readProxyInput reads proxy_url, proxy_username and proxy_password from
// members; present is false when none is there. A null member is absent;
// an empty proxy_password leaves the password unchanged (it is
// write-only).
func readProxyInput(members map[string]json.RawMessage, fe fieldErrors) (in proxyInput, present bool) {
	str := func(field string) *string {
		raw, ok := members[field]
		if !ok || string(raw) == "null" {
			return nil
		}
		present = true
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			fe.add(field, "must be a string")
			return nil
		}
		return &v
	}
	in.url, in.username, in.password = str("proxy_url"), str("proxy_username"), str("proxy_password")
	if in.url != nil {
		v := strings.TrimSpace(*in.url)
		in.url = &v
		if v != "" {
			if err := validateProxyURL(v); err != nil {
				fe.add("proxy_url", err.Error())
			}
		}
	}
	if in.username != nil {
		v := strings.TrimSpace(*in.username)
		in.username = &v
		switch {
		case utf8.RuneCountInString(v) > maxProxyUsernameLength:
			fe.add("proxy_username", fmt.Sprintf("must be at most %d characters", maxProxyUsernameLength))
		case strings.ContainsFunc(v, unicode.IsControl):
			fe.add("proxy_username", "must not contain control characters")
		}
	}
	if in.password != nil {
		switch {
		case *in.password == "":
			in.password = nil
		case len(*in.password) > maxProxyPasswordLength:
			fe.add("proxy_password", fmt.Sprintf("must be at most %d characters", maxProxyPasswordLength))
		case strings.ContainsFunc(*in.password, unicode.IsControl):
			fe.add("proxy_password", "must not contain control characters")
		}
	}
	return in, present
}

// validateProxyURL accepts http://, https:// or socks5:// with a host and
// an optional port, and nothing else: credentials have their own fields so
// the password can be kept sealed and write-only.
func validateProxyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be a URL such as http://proxy.example.com:3128")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return errors.New("must start with http://, https:// or socks5://")
	}
	if u.User != nil {
		return errors.New("must not contain a user name or password: enter them in their own fields")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be only scheme://host:port, without a path or query")
	}
	return nil
}

// proxyPlan is the proxy setting a valid change leads to.
type proxyPlan struct {
	url, username string
	password      *string // nil: unchanged; "": removed
}

// planProxy merges a change with the saved setting and checks the result,
// adding problems to fe. An empty URL removes the proxy with its user name
// and password; an empty user name removes the password.
func (s *Server) planProxy(ctx context.Context, in proxyInput, fe fieldErrors) (proxyPlan, error) {
	cur, err := s.proxySettings(ctx)
	if err != nil {
		return proxyPlan{}, err
	}
	p := proxyPlan{url: cur.ProxyURL, username: cur.ProxyUsername, password: in.password}
	if in.url != nil {
		p.url = strings.TrimRight(*in.url, "/")
	}
	if in.username != nil {
		p.username = *in.username
	}
	switch {
	case p.url == "" && in.username != nil && *in.username != "":
		fe.add("proxy_username", "needs a proxy URL")
	case p.url == "" && in.password != nil:
		fe.add("proxy_password", "needs a proxy URL and user name")
	case p.username == "" && in.password != nil:
		fe.add("proxy_password", "needs a user name")
	}
	if p.url == "" {
		p.username = ""
	}
	if p.username == "" && cur.ProxyPasswordSet {
		empty := ""
		p.password = &empty
	}
	return p, nil
}

// applyProxy saves a planned setting; ProxyFunc reads it from the next
// request on.
func (s *Server) applyProxy(ctx context.Context, p proxyPlan) error {
	defer s.proxy.invalidate()
	if err := s.store.SetSetting(ctx, SettingProxyURL, p.url); err != nil {
		return err
	}
	if err := s.store.SetSetting(ctx, SettingProxyUsername, p.username); err != nil {
		return err
	}
	if p.password != nil {
		return s.store.SetSecretSetting(ctx, settingProxyPassword, *p.password)
	}
	return nil
}
