package qradar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Names the reconciler gives QRadar objects (design §6.1).
const (
	TypeName          = "Mimecast Email Security"
	FallbackTypeName  = "Universal LEEF"
	GroupName         = "Mimecast"
	LogSourcePrefix   = "Mimecast - "
	syslogProtocol    = "Syslog"
	recreatedNoteKeep = 24 * time.Hour
)

// REST paths below /api/.
const (
	pathTypes       = "config/event_sources/log_source_management/log_source_types"
	pathProtocols   = "config/event_sources/log_source_management/protocol_types"
	pathGroups      = "config/event_sources/log_source_management/log_source_groups"
	pathLogSources  = "config/event_sources/log_source_management/log_sources"
	pathCollectors  = "config/event_sources/event_collectors"
	pathCategories  = "data_classification/low_level_categories"
	pathQIDs        = "data_classification/qid_records"
	pathMappings    = "data_classification/dsm_event_mappings"
	pathProperties  = "config/event_sources/custom_properties/regex_properties"
	pathExpressions = "config/event_sources/custom_properties/property_leef_expressions"
	pathRefSets     = "reference_data/sets"
	pathDeploy      = "staged_config/deploy_status"
)

// LogSourceName is the name of an account's log source.
func LogSourceName(accountName string) string { return LogSourcePrefix + accountName }

// Object keys (model.QRadarObject.Key): stable identities, so a renamed
// account still finds its log source.
func keyLogSource(accountID int64) string {
	return "log_source:account:" + strconv.FormatInt(accountID, 10)
}
func keyQID(e Event) string         { return "qid:" + e.EventID + ":" + e.Cat }
func keyMapping(e Event) string     { return "event_mapping:" + e.EventID + ":" + e.Cat }
func keyProperty(p Property) string { return "property:" + p.Name }
func keyExpression(p Property, leefKey string) string {
	return "property_expression:" + p.Name + ":" + leefKey
}
func keyRefSet(name string) string { return "reference_set:" + name }

const (
	keyType  = "log_source_type"
	keyGroup = "log_source_group"
)

// QRadar shapes, only the fields the reconciler reads.
type (
	qType struct {
		ID            int64  `json:"id"`
		Name          string `json:"name"`
		ProtocolTypes []struct {
			ProtocolID int64 `json:"protocol_id"`
		} `json:"protocol_types"`
	}
	qProtocol struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		Parameters []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"parameters"`
	}
	qGroup struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		ParentID *int64 `json:"parent_id"`
	}
	qParam struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	qLogSource struct {
		ID                 int64    `json:"id"`
		Name               string   `json:"name"`
		Description        string   `json:"description"`
		TypeID             int64    `json:"type_id"`
		ProtocolTypeID     int64    `json:"protocol_type_id"`
		ProtocolParameters []qParam `json:"protocol_parameters"`
		Enabled            bool     `json:"enabled"`
		GroupIDs           []int64  `json:"group_ids"`
		RequiresDeploy     bool     `json:"requires_deploy"`
	}
	qCollector struct {
		ID            int64  `json:"id"`
		Name          string `json:"name"`
		ComponentName string `json:"component_name"`
	}
	qCategory struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	qQID struct {
		ID   int64  `json:"id"`
		QID  int64  `json:"qid"`
		Name string `json:"name"`
	}
	qMapping struct {
		ID            int64  `json:"id"`
		TypeID        int64  `json:"log_source_type_id"`
		EventID       string `json:"log_source_event_id"`
		EventCategory string `json:"log_source_event_category"`
		QIDRecordID   int64  `json:"qid_record_id"`
	}
	qProperty struct {
		ID         int64  `json:"id"`
		Identifier string `json:"identifier"`
		Name       string `json:"name"`
	}
	qExpression struct {
		ID                 int64  `json:"id"`
		PropertyIdentifier string `json:"regex_property_identifier"`
		Expression         string `json:"expression"`
		TypeID             int64  `json:"log_source_type_id"`
	}
	qRefSet struct {
		Name        string `json:"name"`
		ElementType string `json:"element_type"`
	}
)

func (ls qLogSource) param(name string) string {
	for _, p := range ls.ProtocolParameters {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// reconciler is the state of one reconcile.
type reconciler struct {
	m      *Manager
	c      *Client
	stored map[string]model.QRadarObject
	res    result

	typeID      int64
	typeName    string
	syslogID    int64
	identParam  qParam // protocol parameter "identifier"
	encParam    qParam // protocol parameter "incomingPayloadEncoding"
	groupID     int64
	haveGroup   bool // false: no group (its row says why)
	collectorID *int64
	categories  map[string]int64
	mappings    map[string]qMapping // by event id + "\x00" + category
	expressions map[string][]qExpression
}

func newReconciler(m *Manager, c *Client) *reconciler {
	return &reconciler{m: m, c: c, stored: map[string]model.QRadarObject{}}
}

// fatal reports whether err stops the whole reconcile rather than one
// object: no token, refused token or capability, console unreachable or
// failing, or the reconcile cancelled.
func fatal(err error) bool {
	return errors.Is(err, ErrNoToken) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) ||
		errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUntrusted) || isServerError(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (r *reconciler) run(ctx context.Context) (result, error) {
	// Check the token before anything: with none, nothing is sent at all.
	if r.m.opts.Token() == "" {
		return r.res, ErrNoToken
	}
	version, err := r.c.DiscoverVersion(ctx)
	if err != nil {
		return r.res, err
	}
	r.res.apiVersion = version

	objs, err := r.m.opts.Store.QRadarObjects(ctx)
	if err != nil {
		return r.res, fmt.Errorf("reading remembered qradar objects: %w", err)
	}
	for _, o := range objs {
		r.stored[o.Key] = o
	}
	accounts, err := r.m.opts.Store.ListAccounts(ctx)
	if err != nil {
		return r.res, fmt.Errorf("listing accounts: %w", err)
	}

	if err := r.findSyslog(ctx); err != nil {
		return r.res, err
	}
	if err := r.ensureType(ctx); err != nil {
		// Without a type nothing else can be created.
		if !fatal(err) {
			r.res.rowErrors++
			if serr := r.saveError(ctx, model.QRadarObject{Key: keyType, Object: ObjLogSourceType, Name: TypeName}, err); serr != nil {
				return r.res, serr
			}
		}
		return r.res, err
	}
	steps := []func(context.Context) error{
		r.ensureGroup,
		func(ctx context.Context) error { return r.syncLogSources(ctx, accounts) },
		r.syncProperties,
		r.syncEvents,
		r.ensureReferenceSet,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

// findSyslog looks up the Syslog protocol and its parameter ids; the
// reference documents protocol_type_id 0 and parameters 0/1, used when the
// console does not list them.
func (r *reconciler) findSyslog(ctx context.Context) error {
	r.syslogID = 0
	r.identParam = qParam{ID: 0, Name: "identifier"}
	r.encParam = qParam{ID: 1, Name: "incomingPayloadEncoding", Value: "UTF-8"}
	protos, err := listAll[qProtocol](ctx, r.c, pathProtocols, nil)
	if err != nil {
		return fmt.Errorf("listing protocol types: %w", err)
	}
	for _, p := range protos {
		if !strings.EqualFold(p.Name, syslogProtocol) {
			continue
		}
		r.syslogID = p.ID
		for _, prm := range p.Parameters {
			switch prm.Name {
			case r.identParam.Name:
				r.identParam.ID = prm.ID
			case r.encParam.Name:
				r.encParam.ID = prm.ID
			}
		}
		break
	}
	return nil
}

// save stores o when it differs from the remembered row.
func (r *reconciler) save(ctx context.Context, o model.QRadarObject) error {
	if old, ok := r.stored[o.Key]; ok {
		o.UpdatedAt = old.UpdatedAt
		if old == o {
			return nil
		}
	}
	o.UpdatedAt = r.m.now().UTC()
	if err := r.m.opts.Store.SaveQRadarObject(ctx, o); err != nil {
		return fmt.Errorf("remembering qradar object %s: %w", o.Key, err)
	}
	r.stored[o.Key] = o
	return nil
}

// saveOK records a healthy object. A row marked recreated keeps that note for
// a day so the panel can say what happened.
func (r *reconciler) saveOK(ctx context.Context, o model.QRadarObject, recreated bool) error {
	old, had := r.stored[o.Key]
	switch {
	case recreated:
		o.State = StateRecreated
		o.LastError = "deleted in QRadar by an administrator; created again by the app"
		r.res.recreated = append(r.res.recreated, o.Name)
	case o.State == "" && had && old.State == StateRecreated && old.QRadarID == o.QRadarID &&
		r.m.now().Sub(old.UpdatedAt) < recreatedNoteKeep:
		o.State, o.LastError = old.State, old.LastError
	case o.State == "":
		o.State = StateOK
	}
	return r.save(ctx, o)
}

// saveError records a per-object failure; the reconcile goes on.
func (r *reconciler) saveError(ctx context.Context, o model.QRadarObject, err error) error {
	if old, ok := r.stored[o.Key]; ok && o.QRadarID == "" {
		o.QRadarID = old.QRadarID
	}
	o.State = StateError
	o.LastError = objectErrorText(err)
	r.m.log.Warn("qradar object failed", "object", o.Object, "key", o.Key, "error", err)
	return r.save(ctx, o)
}

func objectErrorText(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("QRadar answered %d to %s %s: %s", ae.Status, ae.Method, ae.Path, ae.Text())
	}
	return err.Error()
}

// objectStep runs one object's reconcile: a fatal error stops the reconcile,
// any other is recorded on the object's row.
func (r *reconciler) objectStep(ctx context.Context, row model.QRadarObject, err error) error {
	if err == nil {
		return nil
	}
	if fatal(err) {
		return err
	}
	r.res.rowErrors++
	return r.saveError(ctx, row, err)
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }

// remembered returns the remembered QRadar id of key, if any.
func (r *reconciler) remembered(key string) (string, bool) {
	o, ok := r.stored[key]
	if !ok || o.QRadarID == "" {
		return "", false
	}
	return o.QRadarID, true
}

// getRemembered fetches a remembered object by id. found=false with a nil
// error means QRadar no longer has it (an administrator deleted it).
func (r *reconciler) getRemembered(ctx context.Context, path, key string, out any) (found, had bool, err error) {
	id, ok := r.remembered(key)
	if !ok {
		return false, false, nil
	}
	err = r.c.Get(ctx, path+"/"+PathEscape(id), nil, out)
	if errors.Is(err, ErrNotFound) {
		return false, true, nil
	}
	if err != nil {
		return false, true, err
	}
	return true, true, nil
}

// findByName returns the objects of path whose name is exactly name.
func findByName[T any](ctx context.Context, c *Client, path, name string, nameOf func(T) string) (*T, error) {
	items, err := listAll[T](ctx, c, path, Query{"filter": {FilterEq("name", name)}})
	if err != nil {
		return nil, err
	}
	for i := range items {
		// Match in code too: a console that ignores an unsupported filter
		// returns everything.
		if nameOf(items[i]) == name {
			return &items[i], nil
		}
	}
	return nil, nil
}

// ---- log source type ----

func (r *reconciler) ensureType(ctx context.Context) error {
	row := model.QRadarObject{Key: keyType, Object: ObjLogSourceType}
	var t qType
	found, had, err := r.getRemembered(ctx, pathTypes, keyType, &t)
	if err != nil {
		return err
	}
	old := r.stored[keyType]
	if found {
		return r.useType(ctx, row, t, had && old.Name == FallbackTypeName, old.LastError, false)
	}
	// The fallback is sticky: once events are mapped under Universal LEEF,
	// switching types would leave QIDs and mappings behind on the old one.
	if had && old.Name == FallbackTypeName {
		return r.adoptFallback(ctx, row, old.LastError)
	}
	named, err := findByName(ctx, r.c, pathTypes, TypeName, func(t qType) string { return t.Name })
	if err != nil {
		return fmt.Errorf("looking up the log source type: %w", err)
	}
	if named != nil {
		return r.useType(ctx, row, *named, false, "", had)
	}
	var created qType
	body := map[string]any{
		"name":                TypeName,
		"protocol_types":      []map[string]any{{"protocol_id": r.syslogID}},
		"default_protocol_id": r.syslogID,
	}
	err = r.c.Post(ctx, pathTypes, nil, body, &created)
	if err == nil {
		return r.useType(ctx, row, created, false, "", had)
	}
	status := StatusOf(err)
	if status == 409 || status == 422 {
		// A duplicate name is a 422 (code 1001) on this endpoint: look again
		// before treating the answer as a refusal.
		named, lerr := findByName(ctx, r.c, pathTypes, TypeName, func(t qType) string { return t.Name })
		if lerr != nil {
			return lerr
		}
		if named != nil {
			return r.useType(ctx, row, *named, false, "", had)
		}
	}
	// Universal LEEF only when QRadar refuses the type (403/422), never on a
	// passing 5xx or an unreachable console.
	if status == 403 || status == 422 {
		note := fmt.Sprintf("QRadar refused to create the log source type %q (%d: %s), so the app uses %s instead.",
			TypeName, status, errText(err), FallbackTypeName)
		return r.adoptFallback(ctx, row, note)
	}
	return fmt.Errorf("creating the log source type: %w", err)
}

func errText(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Text()
	}
	return err.Error()
}

func (r *reconciler) adoptFallback(ctx context.Context, row model.QRadarObject, note string) error {
	named, err := findByName(ctx, r.c, pathTypes, FallbackTypeName, func(t qType) string { return t.Name })
	if err != nil {
		return fmt.Errorf("looking up the %s log source type: %w", FallbackTypeName, err)
	}
	if named == nil {
		return fmt.Errorf("qradar: the console has no %q log source type to fall back to", FallbackTypeName)
	}
	return r.useType(ctx, row, *named, true, note, false)
}

func (r *reconciler) useType(ctx context.Context, row model.QRadarObject, t qType, fallback bool, note string, recreated bool) error {
	r.typeID, r.typeName = t.ID, t.Name
	r.res.typeName = t.Name
	row.Name, row.QRadarID = t.Name, idString(t.ID)
	if fallback {
		r.res.typeNote = note
		row.State, row.LastError = StateOK, note
		return r.save(ctx, row)
	}
	return r.saveOK(ctx, row, recreated)
}

// ---- log source group ----

func (r *reconciler) ensureGroup(ctx context.Context) error {
	row := model.QRadarObject{Key: keyGroup, Object: ObjLogSourceGroup, Name: GroupName}
	r.haveGroup = false
	var g qGroup
	found, had, err := r.getRemembered(ctx, pathGroups, keyGroup, &g)
	if err == nil && !found {
		g, err = r.findOrCreateGroup(ctx)
	}
	if err != nil {
		return r.objectStep(ctx, row, fmt.Errorf("setting up the log source group: %w", err))
	}
	r.groupID, r.haveGroup = g.ID, true
	row.QRadarID = idString(g.ID)
	return r.saveOK(ctx, row, had && !found)
}

func (r *reconciler) findOrCreateGroup(ctx context.Context) (qGroup, error) {
	find := func() (*qGroup, error) {
		return findByName(ctx, r.c, pathGroups, GroupName, func(g qGroup) string { return g.Name })
	}
	if g, err := find(); err != nil || g != nil {
		return deref(g), err
	}
	// The new group hangs under the root group (the one without a parent).
	groups, err := listAll[qGroup](ctx, r.c, pathGroups, nil)
	if err != nil {
		return qGroup{}, err
	}
	body := map[string]any{"name": GroupName, "description": "Mimecast accounts (managed by the Mimecast app)"}
	var root *qGroup
	for i := range groups {
		if groups[i].ParentID == nil && (root == nil || groups[i].ID < root.ID) {
			root = &groups[i]
		}
	}
	if root != nil {
		body["parent_id"] = root.ID
	}
	var created qGroup
	err = r.c.Post(ctx, pathGroups, nil, body, &created)
	if errors.Is(err, ErrConflict) {
		g, ferr := find()
		if ferr == nil && g != nil {
			return *g, nil
		}
	}
	return created, err
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// ---- log sources ----

func (r *reconciler) syncLogSources(ctx context.Context, accounts []model.Account) error {
	live := map[int64]bool{}
	claimed := map[string]bool{}      // QRadar ids used by live accounts
	identOwner := map[string]string{} // identifier -> account name
	for _, a := range accounts {
		live[a.ID] = true
		row := model.QRadarObject{Key: keyLogSource(a.ID), Object: ObjLogSource, AccountID: a.ID, Name: LogSourceName(a.Name)}
		ident := wireHostname(a.LogSourceIdentifier)
		var err error
		switch {
		case ident == "":
			err = errors.New("the account has no log source identifier: set one in the account's settings")
		case identOwner[ident] != "":
			err = fmt.Errorf("the account %q already uses the log source identifier %q: give each account its own", identOwner[ident], ident)
		default:
			identOwner[ident] = a.Name
			var id int64
			id, err = r.syncLogSource(ctx, row, a, ident)
			if err == nil {
				claimed[idString(id)] = true
				r.res.logSources++
				continue
			}
		}
		if err := r.objectStep(ctx, row, err); err != nil {
			return err
		}
	}
	// Accounts that are gone: disable their log sources (QRadar keeps the
	// events) and keep the rows, so a returning account with the same
	// identifier re-enables the same log source.
	for _, o := range r.sortedRows(ObjLogSource) {
		if live[o.AccountID] {
			continue
		}
		if err := r.disableOrphan(ctx, o, claimed); err != nil {
			return err
		}
	}
	return nil
}

// wireHostname is the syslog HOSTNAME the leef package writes for a log
// source identifier (RFC 5424: printable US-ASCII, at most 255 bytes; other
// bytes become '_'). QRadar matches the log source identifier against it, so
// the log source must carry exactly this form. Keep in step with leef's
// appendHostname.
func wireHostname(ident string) string {
	if len(ident) > 255 {
		ident = ident[:255]
	}
	b := []byte(ident)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	return string(b)
}

func (r *reconciler) sortedRows(kind string) []model.QRadarObject {
	var out []model.QRadarObject
	for _, o := range r.stored {
		if o.Object == kind {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b model.QRadarObject) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (r *reconciler) syncLogSource(ctx context.Context, row model.QRadarObject, a model.Account, ident string) (int64, error) {
	var cur qLogSource
	found, had, err := r.getRemembered(ctx, pathLogSources, row.Key, &cur)
	if err != nil {
		return 0, err
	}
	recreated := had && !found
	if !found {
		ls, err := r.findLogSource(ctx, row.Name, ident)
		if err != nil {
			return 0, err
		}
		if ls != nil {
			cur, found = *ls, true
		}
	}
	if !found {
		created, err := r.createLogSource(ctx, a, row.Name, ident)
		if errors.Is(err, ErrConflict) {
			// Name (1001) or type+protocol+identifier (1002) taken: adopt it.
			ls, ferr := r.findLogSource(ctx, row.Name, ident)
			if ferr != nil {
				return 0, ferr
			}
			if ls == nil {
				return 0, err
			}
			cur, err = *ls, nil
		} else if err != nil {
			return 0, err
		} else {
			cur = created
		}
	}
	cur, err = r.updateLogSource(ctx, cur, a, row.Name, ident)
	if err != nil {
		return 0, err
	}
	row.QRadarID = idString(cur.ID)
	if cur.RequiresDeploy {
		r.res.deployNeeded = true
		row.State = StatePending
		row.LastError = "waiting for Deploy changes in QRadar"
		if recreated {
			row.LastError = "deleted in QRadar by an administrator and created again; waiting for Deploy changes in QRadar"
			r.res.recreated = append(r.res.recreated, row.Name)
		}
		return cur.ID, r.save(ctx, row)
	}
	return cur.ID, r.saveOK(ctx, row, recreated)
}

// findLogSource finds the account's log source by name, else by its
// identifier among the log sources of the app's type.
func (r *reconciler) findLogSource(ctx context.Context, name, ident string) (*qLogSource, error) {
	ls, err := findByName(ctx, r.c, pathLogSources, name, func(l qLogSource) string { return l.Name })
	if err != nil || ls != nil {
		return ls, err
	}
	all, err := listAll[qLogSource](ctx, r.c, pathLogSources, Query{"filter": {FilterEqInt("type_id", r.typeID)}})
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].TypeID == r.typeID && all[i].ProtocolTypeID == r.syslogID && all[i].param(r.identParam.Name) == ident {
			return &all[i], nil
		}
	}
	return nil, nil
}

func (r *reconciler) collector(ctx context.Context) (int64, error) {
	if r.collectorID != nil {
		return *r.collectorID, nil
	}
	cs, err := listAll[qCollector](ctx, r.c, pathCollectors, nil)
	if err != nil {
		return 0, fmt.Errorf("listing event collectors: %w", err)
	}
	if len(cs) == 0 {
		return 0, errors.New("qradar: the console lists no event collector")
	}
	// The console's own collector is eventcollector0; otherwise the oldest.
	best := cs[0]
	for _, c := range cs[1:] {
		if best.ComponentName == "eventcollector0" {
			break
		}
		if c.ComponentName == "eventcollector0" || c.ID < best.ID {
			best = c
		}
	}
	r.collectorID = &best.ID
	return best.ID, nil
}

func (r *reconciler) params(ident string) []qParam {
	id := r.identParam
	id.Value = ident
	return []qParam{id, r.encParam}
}

func logSourceDescription(a model.Account) string {
	return fmt.Sprintf("Mimecast account %s (managed by the Mimecast app)", a.Name)
}

func (r *reconciler) createLogSource(ctx context.Context, a model.Account, name, ident string) (qLogSource, error) {
	collector, err := r.collector(ctx)
	if err != nil {
		return qLogSource{}, err
	}
	body := map[string]any{
		"name":                      name,
		"description":               logSourceDescription(a),
		"type_id":                   r.typeID,
		"protocol_type_id":          r.syslogID,
		"protocol_parameters":       r.params(ident),
		"enabled":                   true,
		"target_event_collector_id": collector,
		"coalesce_events":           false,
		"store_event_payload":       true,
	}
	if r.haveGroup {
		body["group_ids"] = []int64{r.groupID}
	}
	var created qLogSource
	if err := r.c.Post(ctx, pathLogSources, nil, body, &created); err != nil {
		return qLogSource{}, fmt.Errorf("creating log source %q: %w", name, err)
	}
	r.m.log.Info("qradar log source created", "account_id", a.ID, "log_source_id", created.ID)
	return created, nil
}

// updateLogSource sends only what differs from what the app wants, so other
// edits an administrator made (credibility, collector, other groups) stay.
func (r *reconciler) updateLogSource(ctx context.Context, cur qLogSource, a model.Account, name, ident string) (qLogSource, error) {
	body := map[string]any{}
	if cur.Name != name {
		body["name"] = name
		body["description"] = logSourceDescription(a)
	}
	if cur.TypeID != r.typeID {
		body["type_id"] = r.typeID
	}
	if cur.ProtocolTypeID != r.syslogID {
		body["protocol_type_id"] = r.syslogID
	}
	if cur.param(r.identParam.Name) != ident || cur.ProtocolTypeID != r.syslogID {
		body["protocol_parameters"] = r.params(ident)
	}
	if !cur.Enabled {
		body["enabled"] = true
	}
	if r.haveGroup && !slices.Contains(cur.GroupIDs, r.groupID) {
		body["group_ids"] = append(slices.Clone(cur.GroupIDs), r.groupID)
	}
	if len(body) == 0 {
		return cur, nil
	}
	var updated qLogSource
	if err := r.c.Post(ctx, pathLogSources+"/"+idString(cur.ID), nil, body, &updated); err != nil {
		return cur, fmt.Errorf("updating log source %q: %w", name, err)
	}
	if updated.ID == 0 {
		updated = cur
		updated.RequiresDeploy = true
	}
	r.m.log.Info("qradar log source updated", "account_id", a.ID, "log_source_id", cur.ID)
	return updated, nil
}

func (r *reconciler) disableOrphan(ctx context.Context, o model.QRadarObject, claimed map[string]bool) error {
	if claimed[o.QRadarID] {
		// A returning account adopted this log source under its own row.
		if err := r.m.opts.Store.DeleteQRadarObject(ctx, o.Key); err != nil {
			return fmt.Errorf("forgetting qradar object %s: %w", o.Key, err)
		}
		delete(r.stored, o.Key)
		return nil
	}
	var cur qLogSource
	found, had, err := r.getRemembered(ctx, pathLogSources, o.Key, &cur)
	if err != nil {
		return r.objectStep(ctx, o, err)
	}
	if !had || !found {
		// Nothing left to disable: the log source is gone from QRadar.
		if err := r.m.opts.Store.DeleteQRadarObject(ctx, o.Key); err != nil {
			return fmt.Errorf("forgetting qradar object %s: %w", o.Key, err)
		}
		delete(r.stored, o.Key)
		return nil
	}
	if cur.Enabled {
		var updated qLogSource
		if err := r.c.Post(ctx, pathLogSources+"/"+idString(cur.ID), nil, map[string]any{"enabled": false}, &updated); err != nil {
			return r.objectStep(ctx, o, fmt.Errorf("disabling log source %q: %w", cur.Name, err))
		}
		r.m.log.Info("qradar log source disabled", "account_id", o.AccountID, "log_source_id", cur.ID)
		cur.RequiresDeploy = cur.RequiresDeploy || updated.RequiresDeploy || updated.ID == 0
	}
	if cur.RequiresDeploy {
		r.res.deployNeeded = true
	}
	o.State = StateDisabled
	o.LastError = "the account was deleted: its log source is disabled and QRadar keeps its events"
	return r.save(ctx, o)
}

// ---- properties ----

func (r *reconciler) syncProperties(ctx context.Context) error {
	r.expressions = map[string][]qExpression{}
	for _, p := range Properties() {
		row := model.QRadarObject{Key: keyProperty(p), Object: ObjProperty, Name: p.Name}
		prop, recreated, err := r.ensureProperty(ctx, p)
		if err != nil {
			if err := r.objectStep(ctx, row, err); err != nil {
				return err
			}
			continue
		}
		row.QRadarID = idString(prop.ID)
		if err := r.saveOK(ctx, row, recreated); err != nil {
			return err
		}
		r.res.properties++
		for _, key := range p.LEEFKeys {
			erow := model.QRadarObject{Key: keyExpression(p, key), Object: ObjPropertyExpr, Name: p.Name + " ← " + key}
			expr, recreated, err := r.ensureExpression(ctx, erow.Key, prop.Identifier, key)
			if err == nil {
				erow.QRadarID = idString(expr.ID)
				err = r.saveOK(ctx, erow, recreated)
				if err != nil {
					return err
				}
				continue
			}
			if err := r.objectStep(ctx, erow, err); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reconciler) ensureProperty(ctx context.Context, p Property) (qProperty, bool, error) {
	var cur qProperty
	found, had, err := r.getRemembered(ctx, pathProperties, keyProperty(p), &cur)
	if err != nil || found {
		return cur, false, err
	}
	find := func() (*qProperty, error) {
		return findByName(ctx, r.c, pathProperties, p.Name, func(q qProperty) string { return q.Name })
	}
	if named, err := find(); err != nil || named != nil {
		return deref(named), had, err
	}
	body := map[string]any{
		"name":                p.Name,
		"description":         p.Description,
		"property_type":       "string",
		"use_for_rule_engine": p.RuleEngine,
	}
	var created qProperty
	err = r.c.Post(ctx, pathProperties, nil, body, &created)
	if errors.Is(err, ErrConflict) {
		if named, ferr := find(); ferr == nil && named != nil {
			return *named, had, nil
		}
	}
	if err != nil {
		return cur, had, fmt.Errorf("creating custom property %q: %w", p.Name, err)
	}
	return created, had, nil
}

func (r *reconciler) ensureExpression(ctx context.Context, key, propIdent, leefKey string) (qExpression, bool, error) {
	var cur qExpression
	found, had, err := r.getRemembered(ctx, pathExpressions, key, &cur)
	if err != nil {
		return cur, false, err
	}
	// An expression that belongs to a property that was created again is
	// stale: it must point at the current property.
	if found && cur.PropertyIdentifier == propIdent && cur.TypeID == r.typeID {
		return cur, false, nil
	}
	recreated := had && !found
	find := func(refresh bool) (*qExpression, error) {
		list, ok := r.expressions[propIdent]
		if !ok || refresh {
			var err error
			list, err = listAll[qExpression](ctx, r.c, pathExpressions, Query{"filter": {FilterEq("regex_property_identifier", propIdent)}})
			if err != nil {
				return nil, err
			}
			r.expressions[propIdent] = list
		}
		for i := range list {
			if list[i].PropertyIdentifier == propIdent && list[i].Expression == leefKey && list[i].TypeID == r.typeID {
				return &list[i], nil
			}
		}
		return nil, nil
	}
	if e, err := find(false); err != nil || e != nil {
		return deref(e), recreated, err
	}
	body := map[string]any{
		"regex_property_identifier": propIdent,
		"expression":                leefKey,
		"log_source_type_id":        r.typeID,
		"enabled":                   true,
	}
	var created qExpression
	err = r.c.Post(ctx, pathExpressions, nil, body, &created)
	if errors.Is(err, ErrConflict) {
		if e, ferr := find(true); ferr == nil && e != nil {
			return *e, recreated, nil
		}
	}
	if err != nil {
		return cur, recreated, fmt.Errorf("creating the LEEF expression %q: %w", leefKey, err)
	}
	r.expressions[propIdent] = append(r.expressions[propIdent], created)
	return created, recreated, nil
}

// ---- QID records and event mappings ----

func (r *reconciler) syncEvents(ctx context.Context) error {
	for _, e := range Events() {
		qrow := model.QRadarObject{Key: keyQID(e), Object: ObjQID, Name: e.Name}
		qid, recreated, err := r.ensureQID(ctx, e)
		if err != nil {
			if err := r.objectStep(ctx, qrow, err); err != nil {
				return err
			}
			continue
		}
		qrow.QRadarID = idString(qid.ID)
		if err := r.saveOK(ctx, qrow, recreated); err != nil {
			return err
		}
		mrow := model.QRadarObject{Key: keyMapping(e), Object: ObjEventMapping, Name: e.EventID + " / " + e.Cat + " → " + e.Name}
		mp, recreated, err := r.ensureMapping(ctx, e, qid.ID)
		if err != nil {
			if err := r.objectStep(ctx, mrow, err); err != nil {
				return err
			}
			continue
		}
		mrow.QRadarID = idString(mp.ID)
		if err := r.saveOK(ctx, mrow, recreated); err != nil {
			return err
		}
		r.res.events++
	}
	return nil
}

// ensureQID finds or creates the QID record of e. An existing record is
// adopted as it is: an administrator may have tuned its severity or
// category, and QID records can never be deleted.
func (r *reconciler) ensureQID(ctx context.Context, e Event) (qQID, bool, error) {
	var cur qQID
	found, had, err := r.getRemembered(ctx, pathQIDs, keyQID(e), &cur)
	if err != nil || found {
		return cur, false, err
	}
	find := func() (*qQID, error) {
		return findByName(ctx, r.c, pathQIDs, e.Name, func(q qQID) string { return q.Name })
	}
	if named, err := find(); err != nil || named != nil {
		return deref(named), had, err
	}
	cat, err := r.categoryID(ctx, e.Categories)
	if err != nil {
		return cur, had, err
	}
	body := map[string]any{
		"log_source_type_id":    r.typeID,
		"name":                  e.Name,
		"description":           e.Description,
		"severity":              e.Severity,
		"low_level_category_id": cat,
	}
	var created qQID
	err = r.c.Post(ctx, pathQIDs, nil, body, &created)
	if errors.Is(err, ErrConflict) {
		if named, ferr := find(); ferr == nil && named != nil {
			return *named, had, nil
		}
	}
	if err != nil {
		return cur, had, fmt.Errorf("creating QID record %q: %w", e.Name, err)
	}
	return created, had, nil
}

// categoryID returns the id of the first low-level category in names that
// the console knows. Ids differ between consoles, so they are looked up.
func (r *reconciler) categoryID(ctx context.Context, names []string) (int64, error) {
	if r.categories == nil {
		cats, err := listAll[qCategory](ctx, r.c, pathCategories, nil)
		if err != nil {
			return 0, fmt.Errorf("listing low-level categories: %w", err)
		}
		r.categories = map[string]int64{}
		for _, c := range cats {
			r.categories[strings.ToLower(c.Name)] = c.ID
		}
	}
	for _, n := range names {
		if id, ok := r.categories[strings.ToLower(n)]; ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("qradar: the console has none of the low-level categories %s", strings.Join(names, ", "))
}

func mappingKey(eventID, cat string) string { return eventID + "\x00" + cat }

func (r *reconciler) ensureMapping(ctx context.Context, e Event, qidRecordID int64) (qMapping, bool, error) {
	var cur qMapping
	found, had, err := r.getRemembered(ctx, pathMappings, keyMapping(e), &cur)
	if err != nil || found {
		return cur, false, err
	}
	find := func(refresh bool) (*qMapping, error) {
		if r.mappings == nil || refresh {
			list, err := listAll[qMapping](ctx, r.c, pathMappings, Query{"filter": {FilterEqInt("log_source_type_id", r.typeID)}})
			if err != nil {
				return nil, fmt.Errorf("listing event mappings: %w", err)
			}
			r.mappings = map[string]qMapping{}
			for _, mp := range list {
				if mp.TypeID == r.typeID {
					r.mappings[mappingKey(mp.EventID, mp.EventCategory)] = mp
				}
			}
		}
		if mp, ok := r.mappings[mappingKey(e.EventID, e.Cat)]; ok {
			return &mp, nil
		}
		return nil, nil
	}
	if mp, err := find(false); err != nil || mp != nil {
		return deref(mp), had, err
	}
	body := map[string]any{
		"log_source_type_id":        r.typeID,
		"log_source_event_id":       e.EventID,
		"log_source_event_category": e.Cat,
		"qid_record_id":             qidRecordID,
	}
	var created qMapping
	err = r.c.Post(ctx, pathMappings, nil, body, &created)
	if errors.Is(err, ErrConflict) {
		if mp, ferr := find(true); ferr == nil && mp != nil {
			return *mp, had, nil
		}
	}
	if err != nil {
		return cur, had, fmt.Errorf("creating the event mapping %s/%s: %w", e.EventID, e.Cat, err)
	}
	r.mappings[mappingKey(e.EventID, e.Cat)] = created
	return created, had, nil
}

// ---- reference set ----

func (r *reconciler) ensureReferenceSet(ctx context.Context) error {
	row := model.QRadarObject{Key: keyRefSet(ReferenceSetName), Object: ObjReferenceSet, Name: ReferenceSetName, QRadarID: ReferenceSetName}
	_, had := r.stored[row.Key]
	created, err := ensureRefSet(ctx, r.c, ReferenceSetName)
	if err != nil {
		return r.objectStep(ctx, row, err)
	}
	return r.saveOK(ctx, row, had && created)
}

// ensureRefSet makes sure the reference set exists; created reports whether
// it had to be created.
func ensureRefSet(ctx context.Context, c *Client, name string) (created bool, err error) {
	var rs qRefSet
	err = c.Get(ctx, pathRefSets+"/"+PathEscape(name), Query{"fields": {"name,element_type"}}, &rs)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("reading reference set %q: %w", name, err)
	}
	// ALNIC: hashes compare case-insensitively.
	err = c.Post(ctx, pathRefSets, Query{"name": {name}, "element_type": {"ALNIC"}}, nil, &rs)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("creating reference set %q: %w", name, err)
	}
	return true, nil
}

// AddReferenceHashes adds SHA-256 hashes (64 hex digits; other values are
// refused) to the app's reference set, creating the set when needed. It
// calls QRadar, so callers (the threat-intel streams) run it in the
// background; it fails with ErrNoToken while the app is not authorised.
func (m *Manager) AddReferenceHashes(ctx context.Context, hashes []string) error {
	if m.setupOff() {
		return errors.New(m.offWhy)
	}
	clean := make([]string, 0, len(hashes))
	seen := map[string]bool{}
	for _, h := range hashes {
		h = strings.ToLower(strings.TrimSpace(h))
		if !isSHA256(h) {
			return fmt.Errorf("qradar: %q is not a SHA-256 hash", h)
		}
		if !seen[h] {
			seen[h] = true
			clean = append(clean, h)
		}
	}
	if len(clean) == 0 {
		return nil
	}
	c, err := m.apiClient()
	if err != nil {
		return err
	}
	// No reconcile lock: a concurrent reconcile creating the same set meets
	// a 409, which both sides treat as "it exists".
	if _, err := ensureRefSet(ctx, c, ReferenceSetName); err != nil {
		return err
	}
	// bulk_load takes a JSON array; send it in slices to keep bodies small.
	for len(clean) > 0 {
		n := min(len(clean), 1000)
		batch, _ := json.Marshal(clean[:n])
		if _, err := c.do(ctx, call{method: "POST", path: pathRefSets + "/bulk_load/" + PathEscape(ReferenceSetName), rawBody: batch}, nil); err != nil {
			return fmt.Errorf("adding hashes to reference set %q: %w", ReferenceSetName, err)
		}
		clean = clean[n:]
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
