package mimecast

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"mimecast-qradar/app/internal/model"
)

func TestValidateBaseURL(t *testing.T) {
	extra := []string{"http://127.0.0.1:8080", "https://sim.test:9443/"}
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://api.services.mimecast.com", true},
		{"https://uk-api.services.mimecast.com/", true},
		{"https://us-api.services.mimecast.com", true},
		{"https://eu-api.mimecast.com", true},
		{"https://de-api.mimecast.com", true},
		{"https://usb-api.mimecast.com", true},
		{"https://jer-api.mimecast.com", true},
		{"https://uspcom-api.mimecast-pscom-us.com", true},
		{"https://new-region.mimecast.com", true},
		{"https://EU-API.Mimecast.COM:443", true},
		{"http://127.0.0.1:8080", true},
		{"https://sim.test:9443", true},

		{"", false},
		{"eu-api.mimecast.com", false},
		{"http://eu-api.mimecast.com", false},
		{"https://eu-api.mimecast.com:8443", false},
		{"https://eu-api.mimecast.com/api", false},
		{"https://eu-api.mimecast.com?x=1", false},
		{"https://user:pass@eu-api.mimecast.com", false},
		{"https://mimecast.com.evil.example", false},
		{"https://evilmimecast.com", false},
		{"https://.mimecast.com", false},
		{"https://169.254.169.254", false},
		{"http://127.0.0.1:8081", false},
		{"https://127.0.0.1:8080", false},
		{"ftp://eu-api.mimecast.com", false},
	}
	for _, tc := range tests {
		err := ValidateBaseURL(tc.url, extra)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateBaseURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	good := map[string]string{
		"http://127.0.0.1:8080": "http://127.0.0.1:8080",
		"HTTPS://Sim.Test:443/": "https://sim.test",
		"http://[::1]:9000":     "http://[::1]:9000",
		"http://localhost:80":   "http://localhost",
	}
	for in, want := range good {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"127.0.0.1:8080", "http://h:1/path", "http://u:p@h", "ws://h", "http://h?x"} {
		if _, err := NormalizeOrigin(in); err == nil {
			t.Errorf("NormalizeOrigin(%q) accepted", in)
		}
	}
}

func TestNew_ValidatesCredentialsAndBaseURL(t *testing.T) {
	tests := []struct {
		name  string
		creds Credentials
		opts  Options
		want  string
	}{
		{"disallowed host", v2Creds("https://api.example.com"), Options{}, "not a Mimecast API host"},
		{"no version", Credentials{BaseURL: DefaultBaseURL}, Options{}, "API version"},
		{"2.0 without secret", Credentials{APIVersion: "2.0", BaseURL: DefaultBaseURL, ClientID: "x"}, Options{}, "client secret is required"},
		{"1.0 missing keys", Credentials{APIVersion: "1.0", BaseURL: "https://eu-api.mimecast.com", AppID: "a"}, Options{}, "access key is required"},
		{"1.0 bad secret key", func() Credentials { c := v1Creds("https://eu-api.mimecast.com"); c.SecretKey = "%%%"; return c }(), Options{}, "not valid base64"},
		{"bad extra origin", v2Creds(DefaultBaseURL), Options{AllowedOrigins: []string{"localhost:1"}}, "origin"},
		{"bad SIEM format", v1Creds("https://eu-api.mimecast.com"), Options{SIEMFormat: "xml"}, "SIEM format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.creds, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "%%%") {
				t.Error("error repeats the secret key")
			}
		})
	}
	if _, err := New(v2Creds(DefaultBaseURL), Options{}); err != nil {
		t.Errorf("valid 2.0 credentials refused: %v", err)
	}
}

func TestCheckFileURL(t *testing.T) {
	extra := []string{"http://127.0.0.1:9000"}
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://bucket.s3.eu-west-1.amazonaws.com/a/b.json.gz?X-Amz-Signature=x", true},
		{"http://127.0.0.1:9000/files/a.gz?sig=1", true},
		{"http://127.0.0.1:9001/files/a.gz", false},
		{"http://bucket.s3.amazonaws.com/a.gz", false},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://[fe80::1]/x", false},
		{"https://user:pw@bucket.s3.amazonaws.com/a.gz", false},
		{"/relative/path", false},
	}
	for _, tc := range tests {
		_, err := checkFileURL(tc.url, extra)
		if (err == nil) != tc.ok {
			t.Errorf("checkFileURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "X-Amz-Signature") {
			t.Errorf("error shows the signature: %v", err)
		}
	}
}

func TestClient_RedirectToOtherHostIsRefused(t *testing.T) {
	other := &counter{}
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.inc() }))
	t.Cleanup(otherSrv.Close)
	e := newEnv(t, model.APIVersion2, func(o *Options) { o.AllowedOrigins = append(o.AllowedOrigins, otherSrv.URL) })
	e.mux.HandleFunc("GET /files/moved.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherSrv.URL+"/stolen", http.StatusTemporaryRedirect)
	})
	e.mux.HandleFunc("GET /files/here.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/files/real.gz", http.StatusFound)
	})
	e.mux.HandleFunc("GET /files/real.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Write(gzipBytes(t, sampleLines(t, "siem-v2-journal.jsonl")[0]))
	})
	_, err := e.client.DownloadSIEMFile(t.Context(), BatchFile{URL: e.srv.URL + "/files/moved.gz"}, func(*model.Record) error { return nil })
	if !errors.Is(err, errRedirect) || other.get() != 0 {
		t.Fatalf("err = %v, other host hit %d times; want the redirect refused", err, other.get())
	}
	if len(e.waits.all()) != 0 {
		t.Error("a refused redirect was retried")
	}
	stats, err := e.client.DownloadSIEMFile(t.Context(), BatchFile{URL: e.srv.URL + "/files/here.gz"}, func(*model.Record) error { return nil })
	if err != nil || stats.Records != 1 {
		t.Fatalf("same-host redirect: %+v, %v", stats, err)
	}
}

func TestDialGuard_RefusesLinkLocalAndMetadataAddresses(t *testing.T) {
	for _, addr := range []string{"169.254.169.254:80", "169.254.0.1:443", "[fe80::1]:80", "[fe80::1%lo]:80",
		"[::ffff:169.254.169.254]:80", "[fd00:ec2::254]:80", "100.100.100.200:80"} {
		if err := guardControl("tcp", addr, nil); !errors.Is(err, errBlockedAddress) {
			t.Errorf("guardControl(%s) = %v, want refusal", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:443", "10.1.2.3:443", "[2a00:1450::1]:443", "203.0.113.9:443"} {
		if err := guardControl("tcp", addr, nil); err != nil {
			t.Errorf("guardControl(%s) = %v, want allowed", addr, err)
		}
	}

	// End to end through the client's own transport: the connection is
	// refused before it is made, and not retried.
	hc := NewHTTPClient()
	hc.Transport.(*http.Transport).Proxy = nil // the guard under test, not a proxy from the environment
	w := &waits{}
	c, err := New(v1Creds("http://169.254.169.254"), Options{HTTPClient: hc, AllowedOrigins: []string{"http://169.254.169.254"}, Sleep: w.sleep})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Logs(t.Context(), LogQuery{Stream: model.StreamAudit}, func(*model.Record) error { return nil })
	if !errors.Is(err, errBlockedAddress) || len(w.all()) != 0 {
		t.Fatalf("err = %v (waits %v), want a refused dial without retries", err, w.all())
	}
}

func TestNewHTTPClient_UsesProxyFromEnvironment(t *testing.T) {
	tr, ok := NewHTTPClient().Transport.(*http.Transport)
	if !ok || tr.Proxy == nil || tr.DialContext == nil || tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 {
		t.Fatalf("transport = %+v", tr)
	}
	if reflect.ValueOf(tr.Proxy).Pointer() != reflect.ValueOf(http.ProxyFromEnvironment).Pointer() {
		t.Error("proxy is not taken from the environment")
	}
}
