package web

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/model"
)

// Defaults for fields a create request may omit.
const (
	defaultSchedule        = "*/15 * * * *"
	defaultLookbackHours   = 24
	maxLookbackHours       = 168 // Mimecast keeps SIEM data 7 days
	maxNameLength          = 100
	maxIdentifierLength    = 64
	maxCredentialFieldSize = 1024
)

var identifierPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// accountJSON is an account as the API returns it: the design's Account
// JSON without the secrets, plus whether each secret is set.
type accountJSON struct {
	ID                   int64          `json:"id"`
	Name                 string         `json:"name"`
	Enabled              bool           `json:"enabled"`
	APIVersion           string         `json:"api_version"`
	BaseURL              string         `json:"base_url"`
	ClientID             string         `json:"client_id"`
	AppID                string         `json:"app_id"`
	Streams              []model.Stream `json:"streams"`
	Schedule             string         `json:"schedule"`
	LogSourceIdentifier  string         `json:"log_source_identifier"`
	InitialLookbackHours int            `json:"initial_lookback_hours"`
	ClientSecretSet      bool           `json:"client_secret_set"`
	AppKeySet            bool           `json:"app_key_set"`
	AccessKeySet         bool           `json:"access_key_set"`
	SecretKeySet         bool           `json:"secret_key_set"`
	CredentialsError     string         `json:"credentials_error,omitempty"`
}

func toAccountJSON(a *model.Account) accountJSON {
	streams := a.Streams
	if streams == nil {
		streams = []model.Stream{}
	}
	return accountJSON{
		ID: a.ID, Name: a.Name, Enabled: a.Enabled, APIVersion: a.APIVersion, BaseURL: a.BaseURL,
		ClientID: a.ClientID, AppID: a.AppID, Streams: streams, Schedule: a.Schedule,
		LogSourceIdentifier: a.LogSourceIdentifier, InitialLookbackHours: a.InitialLookbackHours,
		ClientSecretSet: a.ClientSecret != "", AppKeySet: a.AppKey != "",
		AccessKeySet: a.AccessKey != "", SecretKeySet: a.SecretKey != "",
		CredentialsError: a.CredentialsError,
	}
}

// fieldErrors collects one problem per field.
type fieldErrors map[string]string

func (fe fieldErrors) add(field, problem string) {
	if _, ok := fe[field]; !ok {
		fe[field] = problem
	}
}

// applyAccountInput overwrites the fields of a that members carries. A
// missing or null member leaves the field as it is, and so does an empty
// secret: secrets are write-only, so "unchanged" is how the panel sends an
// untouched secret field. Members of the wrong JSON type are reported in fe.
func applyAccountInput(a *model.Account, members map[string]json.RawMessage, fe fieldErrors) {
	str := func(field string, dst *string) {
		raw, ok := members[field]
		if !ok || string(raw) == "null" {
			return
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			fe.add(field, "must be a string")
			return
		}
		*dst = strings.TrimSpace(v)
	}
	str("name", &a.Name)
	str("api_version", &a.APIVersion)
	str("base_url", &a.BaseURL)
	str("client_id", &a.ClientID)
	str("app_id", &a.AppID)
	str("schedule", &a.Schedule)
	str("log_source_identifier", &a.LogSourceIdentifier)
	for _, field := range model.SecretFields {
		var v string
		str(field, &v)
		if v != "" {
			*a.Secret(field) = v
		}
	}
	if raw, ok := members["enabled"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &a.Enabled); err != nil {
			fe.add("enabled", "must be true or false")
		}
	}
	if raw, ok := members["initial_lookback_hours"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &a.InitialLookbackHours); err != nil {
			fe.add("initial_lookback_hours", fmt.Sprintf("must be a whole number of hours from 1 to %d", maxLookbackHours))
		}
	}
	if raw, ok := members["streams"]; ok && string(raw) != "null" {
		var names []string
		if err := json.Unmarshal(raw, &names); err != nil {
			fe.add("streams", "must be a list of stream names")
		} else {
			a.Streams = make([]model.Stream, 0, len(names))
			for _, n := range names {
				a.Streams = append(a.Streams, model.Stream(strings.TrimSpace(n)))
			}
		}
	}
}

// newAccountDefaults is the starting point of a create request.
func newAccountDefaults() model.Account {
	return model.Account{
		Enabled:              true,
		APIVersion:           model.APIVersion2,
		Schedule:             defaultSchedule,
		InitialLookbackHours: defaultLookbackHours,
	}
}

// validateAccount checks a (already merged with its stored version on
// update) and adds every problem to fe. It normalises what it accepts:
// base URL without trailing slash, streams deduplicated in display order,
// the other API generation's credentials cleared, and a log source
// identifier derived from the name when there is none.
func validateAccount(a *model.Account, allowedOrigins []string, fe fieldErrors) {
	switch {
	case a.Name == "":
		fe.add("name", "is required")
	case utf8.RuneCountInString(a.Name) > maxNameLength:
		fe.add("name", fmt.Sprintf("must be at most %d characters", maxNameLength))
	case strings.ContainsFunc(a.Name, unicode.IsControl):
		fe.add("name", "must not contain control characters")
	}

	if a.LogSourceIdentifier == "" && a.Name != "" {
		a.LogSourceIdentifier = deriveIdentifier(a.Name)
	}
	switch {
	case a.LogSourceIdentifier == "":
		// Without a name there is nothing to derive it from; the name's
		// problem is reported.
	case len(a.LogSourceIdentifier) > maxIdentifierLength:
		fe.add("log_source_identifier", fmt.Sprintf("must be at most %d characters", maxIdentifierLength))
	case !identifierPattern.MatchString(a.LogSourceIdentifier):
		fe.add("log_source_identifier", "may contain only letters, digits, dot, underscore and hyphen")
	}

	if err := validateSchedule(a.Schedule); err != nil {
		fe.add("schedule", err.Error())
	}

	validateStreams(a, fe)

	if a.InitialLookbackHours < 1 || a.InitialLookbackHours > maxLookbackHours {
		fe.add("initial_lookback_hours", fmt.Sprintf("must be a whole number of hours from 1 to %d", maxLookbackHours))
	}

	if a.BaseURL == "" {
		fe.add("base_url", "is required: choose the account's region")
	} else {
		a.BaseURL = strings.TrimRight(a.BaseURL, "/")
		if err := mimecast.ValidateBaseURL(a.BaseURL, allowedOrigins); err != nil {
			fe.add("base_url", strings.TrimPrefix(err.Error(), "base URL "))
		}
	}

	required := func(field, value string) {
		switch {
		case value == "":
			fe.add(field, "is required for API "+a.APIVersion)
		case len(value) > maxCredentialFieldSize:
			fe.add(field, fmt.Sprintf("must be at most %d characters", maxCredentialFieldSize))
		}
	}
	switch a.APIVersion {
	case model.APIVersion2:
		required("client_id", a.ClientID)
		required("client_secret", a.ClientSecret)
		// Keep only the credentials the account uses: secrets of the other
		// generation would sit sealed in the store for no purpose.
		a.AppID, a.AppKey, a.AccessKey, a.SecretKey = "", "", "", ""
	case model.APIVersion1:
		required("app_id", a.AppID)
		required("app_key", a.AppKey)
		required("access_key", a.AccessKey)
		required("secret_key", a.SecretKey)
		a.ClientID, a.ClientSecret = "", ""
	default:
		fe.add("api_version", `must be "2.0" or "1.0"`)
	}
}

func validateStreams(a *model.Account, fe fieldErrors) {
	var unknown []string
	for _, s := range a.Streams {
		if !s.IsSupported() {
			unknown = append(unknown, fmt.Sprintf("%q", string(s)))
		}
	}
	switch {
	case len(unknown) > 0:
		names := make([]string, len(model.SupportedStreams))
		for i, s := range model.SupportedStreams {
			names[i] = string(s)
		}
		fe.add("streams", "not a supported stream: "+strings.Join(unknown, ", ")+"; choose from "+strings.Join(names, ", "))
	case len(a.Streams) == 0:
		fe.add("streams", "choose at least one stream")
	default:
		ordered := make([]model.Stream, 0, len(a.Streams))
		for _, s := range model.SupportedStreams {
			if slices.Contains(a.Streams, s) {
				ordered = append(ordered, s)
			}
		}
		a.Streams = ordered
	}
}

// validateSchedule accepts exactly five cron fields (minute hour day-of-month
// month day-of-week). Descriptors such as @every and TZ= prefixes are
// refused so the panel can always show and edit the schedule as five fields.
func validateSchedule(spec string) error {
	if spec == "" {
		return fmt.Errorf("is required: five cron fields, e.g. %q", defaultSchedule)
	}
	if len(strings.Fields(spec)) != 5 || strings.HasPrefix(spec, "@") || strings.Contains(spec, "=") {
		return fmt.Errorf("must be five cron fields (minute hour day-of-month month day-of-week), e.g. %q", defaultSchedule)
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		return fmt.Errorf("is not a valid cron schedule: %v", err)
	}
	return nil
}

// deriveIdentifier makes a log source identifier from an account name:
// "Acme EU" becomes "mimecast-acme-eu".
func deriveIdentifier(name string) string {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r >= utf8.RuneSelf || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	})
	if len(words) == 0 || words[0] != "mimecast" {
		words = append([]string{"mimecast"}, words...)
	}
	id := strings.Join(words, "-")
	if len(id) > maxIdentifierLength {
		id = strings.TrimRight(id[:maxIdentifierLength], "-")
	}
	return id
}
