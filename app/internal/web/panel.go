package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"mimecast-qradar/app/internal/model"
)

// streamInfo describes a stream in the account form.
type streamInfo struct {
	Name        model.Stream
	Label       string
	Description string
	Default     bool
	// BackfillDays is how many days back the stream can be re-collected;
	// 0 when it cannot (model.BackfillRetention).
	BackfillDays int
}

// streamText is the panel's wording for each stream; a stream missing here
// is shown under its own name.
var streamText = map[model.Stream][2]string{
	model.StreamSIEM:                {"SIEM logs (email gateway)", "Receipt, process, delivery, journal, AV, spam and Targeted Threat Protection events of the email gateway (MTA). Needs Enhanced Logging enabled in Mimecast."},
	model.StreamAudit:               {"Audit events", "Administrator and user actions in the Mimecast console."},
	model.StreamTTPURL:              {"TTP URL Protect", "Clicks on rewritten links and the verdict for each."},
	model.StreamTTPAttachment:       {"TTP Attachment Protect", "Attachments sandboxed and their results."},
	model.StreamTTPImpersonation:    {"TTP Impersonation Protect", "Messages flagged as impersonation attempts."},
	model.StreamDLP:                 {"Data Leak Prevention", "Messages that hit a DLP policy."},
	model.StreamMessageRelease:      {"Message release", "Held messages released or rejected by administrators."},
	model.StreamArchiveSearch:       {"Archive searches", "Searches run against the email archive."},
	model.StreamThreatIntelCustomer: {"Threat intel (your account)", "Malicious indicators seen in your own mail flow."},
	model.StreamThreatIntelGrid:     {"Threat intel (Mimecast grid)", "Malicious indicators seen across Mimecast's customers."},
	model.StreamSIEMCI:              {"Cloud Integrated SIEM", "Entities, mail flow and URL clicks of Mimecast Cloud Integrated."},
	model.StreamAwarenessTraining:   {"Awareness training", "Changed rows of the awareness training snapshot."},
}

func streamInfos() []streamInfo {
	out := make([]streamInfo, 0, len(model.SupportedStreams))
	for _, s := range model.SupportedStreams {
		text, ok := streamText[s]
		if !ok {
			text = [2]string{string(s), ""}
		}
		retention, _ := model.BackfillRetention(s)
		out = append(out, streamInfo{Name: s, Label: text[0], Description: text[1], Default: slices.Contains(model.CoreStreams, s),
			BackfillDays: int(retention.Hours() / 24)})
	}
	return out
}

// region is one choice of the account form's region list. The hosts are
// those Mimecast documents for each API generation.
type region struct {
	APIVersion string
	Label      string
	URL        string
}

var regions = []region{
	{model.APIVersion2, "Global (automatic failover)", "https://api.services.mimecast.com"},
	{model.APIVersion2, "United Kingdom (pinned)", "https://uk-api.services.mimecast.com"},
	{model.APIVersion2, "United States (pinned)", "https://us-api.services.mimecast.com"},
	{model.APIVersion1, "Europe, excluding Germany (account code CUK…)", "https://eu-api.mimecast.com"},
	{model.APIVersion1, "Germany (CDE…)", "https://de-api.mimecast.com"},
	{model.APIVersion1, "United States, grid A (CUSA…)", "https://us-api.mimecast.com"},
	{model.APIVersion1, "United States, grid B (CUSB…)", "https://usb-api.mimecast.com"},
	{model.APIVersion1, "Canada (CCA…)", "https://ca-api.mimecast.com"},
	{model.APIVersion1, "South Africa (CSA…)", "https://za-api.mimecast.com"},
	{model.APIVersion1, "Australia (CAU…)", "https://au-api.mimecast.com"},
	{model.APIVersion1, "Offshore, Jersey (je-api)", "https://je-api.mimecast.com"},
	{model.APIVersion1, "Offshore, Jersey (jer-api)", "https://jer-api.mimecast.com"},
	{model.APIVersion1, "United States public sector", "https://uspcom-api.mimecast-pscom-us.com"},
}

// pageData is what templates/index.html renders.
type pageData struct {
	Version          string
	Theme            string
	CSRFToken        string
	AssetVersion     string
	Streams          []streamInfo
	Regions          []region
	DefaultSchedule  string
	DefaultLookback  int
	MaxLookback      int
	QRadarConfigured bool
}

// showPanel renders the configuration panel. QRadar appends
// ?ui=new&theme=... to the first URL only, so the theme is remembered in
// the session for later loads.
func (s *Server) showPanel(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	theme := themeName(r.URL.Query().Get("theme"))
	if theme != "" {
		sess.Values[sessionThemeKey] = theme
	} else if t, _ := sess.Values[sessionThemeKey].(string); t != "" {
		theme = t
	} else {
		theme = "light"
	}
	token := sessionToken(sess)
	if err := s.saveSession(w, r, sess); err != nil {
		s.internalError(w, r, fmt.Errorf("saving session: %w", err))
		return
	}
	data := pageData{
		Version:          s.opts.Version,
		Theme:            theme,
		CSRFToken:        token,
		AssetVersion:     s.assetVersion,
		Streams:          streamInfos(),
		Regions:          regions,
		DefaultSchedule:  defaultSchedule,
		DefaultLookback:  defaultLookbackHours,
		MaxLookback:      maxLookbackHours,
		QRadarConfigured: s.qradar != nil,
	}
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, data); err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// themeName maps QRadar's theme parameter to the panel's two themes; ""
// means no (known) theme was given. Carbon's g90 and g100 are dark.
func themeName(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "":
		return ""
	case strings.Contains(v, "dark"), v == "g90", v == "g100":
		return "dark"
	case strings.Contains(v, "light"), v == "white", v == "g10", v == "default":
		return "light"
	}
	return ""
}

// serveStatic serves files under static/. URLs carrying the current asset
// version (?v=) may be cached for good; others are revalidated hourly.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := path.Clean("/" + strings.TrimPrefix(r.URL.Path, "/static/"))
	f, err := os.Open(filepath.Join(s.staticDir, filepath.FromSlash(name)))
	if err != nil {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
		return
	}
	if r.URL.Query().Get("v") == s.assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=3600")
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// hashDir returns a short hash of every file's path and content under dir,
// used as the assets' cache-busting version.
func hashDir(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		io.WriteString(h, filepath.ToSlash(rel)+"\x00")
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
