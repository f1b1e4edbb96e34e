package logging

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNew_WritesJSONToStoreLog(t *testing.T) {
	dir := t.TempDir()
	log, closer, err := New(dir, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("started", "account_id", 3)
	log.Debug("hidden")
	closer.Close()
	b, err := os.ReadFile(filepath.Join(dir, "log", "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"msg":"started"`) || strings.Contains(string(b), "hidden") {
		t.Fatalf("app.log = %s", b)
	}
}

func TestHandler_RedactsSecretNamedAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, slog.LevelDebug))
	log.Info("x", "client_secret", "s1", "SEC_ADMIN_TOKEN", "s2", slog.Group("acct", "secret_key", "s3"), "name", "Acme")
	out := buf.String()
	for _, s := range []string{"s1", "s2", "s3"} {
		if strings.Contains(out, `"`+s+`"`) {
			t.Errorf("log line contains secret %q: %s", s, out)
		}
	}
	if !strings.Contains(out, "Acme") {
		t.Errorf("non-secret attribute lost: %s", out)
	}
}
