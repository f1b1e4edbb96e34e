// Package logging sets up the app's own diagnostics: JSON lines in
// <store>/log/app.log, rotated by size, where QRadar support looks for them.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Rotation limits for app.log.
const (
	MaxSizeMB  = 10
	MaxBackups = 3
)

// New returns a logger writing to <storeDir>/log/app.log and the closer of
// that file.
func New(storeDir string, level slog.Level) (*slog.Logger, io.Closer, error) {
	dir := filepath.Join(storeDir, "log")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("creating log directory: %w", err)
	}
	w := &lumberjack.Logger{
		Filename:   filepath.Join(dir, "app.log"),
		MaxSize:    MaxSizeMB,
		MaxBackups: MaxBackups,
		Compress:   true,
	}
	return slog.New(NewHandler(w, level)), w, nil
}

// NewHandler returns the app's JSON handler on w. As a second line of
// defence behind "never log a secret", attributes whose key names a secret
// are redacted whatever their value.
func NewHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})
}

func redact(_ []string, a slog.Attr) slog.Attr {
	if IsSecretKey(a.Key) {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// IsSecretKey reports whether an attribute or field name denotes a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"secret", "password", "app_key", "appkey", "access_key", "accesskey", "token", "authorization"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
