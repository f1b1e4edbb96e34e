package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// Audit actions: what the audit trail records.
const (
	auditAccountCreate  = "account_create"
	auditAccountUpdate  = "account_update"
	auditAccountEnable  = "account_enable"
	auditAccountDisable = "account_disable"
	auditAccountDelete  = "account_delete"
	auditCollectNow     = "collect_now"
	auditStreamReset    = "stream_position_reset"
	auditBackfill       = "stream_backfill_requested"
	auditBackfillCancel = "stream_backfill_cancelled"
	auditSettings       = "settings_update"
	auditConfigExport   = "config_export"
	auditConfigImport   = "config_import"
	auditSupportBundle  = "support_bundle"
	auditQRadarSetup    = "qradar_setup"
	auditQRadarDeploy   = "qradar_deploy"
	auditQRadarChange   = "qradar_change"
)

const (
	// actorHeader names the QRadar user when the console's proxy (or a
	// front end the operator controls) sets it. QRadar documents no such
	// header; the daemon can supply a verified name through Options.Actor.
	actorHeader = "X-QRadar-User"
	// unknownActor is recorded when nobody is named.
	unknownActor   = "panel user (unknown)"
	maxActorLength = 100

	// AuditEventID is the LEEF EventID of audit entries sent to QRadar.
	AuditEventID = "collector_config_change"
	// auditLogSource is the syslog host name of audit events: they concern
	// the app, not one Mimecast account's log source.
	auditLogSource = "mimecast-qradar"
	// maxAuditDetailsBytes bounds mcDetails so an audit event stays well
	// under any syslog target's message size.
	maxAuditDetailsBytes = 1000
	// maxAuditQueue bounds the audit events waiting to be sent.
	maxAuditQueue    = 5000
	auditSendTimeout = 15 * time.Second

	defaultAuditLimit = 100
	maxAuditLimit     = 500
)

// actor names who made a request: Options.Actor, else the X-QRadar-User
// header, else unknownActor. The name is cleaned of control characters and
// shortened, as it is shown and sent to QRadar.
func (s *Server) actor(r *http.Request) string {
	name := ""
	if s.opts.Actor != nil {
		name = s.opts.Actor(r)
	}
	if strings.TrimSpace(name) == "" {
		name = r.Header.Get(actorHeader)
	}
	name = strings.TrimSpace(strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, strings.ToValidUTF8(name, "\uFFFD")))
	if name == "" {
		return unknownActor
	}
	if utf8.RuneCountInString(name) > maxActorLength {
		name = string([]rune(name)[:maxActorLength])
	}
	return name
}

// record appends an entry to the audit trail and sends it to QRadar in the
// background. The change it describes has already happened, so a failure
// to record is logged and not reported to the caller.
func (s *Server) record(r *http.Request, action, target string, details map[string]string) {
	e := store.AuditEntry{Time: s.now(), Actor: s.actor(r), Action: action, Target: target, Details: details}
	if err := s.store.AddAudit(context.WithoutCancel(r.Context()), &e); err != nil {
		s.log.Error("recording an audit entry failed", "action", action, "error", err)
		return
	}
	s.log.Info("configuration changed", "audit_id", e.ID, "action", action, "target", target, "actor", e.Actor)
	s.sendAudit(e)
}

// sendAudit queues the entry for Options.SendAuditEvent without waiting.
// One goroutine sends the queue in order while it is not empty, so an
// import of many accounts neither opens many connections at once nor loses
// events; past maxAuditQueue waiting events, new ones are dropped (they stay
// in the audit trail) and a warning is logged.
func (s *Server) sendAudit(e store.AuditEntry) {
	if s.opts.SendAuditEvent == nil {
		return
	}
	line := formatAuditEvent(s.opts.Version, e)
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	if len(s.auditQueue) >= maxAuditQueue {
		s.log.Warn("too many audit events waiting to be sent; this one stays in the audit trail only", "audit_id", e.ID)
		return
	}
	s.auditQueue = append(s.auditQueue, auditLine{e.ID, line})
	if !s.auditSending {
		s.auditSending = true
		go s.drainAudit()
	}
}

type auditLine struct {
	id   int64
	line []byte
}

// drainAudit sends queued audit events until the queue is empty.
func (s *Server) drainAudit() {
	for {
		s.auditMu.Lock()
		if len(s.auditQueue) == 0 {
			s.auditSending = false
			s.auditMu.Unlock()
			return
		}
		next := s.auditQueue[0]
		s.auditQueue = s.auditQueue[1:]
		s.auditMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), auditSendTimeout)
		if err := s.opts.SendAuditEvent(ctx, next.line); err != nil {
			s.log.Warn("sending an audit event to QRadar failed", "audit_id", next.id, "error", err)
		}
		cancel()
	}
}

// auditSeverity is the LEEF sev of an action: removing and bulk changes
// rank above routine edits.
func auditSeverity(action string) int {
	switch action {
	case auditAccountDelete, auditConfigImport, auditQRadarDeploy:
		return 5
	}
	return 3
}

// formatAuditEvent formats an audit entry as one syslog message with the
// header of design §6 and EventID collector_config_change: the added keys
// (devTime, devTimeFormat, cat = the action, sev, usrName = the actor,
// mcLogType, mcAccount when the entry concerns an account) and mcAuditId,
// mcAction, mcTarget and mcDetails (the details as JSON text). Values are
// sanitised like record fields.
func formatAuditEvent(version string, e store.AuditEntry) []byte {
	if version == "" {
		version = "dev"
	}
	sev := auditSeverity(e.Action)
	t := e.Time.UTC()
	var b []byte
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(leef.Facility*8+leef.SyslogSeverity(sev)), 10)
	b = append(b, ">1 "...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, " "+auditLogSource+" mimecast-qradar - - - LEEF:2.0|Mimecast|"...)
	b = appendLEEFHeaderField(b, leef.Product(""))
	b = append(b, '|')
	b = appendLEEFHeaderField(b, version)
	b = append(b, "|"+AuditEventID+"|x09|devTime="...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000-0700")
	b = append(b, "\tdevTimeFormat="+leef.DevTimeFormat+"\tcat="...)
	b = appendLEEFValue(b, e.Action)
	b = strconv.AppendInt(append(b, "\tsev="...), int64(sev), 10)
	b = appendLEEFValue(append(b, "\tusrName="...), e.Actor)
	b = append(b, "\tmcLogType="+AuditEventID...)
	if e.Details["account_id"] != "" {
		b = appendLEEFValue(append(b, "\tmcAccount="...), e.Target)
	}
	b = strconv.AppendInt(append(b, "\tmcAuditId="...), e.ID, 10)
	b = appendLEEFValue(append(b, "\tmcAction="...), e.Action)
	b = appendLEEFValue(append(b, "\tmcTarget="...), e.Target)
	details, _ := json.Marshal(e.Details)
	truncated := len(details) > maxAuditDetailsBytes
	if truncated {
		details = details[:maxAuditDetailsBytes]
		for len(details) > 0 && !utf8.Valid(details) {
			details = details[:len(details)-1]
		}
	}
	b = appendLEEFValue(append(b, "\tmcDetails="...), string(details))
	if truncated {
		b = append(b, "\tmcTruncated=true"...)
	}
	return b
}

// appendLEEFHeaderField appends a LEEF header field: '|' becomes '_',
// control characters a space, invalid UTF-8 bytes U+FFFD.
func appendLEEFHeaderField(dst []byte, s string) []byte {
	return appendCleaned(dst, s, func(c rune) string {
		switch {
		case c == '|':
			return "_"
		case unicode.IsControl(c):
			return " "
		}
		return ""
	})
}

// appendLEEFValue appends an attribute value: tab, CR and LF become a
// space, each invalid UTF-8 byte U+FFFD (design §6).
func appendLEEFValue(dst []byte, s string) []byte {
	return appendCleaned(dst, s, func(c rune) string {
		if c == '\t' || c == '\r' || c == '\n' {
			return " "
		}
		return ""
	})
}

// appendCleaned appends s, replacing each rune for which replace returns a
// non-empty string and each invalid byte with U+FFFD.
func appendCleaned(dst []byte, s string, replace func(rune) string) []byte {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, "\uFFFD"...)
		case replace(c) != "":
			dst = append(dst, replace(c)...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// auditWriter wraps w to learn the status and, when keep is set, the body.
func auditWriter(w http.ResponseWriter, r *http.Request, keep *bytes.Buffer) middleware.WrapResponseWriter {
	ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
	if keep != nil {
		ww.Tee(keep)
	}
	return ww
}

func succeeded(ww middleware.WrapResponseWriter) bool {
	st := ww.Status()
	if st == 0 {
		st = http.StatusOK
	}
	return st >= 200 && st < 300
}

// auditAccount records a successful account change made by the handler it
// wraps: the account before (from the {id} in the path) and after are
// compared, so the details name each field changed and never a secret's
// value. A re-collection's details name the stream and the period pending
// after the request, or, for a cancellation, before it.
func (s *Server) auditAccount(action string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			var before *model.Account
			if id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64); err == nil {
				before, _ = s.store.Account(ctx, id) // a missing account is the handler's 404
			}
			stream := model.Stream(chi.URLParam(r, "stream"))
			var cancelled *model.Backfill
			if action == auditBackfillCancel && before != nil {
				cancelled = s.pendingBackfill(ctx, before.ID, stream)
			}
			var body *bytes.Buffer
			if action == auditAccountCreate {
				body = &bytes.Buffer{}
			}
			ww := auditWriter(w, r, body)
			next.ServeHTTP(ww, r)
			if !succeeded(ww) {
				return
			}
			switch action {
			case auditAccountCreate:
				var created struct{ ID int64 }
				if json.Unmarshal(body.Bytes(), &created) != nil {
					return
				}
				if after, err := s.store.Account(ctx, created.ID); err == nil {
					s.record(r, action, after.Name, accountDetails(after))
				}
			case auditAccountUpdate:
				if before == nil {
					return
				}
				after, err := s.store.Account(ctx, before.ID)
				if err != nil {
					return
				}
				act := action
				switch {
				case !before.Enabled && after.Enabled:
					act = auditAccountEnable
				case before.Enabled && !after.Enabled:
					act = auditAccountDisable
				}
				s.record(r, act, after.Name, accountChanges(before, after))
			case auditBackfill:
				if before != nil {
					s.record(r, action, before.Name, backfillDetails(before.ID, stream, s.pendingBackfill(ctx, before.ID, stream)))
				}
			case auditBackfillCancel:
				if before != nil {
					s.record(r, action, before.Name, backfillDetails(before.ID, stream, cancelled))
				}
			default:
				if before != nil {
					s.record(r, action, before.Name, map[string]string{"account_id": strconv.FormatInt(before.ID, 10)})
				}
			}
		})
	}
}

// backfillDetails describes a re-collection of stream of account id: the
// period b when known.
func backfillDetails(id int64, stream model.Stream, b *model.Backfill) map[string]string {
	d := map[string]string{"account_id": strconv.FormatInt(id, 10), "stream": string(stream)}
	if b != nil {
		d["from"] = b.From.UTC().Format(time.RFC3339)
		d["to"] = b.To.UTC().Format(time.RFC3339)
	}
	return d
}

// accountFields are an account's non-secret settings as audit details.
func accountFields(a *model.Account) map[string]string {
	streams := make([]string, len(a.Streams))
	for i, st := range a.Streams {
		streams[i] = string(st)
	}
	return map[string]string{
		"name":                   a.Name,
		"enabled":                strconv.FormatBool(a.Enabled),
		"api_version":            a.APIVersion,
		"base_url":               a.BaseURL,
		"client_id":              a.ClientID,
		"app_id":                 a.AppID,
		"streams":                strings.Join(streams, ","),
		"schedule":               a.Schedule,
		"log_source_identifier":  a.LogSourceIdentifier,
		"initial_lookback_hours": strconv.Itoa(a.InitialLookbackHours),
	}
}

// accountDetails describes a new account: its settings and which secrets
// were entered.
func accountDetails(a *model.Account) map[string]string {
	d := accountFields(a)
	for k, v := range d {
		if v == "" {
			delete(d, k)
		}
	}
	d["account_id"] = strconv.FormatInt(a.ID, 10)
	for _, f := range model.SecretFields {
		if *a.Secret(f) != "" {
			d[f] = "set"
		}
	}
	return d
}

// accountChanges describes an update: "old → new" per changed setting, and
// "set", "changed" or "removed" per changed secret.
func accountChanges(before, after *model.Account) map[string]string {
	d := map[string]string{"account_id": strconv.FormatInt(after.ID, 10)}
	old, cur := accountFields(before), accountFields(after)
	for k, v := range cur {
		if old[k] != v {
			d[k] = old[k] + " → " + v
		}
	}
	for _, f := range model.SecretFields {
		if c := secretChange(*before.Secret(f), *after.Secret(f)); c != "" {
			d[f] = c
		}
	}
	return d
}

// secretChange says how a secret changed without saying what it is.
func secretChange(before, after string) string {
	switch {
	case before == after:
		return ""
	case before == "":
		return "set"
	case after == "":
		return "removed"
	}
	return "changed"
}

// settingsState is what the settings audit compares; password is never
// recorded, only whether it changed.
type settingsState struct {
	values   map[string]string
	password string
}

func (s *Server) settingsState(ctx context.Context) (settingsState, error) {
	st := settingsState{values: map[string]string{}}
	for _, key := range []string{SettingSyslogTarget, SettingProxyURL, SettingProxyUsername} {
		v, _, err := s.store.Setting(ctx, key)
		if err != nil {
			return st, err
		}
		st.values[key] = v
	}
	st.values[SettingSyslogTarget] = redactTarget(st.values[SettingSyslogTarget])
	pw, _, err := s.store.SecretSetting(ctx, settingProxyPassword)
	if err != nil {
		pw = "\x00unreadable" // sealed with another key: any new value is a change
	}
	st.password = pw
	return st, nil
}

// auditSettings records a successful change of the global settings.
func (s *Server) auditSettings(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before, err := s.settingsState(r.Context())
		ww := auditWriter(w, r, nil)
		next.ServeHTTP(ww, r)
		if err != nil || !succeeded(ww) {
			return
		}
		after, err := s.settingsState(r.Context())
		if err != nil {
			return
		}
		d := map[string]string{}
		for k, v := range after.values {
			if before.values[k] != v {
				d[k] = s.settingText(k, before.values[k]) + " → " + s.settingText(k, v)
			}
		}
		if c := secretChange(before.password, after.password); c != "" {
			d[settingProxyPassword] = c
		}
		s.record(r, auditSettings, "settings", d)
	})
}

// settingText shows a setting's value in the audit trail; empty means the
// default syslog target, or no proxy.
func (s *Server) settingText(key, v string) string {
	switch {
	case v != "":
		return v
	case key == SettingSyslogTarget:
		return "default (" + redactTarget(s.opts.DefaultSyslogTarget) + ")"
	}
	return "(none)"
}

// auditQRadar records the successful changes made through the QRadar
// routes (set-up, deploy, marking quick searches); running a search
// changes nothing and is not recorded.
func (s *Server) auditQRadar(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasSuffix(r.URL.Path, "/run") {
			next.ServeHTTP(w, r)
			return
		}
		ww := auditWriter(w, r, nil)
		next.ServeHTTP(ww, r)
		if !succeeded(ww) {
			return
		}
		switch r.URL.Path {
		case "/api/qradar/setup":
			s.record(r, auditQRadarSetup, "QRadar", nil)
		case "/api/qradar/deploy":
			s.record(r, auditQRadarDeploy, "QRadar", nil)
		default:
			s.record(r, auditQRadarChange, "QRadar", map[string]string{"request": r.Method + " " + r.URL.Path})
		}
	})
}

// listAudit answers GET /api/audit?limit=&before=: the newest entries
// first, older ones by passing the last id seen as before.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	limit := defaultAuditLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive whole number")
			return
		}
		limit = min(n, maxAuditLimit)
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "before must be an audit entry id")
			return
		}
		before = n
	}
	entries, err := s.store.AuditEntries(r.Context(), limit, before)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, entries)
}
