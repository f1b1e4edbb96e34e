package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

// Configuration files: GET /api/config/export writes one, POST
// /api/config/import reads one. Secrets are never exported; an imported
// account without them is created disabled until they are entered.
const (
	configFormat  = "mimecast-qradar-config"
	configVersion = 1
	// maxImportBytes bounds an import body: about 2,000 accounts.
	maxImportBytes = 1 << 20
	// maxImportAccounts bounds the accounts of one import.
	maxImportAccounts = 2000
)

// configFile is an exported configuration.
type configFile struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	ExportedAt time.Time       `json:"exported_at"`
	AppVersion string          `json:"app_version"`
	Settings   configSettings  `json:"settings"`
	Accounts   []configAccount `json:"accounts"`
}

// configSettings are the exported global settings. The proxy is not
// exported: it belongs to the network the app runs in.
type configSettings struct {
	// SyslogTarget is the target saved in the panel; "" means the
	// exporting app used its default.
	SyslogTarget string `json:"syslog_target"`
}

// configAccount is an account without its secrets and without what the
// importing app assigns (id, times).
type configAccount struct {
	Name                 string         `json:"name"`
	Enabled              bool           `json:"enabled"`
	APIVersion           string         `json:"api_version"`
	BaseURL              string         `json:"base_url"`
	ClientID             string         `json:"client_id,omitempty"`
	AppID                string         `json:"app_id,omitempty"`
	Streams              []model.Stream `json:"streams"`
	Schedule             string         `json:"schedule"`
	LogSourceIdentifier  string         `json:"log_source_identifier"`
	InitialLookbackHours int            `json:"initial_lookback_hours"`
}

// exportConfig answers GET /api/config/export with a configuration file to
// download.
func (s *Server) exportConfig(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	accounts, err := s.store.ListAccounts(ctx)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	target, _, err := s.store.Setting(ctx, SettingSyslogTarget)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	out := configFile{Format: configFormat, Version: configVersion, ExportedAt: now, AppVersion: s.opts.Version,
		Settings: configSettings{SyslogTarget: redactTarget(target)}, Accounts: make([]configAccount, 0, len(accounts))}
	for _, a := range accounts {
		streams := a.Streams
		if streams == nil {
			streams = []model.Stream{}
		}
		out.Accounts = append(out.Accounts, configAccount{Name: a.Name, Enabled: a.Enabled, APIVersion: a.APIVersion,
			BaseURL: a.BaseURL, ClientID: a.ClientID, AppID: a.AppID, Streams: streams, Schedule: a.Schedule,
			LogSourceIdentifier: a.LogSourceIdentifier, InitialLookbackHours: a.InitialLookbackHours})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.record(r, auditConfigExport, "configuration", map[string]string{"accounts": strconv.Itoa(len(accounts))})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="mimecast-qradar-config-`+now.Format("20060102T150405Z")+`.json"`)
	w.Write(append(b, '\n'))
}

// importResult is the answer of POST /api/config/import.
type importResult struct {
	DryRun       bool             `json:"dry_run"`
	Created      []importCreated  `json:"created"`
	Skipped      []importProblem  `json:"skipped"`
	Failed       []importProblem  `json:"failed"`
	SyslogTarget importTargetNote `json:"syslog_target"`
	Message      string           `json:"message"`
}

type importCreated struct {
	ID      int64  `json:"id"` // 0 in a dry run
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Note says what is left to do, e.g. enter the credentials.
	Note string `json:"note,omitempty"`
}

type importProblem struct {
	Name   string            `json:"name"`
	Reason string            `json:"reason"`
	Fields map[string]string `json:"fields,omitempty"`
}

// importTargetNote says what became of the file's syslog target.
type importTargetNote struct {
	InFile  string `json:"in_file"`
	Applied bool   `json:"applied"`
	Note    string `json:"note"`
}

// importRequest is a configuration file, plus apply_syslog_target to also
// take its syslog target (off by default: after a move, the old target
// usually points at the old QRadar).
type importRequest struct {
	Format            string            `json:"format"`
	Version           int               `json:"version"`
	Settings          *configSettings   `json:"settings"`
	Accounts          []json.RawMessage `json:"accounts"`
	ApplySyslogTarget bool              `json:"apply_syslog_target"`
}

// importConfig answers POST /api/config/import[?dry_run=1]: it creates each
// account of the file whose name (compared case-insensitively) no account
// has, and reports the others as skipped; nothing is overwritten. Accounts
// arrive without secrets, so they are created disabled with a note to
// enter the credentials (a file that carries them, written by hand, keeps
// its enabled flag). A dry run reports the same without creating anything.
func (s *Server) importConfig(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImportBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d MiB", maxImportBytes>>20))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the request body failed")
		return
	case len(strings.TrimSpace(string(body))) == 0:
		writeError(w, http.StatusBadRequest, "the request body is empty; send an exported configuration file")
		return
	}
	if err := checkJSON(body); err != nil {
		writeBodyError(w, err)
		return
	}
	var req importRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "this is not a configuration file exported by this app")
		return
	}
	switch {
	case req.Format != configFormat:
		writeFieldErrors(w, fieldErrors{"format": "must be " + strconv.Quote(configFormat) + ": this is not a configuration file exported by this app"})
		return
	case req.Version != configVersion:
		writeFieldErrors(w, fieldErrors{"version": fmt.Sprintf("must be %d: the file was written by another version of the app", configVersion)})
		return
	case req.Accounts == nil:
		writeFieldErrors(w, fieldErrors{"accounts": "is required"})
		return
	case len(req.Accounts) > maxImportAccounts:
		writeFieldErrors(w, fieldErrors{"accounts": fmt.Sprintf("at most %d accounts per file", maxImportAccounts)})
		return
	}
	dryRun := r.URL.Query().Get("dry_run") == "1" || r.URL.Query().Get("dry_run") == "true"
	res, err := s.importAccounts(ctx, r, req, dryRun)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) importAccounts(ctx context.Context, r *http.Request, req importRequest, dryRun bool) (importResult, error) {
	res := importResult{DryRun: dryRun, Created: []importCreated{}, Skipped: []importProblem{}, Failed: []importProblem{}}
	existing, err := s.store.ListAccounts(ctx)
	if err != nil {
		return res, err
	}
	taken := map[string]bool{}
	for _, a := range existing {
		taken[strings.ToLower(a.Name)] = true
	}
	inFile := map[string]bool{}
	var createdNames []string
	for i, raw := range req.Accounts {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil || members == nil {
			res.Failed = append(res.Failed, importProblem{Name: fmt.Sprintf("(entry %d)", i+1), Reason: "is not a JSON object"})
			continue
		}
		a := newAccountDefaults()
		fe := fieldErrors{}
		applyAccountInput(&a, members, fe)
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("(entry %d)", i+1)
		}
		key := strings.ToLower(a.Name)
		switch {
		case a.Name != "" && taken[key]:
			res.Skipped = append(res.Skipped, importProblem{Name: name, Reason: "an account with this name exists already; it was left unchanged"})
			continue
		case a.Name != "" && inFile[key]:
			res.Skipped = append(res.Skipped, importProblem{Name: name, Reason: "the name appears earlier in the file"})
			continue
		}
		validateAccount(&a, s.opts.AllowedOrigins, fe)
		missing := missingSecrets(&a, fe)
		uniqueProblems(&a, existing, fe)
		if len(fe) > 0 {
			res.Failed = append(res.Failed, importProblem{Name: name, Reason: "invalid account settings", Fields: fe})
			continue
		}
		note := ""
		if len(missing) > 0 {
			a.Enabled = false
			note = "enter credentials: edit the account, enter its " + strings.Join(missing, ", ") + " and enable it"
		}
		inFile[key] = true
		if !dryRun {
			err := s.store.CreateAccount(ctx, &a)
			if errors.Is(err, store.ErrConflict) {
				res.Failed = append(res.Failed, importProblem{Name: name, Reason: "the name or log source identifier is taken"})
				continue
			}
			if err != nil {
				return res, err
			}
			s.accountChanged(ctx, a.ID, true)
			d := accountDetails(&a)
			d["source"] = "import"
			s.record(r, auditAccountCreate, a.Name, d)
			createdNames = append(createdNames, a.Name)
		}
		res.Created = append(res.Created, importCreated{ID: a.ID, Name: a.Name, Enabled: a.Enabled, Note: note})
		// Later entries must not clash with this one either; in a dry run
		// it needs an id of its own for uniqueProblems to compare it.
		if dryRun {
			a.ID = -int64(i + 1)
		}
		existing = append(existing, a)
	}

	details := map[string]string{}
	res.SyslogTarget, err = s.importSyslogTarget(ctx, req, dryRun, details)
	if err != nil {
		return res, err
	}
	res.Message = importMessage(res)
	if !dryRun {
		details["created"] = strconv.Itoa(len(res.Created))
		details["skipped"] = strconv.Itoa(len(res.Skipped))
		details["failed"] = strconv.Itoa(len(res.Failed))
		if len(createdNames) > 0 {
			details["accounts"] = strings.Join(createdNames, ", ")
		}
		s.record(r, auditConfigImport, "configuration", details)
	}
	return res, nil
}

// missingSecrets drops the "is required" problems of secrets an import
// does not carry and returns those secrets' names, as the panel labels
// them.
func missingSecrets(a *model.Account, fe fieldErrors) []string {
	labels := map[string]string{model.SecretClientSecret: "client secret", model.SecretAppKey: "application key",
		model.SecretAccessKey: "access key", model.SecretSecretKey: "secret key"}
	var missing []string
	for _, f := range model.SecretFields {
		if *a.Secret(f) == "" && strings.HasPrefix(fe[f], "is required") {
			delete(fe, f)
			missing = append(missing, labels[f])
		}
	}
	return missing
}

// importSyslogTarget applies the file's syslog target when asked to.
func (s *Server) importSyslogTarget(ctx context.Context, req importRequest, dryRun bool, details map[string]string) (importTargetNote, error) {
	var note importTargetNote
	if req.Settings != nil {
		note.InFile = req.Settings.SyslogTarget
	}
	switch {
	case note.InFile == "":
		note.Note = "the file names no syslog target; this app's target is unchanged"
		return note, nil
	case !req.ApplySyslogTarget:
		note.Note = "not applied: this app keeps its own syslog target"
		return note, nil
	}
	if err := s.validateSyslogTarget(note.InFile); err != nil {
		note.Note = "not applied: " + err.Error()
		return note, nil
	}
	note.Applied = true
	note.Note = "events now go to " + redactTarget(note.InFile)
	if dryRun {
		note.Note = "events would go to " + redactTarget(note.InFile)
		return note, nil
	}
	old, _, err := s.store.Setting(ctx, SettingSyslogTarget)
	if err != nil {
		return note, err
	}
	if err := s.store.SetSetting(ctx, SettingSyslogTarget, note.InFile); err != nil {
		return note, err
	}
	details[SettingSyslogTarget] = s.settingText(SettingSyslogTarget, redactTarget(old)) + " → " + redactTarget(note.InFile)
	return note, nil
}

func importMessage(res importResult) string {
	disabled := 0
	for _, c := range res.Created {
		if c.Note != "" {
			disabled++
		}
	}
	verb := "created"
	if res.DryRun {
		verb = "to create"
	}
	msg := plural(len(res.Created), "account") + " " + verb
	if disabled > 0 {
		msg += fmt.Sprintf(" (%d disabled until credentials are entered)", disabled)
	}
	msg += fmt.Sprintf(", %d skipped, %d failed", len(res.Skipped), len(res.Failed))
	return msg
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
