package config

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestParse_DefaultsFollowDesign(t *testing.T) {
	c, err := Parse("serve", nil, env(nil), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:5000" || c.StoreDir != "store" || c.QRadarAPI != "" || c.LogLevel != slog.LevelInfo {
		t.Fatalf("defaults = %+v", c)
	}
	if !strings.HasPrefix(c.SyslogTarget, "file:///") || !strings.HasSuffix(c.SyslogTarget, "/store/events.leef") {
		t.Fatalf("default syslog target = %q", c.SyslogTarget)
	}
}

func TestParse_QRadarEnvironment(t *testing.T) {
	c, err := Parse("serve", nil, env(map[string]string{
		"APP_ROOT": "/opt/app-root", "QRADAR_CONSOLE_IP": "10.0.0.5", "QRADAR_CONSOLE_FQDN": "qradar.example.com",
		"QRADAR_APP_ID": "1051", "IS_QROC": "true", "MIMECAST_EXTRA_BASE_URLS": "http://127.0.0.1:8025/, http://localhost:1",
	}), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreDir != "/opt/app-root/store" || c.SyslogTarget != "tcp://10.0.0.5:514" ||
		c.QRadarAPI != "https://qradar.example.com" || c.AppID != "1051" || !c.IsQROC {
		t.Fatalf("config = %+v", c)
	}
	if len(c.AllowBaseURLs) != 2 || c.AllowBaseURLs[0] != "http://127.0.0.1:8025" {
		t.Fatalf("AllowBaseURLs = %q", c.AllowBaseURLs)
	}
}

func TestParse_FlagWinsOverEnvironment(t *testing.T) {
	c, err := Parse("serve", []string{"--listen", "127.0.0.1:6000", "--syslog", "udp://127.0.0.1:514"},
		env(map[string]string{"LISTEN_ADDR": "0.0.0.0:7000", "SYSLOG_TARGET": "tcp://x:1"}), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:6000" || c.SyslogTarget != "udp://127.0.0.1:514" {
		t.Fatalf("config = %+v", c)
	}
}

func TestParse_ReportsEveryProblem(t *testing.T) {
	_, err := Parse("serve", []string{"--listen", "nope", "--log-level", "loud"}, env(nil), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--listen") || !strings.Contains(err.Error(), "--log-level") {
		t.Fatalf("err = %v, want both problems", err)
	}
}
