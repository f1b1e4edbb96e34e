// Package config turns command-line flags and environment variables into the
// process configuration of design §4. Every flag has an environment variable;
// the flag wins when both are given.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Config is the process configuration. It is built once in main and passed
// explicitly; nothing reads it from a global.
type Config struct {
	Listen        string
	StoreDir      string
	WebDir        string
	SyslogTarget  string
	AllowBaseURLs []string
	QRadarAPI     string
	LogLevel      slog.Level

	// From QRadar's environment (qradar-app-framework.md §4.3).
	AppID       string // QRADAR_APP_ID: used in cookie names and paths
	AppUUID     string // QRADAR_APP_UUID: key material for sealing secrets
	CABundle    string // REQUESTS_CA_BUNDLE
	QRadarProxy string // QRADAR_REST_PROXY
	IsQROC      bool   // IS_QROC

	// Getenv reads the environment at the moment of use, for values that
	// must never be kept (SEC_ADMIN_TOKEN is read on every QRadar attempt).
	Getenv Getenv
}

// Getenv looks up an environment variable (os.Getenv in production).
type Getenv func(string) string

// Parse reads the flags of one command from args, with defaults from the
// environment. extra lets a command register its own flags on the same set.
func Parse(name string, args []string, getenv Getenv, stderr io.Writer, extra func(*flag.FlagSet)) (Config, error) {
	c := Config{Getenv: getenv}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)

	appRoot := getenv("APP_ROOT")
	defStore := "store"
	if appRoot != "" {
		defStore = filepath.Join(appRoot, "store")
	}
	var allow, level string
	fs.StringVar(&c.Listen, "listen", envOr(getenv, "LISTEN_ADDR", "0.0.0.0:5000"), "HTTP listen address [LISTEN_ADDR]")
	fs.StringVar(&c.StoreDir, "store", envOr(getenv, "STORE_DIR", defStore), "persistent directory: database, secrets, log/ [STORE_DIR]")
	fs.StringVar(&c.WebDir, "web-dir", getenv("WEB_DIR"), "directory holding templates/ and static/ [WEB_DIR] (default: next to the binary, or $APP_ROOT/app)")
	fs.StringVar(&c.SyslogTarget, "syslog", getenv("SYSLOG_TARGET"), "where events go: tcp://, tls://, udp:// or file:// [SYSLOG_TARGET] (default: tcp://$QRADAR_CONSOLE_IP:514, else file://<store>/events.leef)")
	fs.StringVar(&allow, "allow-base-url", getenv("MIMECAST_EXTRA_BASE_URLS"), "extra Mimecast origins, comma-separated, for simulators and tests [MIMECAST_EXTRA_BASE_URLS]")
	fs.StringVar(&c.QRadarAPI, "qradar-api", defaultQRadarAPI(getenv), "base URL of the QRadar REST API [QRADAR_API_URL] (default: https://$QRADAR_CONSOLE_FQDN)")
	fs.StringVar(&level, "log-level", envOr(getenv, "LOG_LEVEL", "info"), "log level: debug, info, warn, error [LOG_LEVEL]")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	for _, o := range strings.Split(allow, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowBaseURLs = append(c.AllowBaseURLs, strings.TrimRight(o, "/"))
		}
	}
	if c.SyslogTarget == "" {
		if ip := getenv("QRADAR_CONSOLE_IP"); ip != "" {
			c.SyslogTarget = "tcp://" + net.JoinHostPort(strings.Trim(ip, "[]"), "514")
		} else {
			abs, err := filepath.Abs(filepath.Join(c.StoreDir, "events.leef"))
			if err != nil {
				return c, fmt.Errorf("resolving store directory: %w", err)
			}
			c.SyslogTarget = "file://" + abs
		}
	}
	if c.WebDir == "" {
		c.WebDir = findWebDir(appRoot)
	}
	c.AppID = getenv("QRADAR_APP_ID")
	c.AppUUID = getenv("QRADAR_APP_UUID")
	c.CABundle = getenv("REQUESTS_CA_BUNDLE")
	c.QRadarProxy = getenv("QRADAR_REST_PROXY")
	c.IsQROC = strings.EqualFold(getenv("IS_QROC"), "true")

	var errs []error
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen: %q is not host:port", c.Listen))
	}
	if c.StoreDir == "" {
		errs = append(errs, errors.New("--store: must not be empty"))
	}
	return c, errors.Join(errs...)
}

func envOr(getenv Getenv, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func defaultQRadarAPI(getenv Getenv) string {
	if v := getenv("QRADAR_API_URL"); v != "" {
		return v
	}
	if fqdn := getenv("QRADAR_CONSOLE_FQDN"); fqdn != "" {
		return "https://" + fqdn
	}
	return ""
}

// findWebDir looks for the directory holding templates/: next to the binary
// (and its parents, for a binary built inside the repository), then
// $APP_ROOT/app, then the working directory.
func findWebDir(appRoot string) string {
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		for range 4 {
			candidates = append(candidates, dir)
			dir = filepath.Dir(dir)
		}
	}
	if appRoot != "" {
		candidates = append(candidates, filepath.Join(appRoot, "app"))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, dir)
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	for _, d := range candidates {
		if fi, err := os.Stat(filepath.Join(d, "templates")); err == nil && fi.IsDir() {
			return d
		}
	}
	return "."
}
