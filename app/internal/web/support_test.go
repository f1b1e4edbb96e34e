package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

const (
	secretProxyPassword = "px-SECRET-31337abc"
	bearerToken         = "eyJhbGciOi.SECRETTOKEN.sig"
)

// writeFakeLog writes an app.log of about 1.5 MiB in which the app has,
// against every rule, logged secrets; the last of them fall within the
// bundle's last MiB.
func writeFakeLog(t *testing.T, path string) (lastLine string) {
	t.Helper()
	var b bytes.Buffer
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, `{"time":"2026-11-22T10:00:00Z","level":"INFO","msg":%q}`+"\n", fmt.Sprintf(format, args...))
	}
	for i := 0; b.Len() < 3<<19; i++ {
		switch i % 1000 {
		case 17:
			line("oops, token request body client_id=x&client_secret=%s&grant_type=client_credentials", secretClient)
		case 18:
			line("signing with app key %s access key %s secret key %s", secretApp, secretAccess, secretKey)
		case 19:
			line("proxy said 407 for password %s", secretProxyPassword)
		case 20:
			line("GET /api/audit/get-audit-events Authorization: Bearer %s", bearerToken)
		default:
			line("collection run finished account=%d events=%d", i%7, i)
		}
	}
	lastLine = `{"level":"INFO","msg":"the very last line"}`
	b.WriteString(lastLine + "\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return lastLine
}

func TestSupportBundle_HasEverythingSupportNeedsAndNoSecret(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "log", "app.log")
	env := newTestEnv(t, func(o *Options) { o.LogFile = logFile })
	c := env.client()
	var a2, a1 accountJSON
	c.json("POST", "/api/accounts", account2("Acme EU"), http.StatusCreated, &a2)
	c.json("POST", "/api/accounts", account1("Beta Legacy"), http.StatusCreated, &a1)
	c.json("PUT", "/api/settings", map[string]any{"proxy_url": "http://proxy.example.com:3128", "proxy_username": "svc-mimecast",
		"proxy_password": secretProxyPassword}, http.StatusOK, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := env.store.AddRun(ctx, model.Run{AccountID: a1.ID, Stream: "siem", Started: now, Ended: now, Outcome: "error",
		Error: "Mimecast answered 401 for access key " + secretAccess}); err != nil {
		t.Fatal(err)
	}
	lastLine := writeFakeLog(t, logFile)

	resp := c.send("GET", "/api/support-bundle", nil, nil)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="mimecast-qradar-support-`) {
		t.Fatalf("GET /api/support-bundle: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		files[f.Name] = string(b)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if fmt.Sprint(names) != "[README.txt app.log audit.json config.json qradar.json runs.json status.json version.json]" {
		t.Fatalf("bundle files = %v", names)
	}

	secrets := append(slices.Clone(allSecrets), secretProxyPassword, bearerToken)
	for name, content := range files {
		for _, s := range secrets {
			if strings.Contains(content, s) {
				t.Errorf("%s contains the secret %q", name, s)
			}
		}
	}
	if bytes.Contains(raw, []byte("SECRET")) {
		t.Error("the zip's bytes contain SECRET")
	}

	log := files["app.log"]
	if len(log) > maxLogTail || len(log) < maxLogTail-4096 || !strings.HasSuffix(log, lastLine+"\n") || !strings.HasPrefix(log, `{"time"`) {
		t.Errorf("app.log: %d bytes, starts %.40q, ends %q", len(log), log, log[max(0, len(log)-60):])
	}
	for _, want := range []string{"client_secret=" + redacted + "&grant_type", "app key " + redacted + " access key " + redacted,
		"password " + redacted, "Bearer " + redacted} {
		if !strings.Contains(log, want) {
			t.Errorf("app.log lacks %q", want)
		}
	}
	if !strings.Contains(files["runs.json"], "access key "+redacted) {
		t.Errorf("runs.json = %.300s", files["runs.json"])
	}

	var cfg struct {
		Accounts []map[string]any `json:"accounts"`
		Settings map[string]any   `json:"settings"`
	}
	if err := json.Unmarshal([]byte(files["config.json"]), &cfg); err != nil || len(cfg.Accounts) != 2 {
		t.Fatalf("config.json = %s (%v)", files["config.json"], err)
	}
	if cfg.Accounts[0]["client_secret_set"] != true || cfg.Accounts[1]["secret_key_set"] != true ||
		cfg.Settings["proxy_password_set"] != true || cfg.Settings["proxy_url"] != "http://proxy.example.com:3128" {
		t.Errorf("config.json = %s", files["config.json"])
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(files["status.json"]), &st); err != nil || len(st.Accounts) != 2 || st.Accounts[0].Streams[0].LagState == "" {
		t.Errorf("status.json = %s (%v)", files["status.json"], err)
	}
	var version map[string]string
	json.Unmarshal([]byte(files["version.json"]), &version)
	if version["version"] != "1.2.3" || version["go_version"] == "" {
		t.Errorf("version.json = %s", files["version.json"])
	}
	if !strings.Contains(files["qradar.json"], `"state":"off"`) || !strings.Contains(files["audit.json"], `"account_create"`) ||
		!strings.Contains(files["README.txt"], "app.log: the last MiB") {
		t.Errorf("qradar.json %s; audit.json %.200s; README %s", files["qradar.json"], files["audit.json"], files["README.txt"])
	}
	if entries := auditTrail(t, c); entries[0].Action != auditSupportBundle {
		t.Errorf("newest audit entry = %+v, want the bundle download", entries[0])
	}
}

func TestSupportBundle_WithoutLogSaysSo(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.LogFile = filepath.Join(t.TempDir(), "missing.log") })
	c := env.client()
	resp := c.send("GET", "/api/support-bundle", nil, nil)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bundle: %d %v", resp.StatusCode, err)
	}
	for _, f := range zr.File {
		if f.Name == "app.log" {
			t.Error("a bundle without a log file has app.log")
		}
		if f.Name == "README.txt" {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			if !strings.Contains(string(b), "app.log: missing") {
				t.Errorf("README = %s", b)
			}
		}
	}
}

func TestLogTail_StartsAtALineBoundary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	os.WriteFile(path, []byte("first line with cs-SECRET\nsecond\nthird\n"), 0o600)
	for _, tc := range []struct {
		limit int64
		want  string
	}{
		{1 << 20, "first line with cs-SECRET\nsecond\nthird\n"},
		{14, "second\nthird\n"}, // the window starts right after a line break
		{12, "third\n"},         // "econd\nthird\n" minus the cut line
		{3, ""},                 // no whole line fits
	} {
		got, err := logTail(path, tc.limit)
		if err != nil || string(got) != tc.want {
			t.Errorf("logTail(%d) = %q, %v; want %q", tc.limit, got, err, tc.want)
		}
	}
}
