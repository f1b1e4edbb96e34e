package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/model"
)

const (
	// maxLogTail is how much of the end of app.log a support bundle carries.
	maxLogTail = 1 << 20
	// bundleRuns is the run history per account in a bundle.
	bundleRuns = 200
	// bundleAudit is the audit entries in a bundle.
	bundleAudit = 500
	// redacted replaces every secret found in a bundle.
	redacted = "[REDACTED]"
	// minScrubLength: shorter stored values are not searched for, as
	// replacing them would blank out ordinary words of the log.
	minScrubLength = 6
)

// secretPatterns catch credentials the app never stores but could still
// see (OAuth access tokens) and key=value forms of secrets.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+`),
	regexp.MustCompile(`(?i)(\b(?:client_secret|secret_key|access_key|app_key|password|access_token)=)[^&\s"']+`),
}

// supportBundle answers GET /api/support-bundle with a zip for support
// staff: version, configuration (secrets only as <field>_set), stream
// status with lag, run history, the audit trail, the QRadar set-up state
// and the last MiB of app.log. Every stored secret is searched for in every
// file and replaced, as are bearer tokens and key=value secrets, so an
// accidental leak into the log does not travel on in the bundle.
func (s *Server) supportBundle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := s.now().UTC()
	accounts, err := s.store.ListAccounts(ctx)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	scrub := s.scrubber(ctx, accounts)
	var files []bundleFile
	add := func(name string, content []byte) {
		files = append(files, bundleFile{name, scrub(content)})
	}
	addJSON := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			b = []byte(`{"error": "could not be encoded"}`)
		}
		add(name, append(b, '\n'))
	}
	failed := func(what string, err error) map[string]string {
		s.log.Warn("support bundle: part missing", "part", what, "error", err)
		return map[string]string{"error": what + " could not be read: " + err.Error()}
	}

	addJSON("version.json", map[string]string{"version": s.opts.Version, "generated_at": now.Format(time.RFC3339),
		"go_version": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})

	cfg := map[string]any{}
	list := make([]accountJSON, len(accounts))
	for i := range accounts {
		list[i] = toAccountJSON(&accounts[i])
	}
	cfg["accounts"] = list
	if target, err := s.SyslogTarget(ctx); err != nil {
		cfg["settings"] = failed("settings", err)
	} else if proxy, err := s.proxySettings(ctx); err != nil {
		cfg["settings"] = failed("settings", err)
	} else {
		cfg["settings"] = settingsResponse{
			settingsJSON:      settingsJSON{SyslogTarget: redactTarget(target), SyslogTargetDefault: redactTarget(s.opts.DefaultSyslogTarget)},
			proxySettingsJSON: proxy,
		}
	}
	addJSON("config.json", cfg)

	if st, err := s.collector.Status(ctx); err != nil {
		addJSON("status.json", failed("status", err))
	} else if out, err := s.statusWithLag(ctx, st); err != nil {
		addJSON("status.json", failed("status", err))
	} else {
		addJSON("status.json", out)
	}

	runs := map[string][]model.Run{}
	for _, a := range accounts {
		rs, err := s.store.Runs(ctx, a.ID, bundleRuns)
		if err != nil {
			addJSON("runs.json", failed("run history", err))
			runs = nil
			break
		}
		runs[fmt.Sprintf("%d %s", a.ID, a.Name)] = rs
	}
	if runs != nil {
		addJSON("runs.json", runs)
	}

	if entries, err := s.store.AuditEntries(ctx, bundleAudit, 0); err != nil {
		addJSON("audit.json", failed("audit trail", err))
	} else {
		addJSON("audit.json", entries)
	}

	add("qradar.json", s.qradarState(r))

	logNote := "app.log: the last MiB of the app's log."
	if tail, err := logTail(s.opts.LogFile, maxLogTail); err != nil {
		logNote = "app.log: missing (" + err.Error() + ")."
	} else {
		add("app.log", tail)
	}

	add("README.txt", []byte(fmt.Sprintf(`Mimecast Log Collector for QRadar: support bundle
Generated %s by version %s.

version.json  app version and platform
config.json   accounts and settings; secrets are never included, only whether each is set (<field>_set)
status.json   state and lag of every account and stream, as GET /api/status shows them
runs.json     the last %d collection runs of each account
audit.json    the last %d configuration changes (who, what, when)
qradar.json   the QRadar set-up state, as GET /api/qradar shows it
%s

Every stored secret, bearer token and key=value secret found in these files
was replaced by %s.
`, now.Format(time.RFC3339), s.opts.Version, bundleRuns, bundleAudit, logNote, redacted)))

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	slices.SortFunc(files, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })
	for _, f := range files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now})
		if err == nil {
			_, err = fw.Write(f.content)
		}
		if err != nil {
			s.internalError(w, r, fmt.Errorf("writing the support bundle: %w", err))
			return
		}
	}
	if err := zw.Close(); err != nil {
		s.internalError(w, r, fmt.Errorf("writing the support bundle: %w", err))
		return
	}
	s.record(r, auditSupportBundle, "support bundle", nil)
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="mimecast-qradar-support-`+now.Format("20060102T150405Z")+`.zip"`)
	w.Write(buf.Bytes())
}

type bundleFile struct {
	name    string
	content []byte
}

// scrubber returns a function that replaces every stored secret (account
// secrets, the proxy password, the session keys), also in its JSON-escaped
// and URL-encoded forms, and the secretPatterns.
func (s *Server) scrubber(ctx context.Context, accounts []model.Account) func([]byte) []byte {
	var values []string
	addValue := func(v string) {
		if len(v) < minScrubLength {
			return
		}
		values = append(values, v)
		if j, err := json.Marshal(v); err == nil {
			values = append(values, string(j[1:len(j)-1]))
		}
		values = append(values, url.QueryEscape(v), url.PathEscape(v))
	}
	for i := range accounts {
		for _, f := range model.SecretFields {
			addValue(*accounts[i].Secret(f))
		}
	}
	if pw, _, err := s.store.SecretSetting(ctx, settingProxyPassword); err == nil {
		addValue(pw)
	}
	if keys, _, err := s.store.SecretSetting(ctx, settingSessionKeys); err == nil {
		for _, k := range strings.Split(keys, ":") {
			addValue(k)
		}
	}
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) }) // longest first
	values = slices.Compact(values)
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, redacted)
	}
	replacer := strings.NewReplacer(pairs...)
	return func(b []byte) []byte {
		out := []byte(replacer.Replace(string(b)))
		for _, p := range secretPatterns {
			out = p.ReplaceAll(out, []byte("${1}"+redacted))
		}
		return out
	}
}

// logTail returns the last limit bytes of the file at path, starting at a
// line boundary so no line (and no secret in it) is cut in two.
func logTail(path string, limit int64) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("no log file is configured")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start := max(0, fi.Size()-limit)
	b, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return nil, err
	}
	if start > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		} else {
			b = nil
		}
	}
	return b, nil
}

// qradarState is the body GET /api/qradar answers, taken from the same
// routes the API serves.
func (s *Server) qradarState(r *http.Request) []byte {
	mux := chi.NewRouter()
	if s.qradar != nil {
		s.qradar.Routes(mux)
	} else {
		s.qradarOffRoutes(mux)
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "/api/qradar", nil)
	if err != nil {
		return []byte(`{"error": "the QRadar state could not be read"}`)
	}
	rec := &bufferWriter{header: http.Header{}}
	mux.ServeHTTP(rec, req)
	return rec.body.Bytes()
}

// bufferWriter is an http.ResponseWriter that keeps the body.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(status int)      { b.status = status }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
