package qradarsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Object shapes, with the fields of reference/qradar-rest.md.
type (
	// LogSourceType is a log source type (DSM).
	LogSourceType struct {
		ID                   int64          `json:"id"`
		Name                 string         `json:"name"`
		Internal             bool           `json:"internal"`
		Custom               bool           `json:"custom"`
		ProtocolTypes        []TypeProtocol `json:"protocol_types"`
		DefaultProtocolID    int64          `json:"default_protocol_id"`
		LogSourceExtensionID *int64         `json:"log_source_extension_id"`
		UUID                 string         `json:"uuid"`
	}
	// TypeProtocol is one protocol a type supports.
	TypeProtocol struct {
		ProtocolID int64 `json:"protocol_id"`
		Documented bool  `json:"documented"`
	}
	// ProtocolType is a log source protocol and its parameters.
	ProtocolType struct {
		ID         int64           `json:"id"`
		Name       string          `json:"name"`
		Version    string          `json:"version"`
		Parameters []ProtocolParam `json:"parameters"`
	}
	// ProtocolParam is one parameter a protocol takes.
	ProtocolParam struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		Required bool   `json:"required"`
	}
	// LogSourceGroup is a log source group.
	LogSourceGroup struct {
		ID            int64   `json:"id"`
		Name          string  `json:"name"`
		Description   string  `json:"description"`
		ParentID      *int64  `json:"parent_id"`
		Assignable    bool    `json:"assignable"`
		ChildGroupIDs []int64 `json:"child_group_ids"`
		Owner         string  `json:"owner"`
	}
	// Param is a log source's protocol parameter value.
	Param struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	// LogSource is a log source.
	LogSource struct {
		ID                     int64   `json:"id"`
		Name                   string  `json:"name"`
		Description            string  `json:"description"`
		TypeID                 int64   `json:"type_id"`
		ProtocolTypeID         int64   `json:"protocol_type_id"`
		ProtocolParameters     []Param `json:"protocol_parameters"`
		Enabled                bool    `json:"enabled"`
		TargetEventCollectorID int64   `json:"target_event_collector_id"`
		CoalesceEvents         bool    `json:"coalesce_events"`
		StoreEventPayload      bool    `json:"store_event_payload"`
		GroupIDs               []int64 `json:"group_ids"`
		RequiresDeploy         bool    `json:"requires_deploy"`
		Credibility            int     `json:"credibility"`
		LanguageID             int     `json:"language_id"`
		AutoDiscovered         bool    `json:"auto_discovered"`
		Status                 struct {
			Status string `json:"status"`
		} `json:"status"`
	}
	// EventCollector is an event collector.
	EventCollector struct {
		ID            int64  `json:"id"`
		Name          string `json:"name"`
		ComponentName string `json:"component_name"`
		HostID        int64  `json:"host_id"`
	}
	// Category is a low-level event category.
	Category struct {
		ID                  int64  `json:"id"`
		Name                string `json:"name"`
		Description         string `json:"description"`
		Severity            int    `json:"severity"`
		HighLevelCategoryID int64  `json:"high_level_category_id"`
	}
	// QIDRecord is an event name. QRadar answers log_source_type_id null
	// ("a placeholder"); the simulator keeps the type privately.
	QIDRecord struct {
		ID                 int64  `json:"id"`
		QID                int64  `json:"qid"`
		Name               string `json:"name"`
		Description        string `json:"description"`
		Severity           int    `json:"severity"`
		LowLevelCategoryID int64  `json:"low_level_category_id"`
		LogSourceTypeID    *int64 `json:"log_source_type_id"`
		UUID               string `json:"uuid"`
		TypeID             int64  `json:"-"`
		System             bool   `json:"-"`
	}
	// EventMapping maps a LEEF EventID and category to a QID record.
	EventMapping struct {
		ID                     int64  `json:"id"`
		LogSourceTypeID        int64  `json:"log_source_type_id"`
		LogSourceEventID       string `json:"log_source_event_id"`
		LogSourceEventCategory string `json:"log_source_event_category"`
		QIDRecordID            int64  `json:"qid_record_id"`
		CustomEvent            bool   `json:"custom_event"`
		UUID                   string `json:"uuid"`
	}
	// RegexProperty is a custom event property definition.
	RegexProperty struct {
		ID               int64  `json:"id"`
		Identifier       string `json:"identifier"`
		Name             string `json:"name"`
		Description      string `json:"description"`
		PropertyType     string `json:"property_type"`
		UseForRuleEngine bool   `json:"use_for_rule_engine"`
		Username         string `json:"username"`
		AutoDiscovered   bool   `json:"auto_discovered"`
	}
	// LEEFExpression maps a LEEF key to a custom property.
	LEEFExpression struct {
		ID                      int64  `json:"id"`
		Identifier              string `json:"identifier"`
		RegexPropertyIdentifier string `json:"regex_property_identifier"`
		Expression              string `json:"expression"`
		LogSourceTypeID         *int64 `json:"log_source_type_id"`
		LogSourceID             *int64 `json:"log_source_id"`
		QID                     *int64 `json:"qid"`
		LowLevelCategoryID      *int64 `json:"low_level_category_id"`
		Enabled                 bool   `json:"enabled"`
	}
	// ReferenceSet is a reference set and its values.
	ReferenceSet struct {
		Name             string   `json:"name"`
		ElementType      string   `json:"element_type"`
		TimeoutType      string   `json:"timeout_type"`
		NumberOfElements int      `json:"number_of_elements"`
		CreationTime     int64    `json:"creation_time"`
		Values           []string `json:"-"`
	}
	// SavedSearch is an Ariel saved search.
	SavedSearch struct {
		ID            int64  `json:"id"`
		Name          string `json:"name"`
		Description   string `json:"description"`
		Owner         string `json:"owner"`
		IsShared      bool   `json:"is_shared"`
		IsQuickSearch bool   `json:"is_quick_search"`
		IsDefault     bool   `json:"is_default"`
		IsDashboard   bool   `json:"is_dashboard"`
		IsAggregate   bool   `json:"is_aggregate"`
		Database      string `json:"database"`
		AQL           string `json:"aql"`
	}
)

// UniversalLEEFTypeID is the seeded Universal LEEF type's id (one
// third-party script hard-codes 212; the app looks it up by name).
const UniversalLEEFTypeID = 212

type db struct {
	nextID      int64
	nextQID     int64
	types       []*LogSourceType
	protocols   []*ProtocolType
	groups      []*LogSourceGroup
	sources     []*LogSource
	collectors  []*EventCollector
	categories  []*Category
	qids        []*QIDRecord
	mappings    []*EventMapping
	properties  []*RegexProperty
	expressions []*LEEFExpression
	refsets     []*ReferenceSet
}

func ptr[T any](v T) *T { return &v }

func newDB() *db {
	d := &db{nextID: 5000, nextQID: 2000001}
	d.protocols = []*ProtocolType{
		{ID: 0, Name: "Syslog", Version: "1.0", Parameters: []ProtocolParam{{ID: 0, Name: "identifier", Required: true}, {ID: 1, Name: "incomingPayloadEncoding"}}},
		{ID: 2, Name: "JDBC", Version: "1.0", Parameters: []ProtocolParam{{ID: 0, Name: "identifier", Required: true}, {ID: 2, Name: "databaseType"}}},
		{ID: 31, Name: "TLS Syslog", Version: "1.0", Parameters: []ProtocolParam{{ID: 0, Name: "identifier", Required: true}, {ID: 3, Name: "listenPort"}}},
	}
	d.types = []*LogSourceType{
		{ID: 11, Name: "Linux OS", Internal: true, ProtocolTypes: []TypeProtocol{{ProtocolID: 0, Documented: true}}, UUID: uuid(11)},
		{ID: 12, Name: "Microsoft Windows Security Event Log", Internal: true, ProtocolTypes: []TypeProtocol{{ProtocolID: 0, Documented: true}}, UUID: uuid(12)},
		{ID: UniversalLEEFTypeID, Name: "Universal LEEF", Internal: true, ProtocolTypes: []TypeProtocol{{ProtocolID: 0, Documented: true}, {ProtocolID: 31, Documented: true}}, UUID: uuid(UniversalLEEFTypeID)},
	}
	d.groups = []*LogSourceGroup{
		{ID: 0, Name: "Log Sources", Assignable: false, ChildGroupIDs: []int64{1}, Owner: "admin"},
		{ID: 1, Name: "Other", ParentID: ptr(int64(0)), Assignable: false, Owner: "admin"},
	}
	d.collectors = []*EventCollector{
		{ID: 7, Name: "eventcollector0 :: qradar-console", ComponentName: "eventcollector0", HostID: 53},
		{ID: 12, Name: "eventcollector1 :: qradar-ec1", ComponentName: "eventcollector1", HostID: 54},
	}
	// Names from QRadar's category list; ids are the simulator's, except the
	// ones the reference verifies (19001, 3008, 3009, 9014). "Phishing" and
	// "Spam" are absent on purpose, so the app's fallbacks are exercised.
	for _, c := range []Category{
		{ID: 1001, Name: "Network Sweep", Severity: 4, HighLevelCategoryID: 1000},
		{ID: 2009, Name: "Potential Mail Exploit", Severity: 7, HighLevelCategoryID: 2000},
		{ID: 3008, Name: "Mail Service Login Succeeded", Severity: 1, HighLevelCategoryID: 3000},
		{ID: 3009, Name: "Mail Service Login Failed", Severity: 4, HighLevelCategoryID: 3000},
		{ID: 3014, Name: "User Login Success", Severity: 1, HighLevelCategoryID: 3000},
		{ID: 3015, Name: "User Login Failure", Severity: 4, HighLevelCategoryID: 3000},
		{ID: 3018, Name: "User Login Attempt", Severity: 1, HighLevelCategoryID: 3000},
		{ID: 4002, Name: "Firewall Deny", Severity: 3, HighLevelCategoryID: 4000},
		{ID: 5001, Name: "Virus Detected", Severity: 8, HighLevelCategoryID: 5000},
		{ID: 5014, Name: "Misc Malware", Severity: 7, HighLevelCategoryID: 5000},
		{ID: 7034, Name: "Suspicious Activity", Severity: 5, HighLevelCategoryID: 7000},
		{ID: 8052, Name: "Information", Severity: 1, HighLevelCategoryID: 8000},
		{ID: 9014, Name: "Mail Policy Violation", Severity: 5, HighLevelCategoryID: 9000},
		{ID: 9015, Name: "Misc Policy Violation", Severity: 4, HighLevelCategoryID: 9000},
		{ID: 19001, Name: "General Audit Event", Severity: 1, HighLevelCategoryID: 19000},
		{ID: 10009, Name: "Unknown", Severity: 3, HighLevelCategoryID: 10000},
	} {
		d.categories = append(d.categories, &c)
	}
	d.qids = []*QIDRecord{
		{ID: 1, QID: 55000002, Name: "Unknown Universal LEEF Event", Severity: 3, LowLevelCategoryID: 10009, UUID: uuid(1), TypeID: UniversalLEEFTypeID, System: true},
		{ID: 2, QID: 38750003, Name: "Unknown Linux OS Event", Severity: 3, LowLevelCategoryID: 10009, UUID: uuid(2), TypeID: 11, System: true},
	}
	return d
}

func uuid(id int64) string { return fmt.Sprintf("%08x-5153-4000-8000-%012x", id, id) }

func (d *db) id() int64 {
	d.nextID++
	return d.nextID
}

func find[T any](items []*T, pred func(*T) bool) *T {
	for _, it := range items {
		if pred(it) {
			return it
		}
	}
	return nil
}

func (d *db) typeByID(id int64) *LogSourceType {
	return find(d.types, func(t *LogSourceType) bool { return t.ID == id })
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	const lsm = "/api/config/event_sources/log_source_management/"
	const cp = "/api/config/event_sources/custom_properties/"
	mux.HandleFunc("GET /api/help/versions", s.getVersions)
	mux.HandleFunc("GET "+lsm+"protocol_types", listOf(s, func(d *db) []*ProtocolType { return d.protocols }))
	mux.HandleFunc("GET "+lsm+"log_source_types", listOf(s, func(d *db) []*LogSourceType { return d.types }))
	mux.HandleFunc("GET "+lsm+"log_source_types/{id}", getOf(s, func(d *db) []*LogSourceType { return d.types }, func(t *LogSourceType) int64 { return t.ID }))
	mux.HandleFunc("POST "+lsm+"log_source_types", s.createType)
	mux.HandleFunc("DELETE "+lsm+"log_source_types/{id}", s.deleteType)
	mux.HandleFunc("GET "+lsm+"log_source_groups", listOf(s, func(d *db) []*LogSourceGroup { return d.groups }))
	mux.HandleFunc("GET "+lsm+"log_source_groups/{id}", getOf(s, func(d *db) []*LogSourceGroup { return d.groups }, func(g *LogSourceGroup) int64 { return g.ID }))
	mux.HandleFunc("POST "+lsm+"log_source_groups", s.createGroup)
	mux.HandleFunc("DELETE "+lsm+"log_source_groups/{id}", s.deleteGroup)
	mux.HandleFunc("GET "+lsm+"log_sources", listOf(s, func(d *db) []*LogSource { return d.sources }))
	mux.HandleFunc("GET "+lsm+"log_sources/{id}", getOf(s, func(d *db) []*LogSource { return d.sources }, func(l *LogSource) int64 { return l.ID }))
	mux.HandleFunc("POST "+lsm+"log_sources", s.createLogSource)
	mux.HandleFunc("POST "+lsm+"log_sources/{id}", s.updateLogSource)
	mux.HandleFunc("DELETE "+lsm+"log_sources/{id}", s.deleteLogSource)
	mux.HandleFunc("GET /api/config/event_sources/event_collectors", listOf(s, func(d *db) []*EventCollector { return d.collectors }))
	mux.HandleFunc("GET /api/data_classification/low_level_categories", listOf(s, func(d *db) []*Category { return d.categories }))
	mux.HandleFunc("GET /api/data_classification/qid_records", listOf(s, func(d *db) []*QIDRecord { return d.qids }))
	mux.HandleFunc("GET /api/data_classification/qid_records/{id}", getOf(s, func(d *db) []*QIDRecord { return d.qids }, func(q *QIDRecord) int64 { return q.ID }))
	mux.HandleFunc("POST /api/data_classification/qid_records", s.createQID)
	mux.HandleFunc("POST /api/data_classification/qid_records/{id}", s.updateQID)
	mux.HandleFunc("DELETE /api/data_classification/qid_records/{id}", notAllowed)
	mux.HandleFunc("GET /api/data_classification/dsm_event_mappings", listOf(s, func(d *db) []*EventMapping { return d.mappings }))
	mux.HandleFunc("GET /api/data_classification/dsm_event_mappings/{id}", getOf(s, func(d *db) []*EventMapping { return d.mappings }, func(m *EventMapping) int64 { return m.ID }))
	mux.HandleFunc("POST /api/data_classification/dsm_event_mappings", s.createMapping)
	mux.HandleFunc("POST /api/data_classification/dsm_event_mappings/{id}", s.updateMapping)
	mux.HandleFunc("DELETE /api/data_classification/dsm_event_mappings/{id}", notAllowed)
	mux.HandleFunc("GET "+cp+"regex_properties", listOf(s, func(d *db) []*RegexProperty { return d.properties }))
	mux.HandleFunc("GET "+cp+"regex_properties/{id}", getOf(s, func(d *db) []*RegexProperty { return d.properties }, func(p *RegexProperty) int64 { return p.ID }))
	mux.HandleFunc("POST "+cp+"regex_properties", s.createProperty)
	mux.HandleFunc("DELETE "+cp+"regex_properties/{id}", s.deleteProperty)
	mux.HandleFunc("GET "+cp+"property_leef_expressions", listOf(s, func(d *db) []*LEEFExpression { return d.expressions }))
	mux.HandleFunc("GET "+cp+"property_leef_expressions/{id}", getOf(s, func(d *db) []*LEEFExpression { return d.expressions }, func(e *LEEFExpression) int64 { return e.ID }))
	mux.HandleFunc("POST "+cp+"property_leef_expressions", s.createExpression)
	mux.HandleFunc("DELETE "+cp+"property_leef_expressions/{id}", s.deleteExpression)
	mux.HandleFunc("GET /api/reference_data/sets", listOf(s, func(d *db) []*ReferenceSet { return d.refsets }))
	mux.HandleFunc("GET /api/reference_data/sets/{name}", s.getRefSet)
	mux.HandleFunc("POST /api/reference_data/sets", s.createRefSet)
	mux.HandleFunc("POST /api/reference_data/sets/{name}", s.addRefSetValue)
	mux.HandleFunc("POST /api/reference_data/sets/bulk_load/{name}", s.bulkLoadRefSet)
	mux.HandleFunc("DELETE /api/reference_data/sets/{name}", s.deleteRefSet)
	mux.HandleFunc("GET /api/staged_config/deploy_status", s.getDeployStatus)
	mux.HandleFunc("POST /api/staged_config/deploy_status", s.deploy)
	mux.HandleFunc("POST /api/ariel/searches", s.createSearch)
	mux.HandleFunc("GET /api/ariel/searches/{id}", s.getSearch)
	mux.HandleFunc("GET /api/ariel/searches/{id}/results", s.getSearchResults)
	mux.HandleFunc("DELETE /api/ariel/searches/{id}", s.deleteSearch)
	mux.HandleFunc("GET /api/ariel/saved_searches", listOf(s, func(*db) []*SavedSearch { return s.savedSrch }))
	mux.HandleFunc("GET /api/ariel/saved_searches/{id}", getOf(s, func(*db) []*SavedSearch { return s.savedSrch }, func(x *SavedSearch) int64 { return x.ID }))
	mux.HandleFunc("POST /api/ariel/saved_searches/{id}", s.updateSavedSearch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, 1, "No such endpoint", fmt.Sprintf("%s %s is not an endpoint of the simulator", r.Method, r.URL.Path))
	})
	s.mux = mux
}

func notAllowed(w http.ResponseWriter, r *http.Request) {
	writeErr(w, http.StatusMethodNotAllowed, 1, "Method Not Allowed", r.Method+" is not supported on this endpoint")
}

func (s *Server) getVersions(w http.ResponseWriter, r *http.Request) {
	writeList(w, r, s.opts.Versions)
}

func listOf[T any](s *Server, items func(*db) []*T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		list := make([]T, 0)
		for _, it := range items(s.db) {
			list = append(list, *it)
		}
		s.mu.Unlock()
		writeList(w, r, list)
	}
}

func getOf[T any](s *Server, items func(*db) []*T, idOf func(*T) int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r)
		s.mu.Lock()
		var found *T
		if ok {
			if it := find(items(s.db), func(t *T) bool { return idOf(t) == id }); it != nil {
				c := *it
				found = &c
			}
		}
		s.mu.Unlock()
		if found == nil {
			writeErr(w, http.StatusNotFound, 1002, "Not found", fmt.Sprintf("No object with id %s", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, found)
	}
}

// ---- log source types ----

func (s *Server) createType(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name              string         `json:"name"`
		ProtocolTypes     []TypeProtocol `json:"protocol_types"`
		DefaultProtocolID *int64         `json:"default_protocol_id"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	switch {
	case strings.TrimSpace(in.Name) == "" || len(in.Name) > 241:
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Invalid name", "The name is required and at most 241 characters.")
		return
	case find(d.types, func(t *LogSourceType) bool { return t.Name == in.Name }) != nil:
		// A duplicate type name is a 422 (code 1001), not a 409.
		writeErr(w, http.StatusUnprocessableEntity, 1001, "Duplicate name", "A log source type with that name already exists.")
		return
	case len(in.ProtocolTypes) == 0:
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Missing protocol_types", "At least one protocol type is required.")
		return
	}
	t := &LogSourceType{ID: 4000 + int64(len(d.types)), Name: in.Name, Custom: true}
	for _, p := range in.ProtocolTypes {
		if find(d.protocols, func(x *ProtocolType) bool { return x.ID == p.ProtocolID }) == nil {
			writeErr(w, http.StatusUnprocessableEntity, 1005, "Unknown protocol", fmt.Sprintf("Protocol type %d does not exist.", p.ProtocolID))
			return
		}
		t.ProtocolTypes = append(t.ProtocolTypes, TypeProtocol{ProtocolID: p.ProtocolID})
	}
	for d.typeByID(t.ID) != nil {
		t.ID++
	}
	t.DefaultProtocolID = t.ProtocolTypes[0].ProtocolID
	if in.DefaultProtocolID != nil {
		t.DefaultProtocolID = *in.DefaultProtocolID
	}
	t.UUID = uuid(t.ID)
	d.types = append(d.types, t)
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) deleteType(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	if !s.DeleteLogSourceType(id) {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "No such log source type.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeleteLogSourceType deletes a custom type, as an administrator could; its
// mappings and LEEF expressions go with it.
func (s *Server) DeleteLogSourceType(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	t := d.typeByID(id)
	if t == nil || t.Internal {
		return false
	}
	d.types = slices.DeleteFunc(d.types, func(x *LogSourceType) bool { return x.ID == id })
	d.mappings = slices.DeleteFunc(d.mappings, func(m *EventMapping) bool { return m.LogSourceTypeID == id })
	d.expressions = slices.DeleteFunc(d.expressions, func(e *LEEFExpression) bool { return e.LogSourceTypeID != nil && *e.LogSourceTypeID == id })
	return true
}

// ---- groups ----

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		ParentID    *int64 `json:"parent_id"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	switch {
	case strings.TrimSpace(in.Name) == "":
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Missing name", "The name is required.")
		return
	case in.ParentID == nil:
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Missing parent_id", "The parent_id is required.")
		return
	case find(d.groups, func(g *LogSourceGroup) bool { return g.ID == *in.ParentID }) == nil:
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Unknown parent", "The parent group does not exist.")
		return
	case find(d.groups, func(g *LogSourceGroup) bool { return g.Name == in.Name }) != nil:
		writeErr(w, http.StatusConflict, 1001, "Duplicate name", "The 'name' parameter must be unique.")
		return
	}
	g := &LogSourceGroup{ID: d.id(), Name: in.Name, Description: in.Description, ParentID: in.ParentID, Assignable: true, ChildGroupIDs: []int64{}, Owner: "simulator"}
	d.groups = append(d.groups, g)
	writeJSON(w, http.StatusCreated, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	if !s.DeleteGroup(id) {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "No such group.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeleteGroup deletes an assignable group, as an administrator could.
func (s *Server) DeleteGroup(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	if g := find(d.groups, func(g *LogSourceGroup) bool { return g.ID == id }); g == nil || !g.Assignable {
		return false
	}
	d.groups = slices.DeleteFunc(d.groups, func(g *LogSourceGroup) bool { return g.ID == id })
	for _, ls := range d.sources {
		ls.GroupIDs = slices.DeleteFunc(ls.GroupIDs, func(x int64) bool { return x == id })
	}
	return true
}

// ---- log sources ----

// logSourceInput holds a create or update body; nil fields were absent.
type logSourceInput struct {
	Name                   *string  `json:"name"`
	Description            *string  `json:"description"`
	TypeID                 *int64   `json:"type_id"`
	ProtocolTypeID         *int64   `json:"protocol_type_id"`
	ProtocolParameters     *[]Param `json:"protocol_parameters"`
	Enabled                *bool    `json:"enabled"`
	TargetEventCollectorID *int64   `json:"target_event_collector_id"`
	CoalesceEvents         *bool    `json:"coalesce_events"`
	StoreEventPayload      *bool    `json:"store_event_payload"`
	GroupIDs               *[]int64 `json:"group_ids"`
	Credibility            *int     `json:"credibility"`
}

func (ls *LogSource) identifier() string {
	for _, p := range ls.ProtocolParameters {
		if p.Name == "identifier" {
			return p.Value
		}
	}
	return ""
}

func (in logSourceInput) apply(ls *LogSource) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&ls.Name, in.Name)
	set(&ls.Description, in.Description)
	if in.TypeID != nil {
		ls.TypeID = *in.TypeID
	}
	if in.ProtocolTypeID != nil {
		ls.ProtocolTypeID = *in.ProtocolTypeID
	}
	if in.ProtocolParameters != nil {
		ls.ProtocolParameters = slices.Clone(*in.ProtocolParameters)
	}
	if in.Enabled != nil {
		ls.Enabled = *in.Enabled
	}
	if in.TargetEventCollectorID != nil {
		ls.TargetEventCollectorID = *in.TargetEventCollectorID
	}
	if in.CoalesceEvents != nil {
		ls.CoalesceEvents = *in.CoalesceEvents
	}
	if in.StoreEventPayload != nil {
		ls.StoreEventPayload = *in.StoreEventPayload
	}
	if in.GroupIDs != nil {
		ls.GroupIDs = slices.Clone(*in.GroupIDs)
	}
	if in.Credibility != nil {
		ls.Credibility = *in.Credibility
	}
}

// validate checks a log source as it would be after a create or update; it
// returns the status, code and description of the first problem.
func (d *db) validateLogSource(ls *LogSource) (int, int, string) {
	switch {
	case strings.TrimSpace(ls.Name) == "":
		return 422, 1003, "The name is required."
	case len(ls.Name) > 255:
		return 422, 1005, "The name is at most 255 characters."
	case strings.Contains(ls.Name, `\`):
		return 422, 1043, "The name must not contain a backslash."
	}
	t := d.typeByID(ls.TypeID)
	if t == nil {
		return 422, 1007, fmt.Sprintf("Log source type %d does not exist.", ls.TypeID)
	}
	if !slices.ContainsFunc(t.ProtocolTypes, func(p TypeProtocol) bool { return p.ProtocolID == ls.ProtocolTypeID }) {
		return 422, 1011, fmt.Sprintf("Protocol type %d is not supported by log source type %d.", ls.ProtocolTypeID, ls.TypeID)
	}
	proto := find(d.protocols, func(p *ProtocolType) bool { return p.ID == ls.ProtocolTypeID })
	for _, p := range ls.ProtocolParameters {
		if !slices.ContainsFunc(proto.Parameters, func(q ProtocolParam) bool { return q.ID == p.ID && q.Name == p.Name }) {
			return 422, 1013, fmt.Sprintf("Protocol parameter %d/%q does not belong to protocol %d.", p.ID, p.Name, proto.ID)
		}
	}
	if ls.identifier() == "" {
		return 422, 1012, "The protocol parameter 'identifier' is required."
	}
	if find(d.collectors, func(c *EventCollector) bool { return c.ID == ls.TargetEventCollectorID }) == nil {
		return 422, 1025, fmt.Sprintf("Event collector %d does not exist.", ls.TargetEventCollectorID)
	}
	for _, gid := range ls.GroupIDs {
		g := find(d.groups, func(g *LogSourceGroup) bool { return g.ID == gid })
		if g == nil || !g.Assignable {
			return 422, 1031, fmt.Sprintf("Group %d does not exist or cannot be assigned.", gid)
		}
	}
	for _, o := range d.sources {
		if o.ID == ls.ID {
			continue
		}
		if o.Name == ls.Name {
			return 409, 1001, "The 'name' parameter must be unique."
		}
		if o.TypeID == ls.TypeID && o.ProtocolTypeID == ls.ProtocolTypeID && o.identifier() == ls.identifier() {
			return 409, 1002, "A log source with the same type, protocol and identifier already exists."
		}
	}
	return 0, 0, ""
}

func (s *Server) createLogSource(w http.ResponseWriter, r *http.Request) {
	var in logSourceInput
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	ls := &LogSource{Enabled: true, Credibility: 5, LanguageID: 1, StoreEventPayload: true, GroupIDs: []int64{}}
	ls.Status.Status = "NA"
	if in.TypeID == nil || in.ProtocolTypeID == nil || in.TargetEventCollectorID == nil {
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Missing field", "type_id, protocol_type_id and target_event_collector_id are required.")
		return
	}
	in.apply(ls)
	if status, code, desc := d.validateLogSource(ls); status != 0 {
		writeErr(w, status, code, http.StatusText(status), desc)
		return
	}
	ls.ID = d.id()
	ls.RequiresDeploy = true
	d.sources = append(d.sources, ls)
	s.staged++
	writeJSON(w, http.StatusCreated, ls)
}

func (s *Server) updateLogSource(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	var in logSourceInput
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	cur := find(d.sources, func(l *LogSource) bool { return l.ID == id })
	if cur == nil {
		writeErr(w, http.StatusNotFound, 1050, "Not found", "The log source does not exist.")
		return
	}
	next := *cur
	next.ProtocolParameters = slices.Clone(cur.ProtocolParameters)
	in.apply(&next)
	if status, code, desc := d.validateLogSource(&next); status != 0 {
		writeErr(w, status, code, http.StatusText(status), desc)
		return
	}
	next.RequiresDeploy = true
	*cur = next
	s.staged++
	writeJSON(w, http.StatusOK, cur)
}

func (s *Server) deleteLogSource(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	if !s.DeleteLogSource(id) {
		writeErr(w, http.StatusNotFound, 1050, "Not found", "The log source does not exist.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeleteLogSource deletes a log source, as an administrator could.
func (s *Server) DeleteLogSource(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.db.sources)
	s.db.sources = slices.DeleteFunc(s.db.sources, func(l *LogSource) bool { return l.ID == id })
	if len(s.db.sources) == n {
		return false
	}
	s.staged++
	return true
}

// ---- QID records and mappings ----

func (s *Server) createQID(w http.ResponseWriter, r *http.Request) {
	var in struct {
		LogSourceTypeID    *int64 `json:"log_source_type_id"`
		Name               string `json:"name"`
		Description        string `json:"description"`
		Severity           *int   `json:"severity"`
		LowLevelCategoryID *int64 `json:"low_level_category_id"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	var cat *Category
	if in.LowLevelCategoryID != nil {
		cat = find(d.categories, func(c *Category) bool { return c.ID == *in.LowLevelCategoryID })
	}
	switch {
	case in.LogSourceTypeID == nil || d.typeByID(*in.LogSourceTypeID) == nil:
		writeErr(w, 422, 1005, "Invalid log_source_type_id", "log_source_type_id is required and must exist.")
		return
	case strings.TrimSpace(in.Name) == "":
		writeErr(w, 422, 1005, "Missing name", "The name is required.")
		return
	case cat == nil:
		writeErr(w, 422, 1005, "Invalid low_level_category_id", "low_level_category_id is required and must exist.")
		return
	case in.Severity != nil && (*in.Severity < 0 || *in.Severity > 10):
		writeErr(w, 422, 1005, "Invalid severity", "The severity is between 0 and 10.")
		return
	case find(d.qids, func(q *QIDRecord) bool { return q.Name == in.Name }) != nil:
		// QRadar's answer to a duplicate QID name is undocumented
		// (reference open question 5); the simulator refuses it.
		writeErr(w, http.StatusConflict, 1004, "Duplicate name", "A QID record with that name already exists.")
		return
	}
	sev := cat.Severity
	if in.Severity != nil {
		sev = *in.Severity
	}
	q := &QIDRecord{ID: d.id(), QID: d.nextQID, Name: in.Name, Description: in.Description, Severity: sev,
		LowLevelCategoryID: cat.ID, TypeID: *in.LogSourceTypeID}
	q.UUID = uuid(q.ID)
	d.nextQID++
	d.qids = append(d.qids, q)
	writeJSON(w, http.StatusCreated, q)
}

func (s *Server) updateQID(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	var in struct {
		Name               *string `json:"name"`
		Description        *string `json:"description"`
		Severity           *int    `json:"severity"`
		LowLevelCategoryID *int64  `json:"low_level_category_id"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, 422, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := find(s.db.qids, func(q *QIDRecord) bool { return q.ID == id })
	switch {
	case q == nil:
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The QID record does not exist.")
		return
	case q.System:
		writeErr(w, http.StatusConflict, 1008, "System QID", "System QID records cannot be changed.")
		return
	}
	if in.Name != nil {
		q.Name = *in.Name
	}
	if in.Description != nil {
		q.Description = *in.Description
	}
	if in.Severity != nil {
		q.Severity = *in.Severity
	}
	if in.LowLevelCategoryID != nil {
		q.LowLevelCategoryID = *in.LowLevelCategoryID
	}
	writeJSON(w, http.StatusOK, q)
}

func (s *Server) createMapping(w http.ResponseWriter, r *http.Request) {
	var in struct {
		LogSourceTypeID        *int64 `json:"log_source_type_id"`
		LogSourceEventID       string `json:"log_source_event_id"`
		LogSourceEventCategory string `json:"log_source_event_category"`
		QIDRecordID            *int64 `json:"qid_record_id"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, 422, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	switch {
	case in.LogSourceTypeID == nil || d.typeByID(*in.LogSourceTypeID) == nil:
		writeErr(w, 422, 1005, "Invalid log_source_type_id", "log_source_type_id is required and must exist.")
		return
	case in.LogSourceEventID == "":
		writeErr(w, 422, 1005, "Missing log_source_event_id", "log_source_event_id is required.")
		return
	case in.QIDRecordID == nil || find(d.qids, func(q *QIDRecord) bool { return q.ID == *in.QIDRecordID }) == nil:
		writeErr(w, 422, 1005, "Invalid qid_record_id", "qid_record_id is required and must exist.")
		return
	case find(d.mappings, func(m *EventMapping) bool {
		return m.LogSourceTypeID == *in.LogSourceTypeID && m.LogSourceEventID == in.LogSourceEventID && m.LogSourceEventCategory == in.LogSourceEventCategory
	}) != nil:
		writeErr(w, http.StatusConflict, 1008, "Duplicate mapping", "A mapping for this event id and category already exists.")
		return
	}
	m := &EventMapping{ID: d.id(), LogSourceTypeID: *in.LogSourceTypeID, LogSourceEventID: in.LogSourceEventID,
		LogSourceEventCategory: in.LogSourceEventCategory, QIDRecordID: *in.QIDRecordID, CustomEvent: true}
	m.UUID = uuid(m.ID)
	d.mappings = append(d.mappings, m)
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) updateMapping(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	var in struct {
		QIDRecordID *int64 `json:"qid_record_id"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, 422, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := find(s.db.mappings, func(m *EventMapping) bool { return m.ID == id })
	if m == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The mapping does not exist.")
		return
	}
	if in.QIDRecordID == nil || find(s.db.qids, func(q *QIDRecord) bool { return q.ID == *in.QIDRecordID }) == nil {
		writeErr(w, 422, 1005, "Invalid qid_record_id", "qid_record_id must exist.")
		return
	}
	m.QIDRecordID = *in.QIDRecordID
	writeJSON(w, http.StatusOK, m)
}

// ---- custom properties ----

func (s *Server) createProperty(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name             string `json:"name"`
		Description      string `json:"description"`
		PropertyType     string `json:"property_type"`
		UseForRuleEngine bool   `json:"use_for_rule_engine"`
		DatetimeFormat   string `json:"datetime_format"`
		Locale           string `json:"locale"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, 422, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	switch {
	case strings.TrimSpace(in.Name) == "":
		writeErr(w, 422, 1005, "Missing name", "The name is required.")
		return
	case !slices.Contains([]string{"string", "numeric", "ip", "port", "time"}, in.PropertyType):
		writeErr(w, 422, 1005, "Invalid property_type", "property_type is one of string, numeric, ip, port, time.")
		return
	case in.PropertyType == "time" && (in.DatetimeFormat == "" || in.Locale == ""):
		writeErr(w, 422, 1005, "Missing datetime_format", "A time property needs datetime_format and locale.")
		return
	case find(d.properties, func(p *RegexProperty) bool { return p.Name == in.Name }) != nil:
		// Undocumented in QRadar (reference open question 5); refused here.
		writeErr(w, http.StatusConflict, 1004, "Duplicate name", "A custom property with that name already exists.")
		return
	}
	p := &RegexProperty{ID: d.id(), Name: in.Name, Description: in.Description, PropertyType: in.PropertyType,
		UseForRuleEngine: in.UseForRuleEngine, Username: "app-service"}
	p.Identifier = uuid(p.ID)
	d.properties = append(d.properties, p)
	writeJSON(w, http.StatusCreated, p)
}

func (s *Server) deleteProperty(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	if !s.DeleteProperty(id) {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The property does not exist.")
		return
	}
	// Deleting a regex property is asynchronous in QRadar: 202 and a task.
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "COMPLETED"})
}

// DeleteProperty deletes a custom property and its expressions, as an
// administrator could.
func (s *Server) DeleteProperty(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	p := find(d.properties, func(p *RegexProperty) bool { return p.ID == id })
	if p == nil {
		return false
	}
	d.properties = slices.DeleteFunc(d.properties, func(x *RegexProperty) bool { return x.ID == id })
	d.expressions = slices.DeleteFunc(d.expressions, func(e *LEEFExpression) bool { return e.RegexPropertyIdentifier == p.Identifier })
	return true
}

func (s *Server) createExpression(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RegexPropertyIdentifier string `json:"regex_property_identifier"`
		Expression              string `json:"expression"`
		LogSourceTypeID         *int64 `json:"log_source_type_id"`
		LogSourceID             *int64 `json:"log_source_id"`
		Enabled                 *bool  `json:"enabled"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, 422, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.db
	switch {
	case find(d.properties, func(p *RegexProperty) bool { return p.Identifier == in.RegexPropertyIdentifier }) == nil:
		writeErr(w, 422, 1005, "Invalid regex_property_identifier", "The custom property does not exist.")
		return
	case strings.TrimSpace(in.Expression) == "":
		writeErr(w, 422, 1005, "Missing expression", "The expression is required.")
		return
	case in.LogSourceTypeID != nil && d.typeByID(*in.LogSourceTypeID) == nil:
		writeErr(w, 422, 1005, "Invalid log_source_type_id", "The log source type does not exist.")
		return
	}
	e := &LEEFExpression{ID: d.id(), RegexPropertyIdentifier: in.RegexPropertyIdentifier, Expression: in.Expression,
		LogSourceTypeID: in.LogSourceTypeID, LogSourceID: in.LogSourceID, Enabled: in.Enabled == nil || *in.Enabled}
	e.Identifier = uuid(e.ID)
	d.expressions = append(d.expressions, e)
	writeJSON(w, http.StatusCreated, e)
}

func (s *Server) deleteExpression(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	s.mu.Lock()
	n := len(s.db.expressions)
	s.db.expressions = slices.DeleteFunc(s.db.expressions, func(e *LEEFExpression) bool { return e.ID == id })
	gone := len(s.db.expressions) < n
	s.mu.Unlock()
	if !gone {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The expression does not exist.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- reference sets ----

func (d *db) refSet(name string) *ReferenceSet {
	return find(d.refsets, func(rs *ReferenceSet) bool { return rs.Name == name })
}

func (s *Server) getRefSet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.db.refSet(r.PathValue("name"))
	if rs == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The reference set does not exist.")
		return
	}
	out := toMap(rs)
	data := []map[string]any{}
	for _, v := range rs.Values {
		data = append(data, map[string]any{"value": v, "source": "reference data api"})
	}
	out["data"] = data
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createRefSet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, et := q.Get("name"), q.Get("element_type")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case name == "":
		writeErr(w, 422, 1005, "Missing name", "The name is required.")
		return
	case !slices.Contains([]string{"ALN", "NUM", "IP", "PORT", "ALNIC", "DATE"}, et):
		writeErr(w, 422, 1005, "Invalid element_type", "element_type is one of ALN, NUM, IP, PORT, ALNIC, DATE.")
		return
	case s.db.refSet(name) != nil:
		writeErr(w, http.StatusConflict, 1004, "Duplicate name", "The reference set could not be created, the name provided is already in use.")
		return
	}
	rs := &ReferenceSet{Name: name, ElementType: et, TimeoutType: "UNKNOWN", CreationTime: s.opts.Now().UnixMilli()}
	s.db.refsets = append(s.db.refsets, rs)
	writeJSON(w, http.StatusCreated, rs)
}

func (rs *ReferenceSet) add(v string) {
	if rs.ElementType == "ALNIC" {
		if slices.ContainsFunc(rs.Values, func(x string) bool { return strings.EqualFold(x, v) }) {
			return
		}
	} else if slices.Contains(rs.Values, v) {
		return
	}
	rs.Values = append(rs.Values, v)
	rs.NumberOfElements = len(rs.Values)
}

func (s *Server) addRefSetValue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.db.refSet(r.PathValue("name"))
	if rs == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The reference set does not exist.")
		return
	}
	v := r.URL.Query().Get("value")
	if v == "" {
		writeErr(w, 422, 1005, "Missing value", "The value is required.")
		return
	}
	rs.add(v)
	writeJSON(w, http.StatusOK, rs)
}

func (s *Server) bulkLoadRefSet(w http.ResponseWriter, r *http.Request) {
	var values []string
	if err := json.NewDecoder(r.Body).Decode(&values); err != nil {
		writeErr(w, 422, 1005, "Invalid body", "The body must be a JSON array of strings.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.db.refSet(r.PathValue("name"))
	if rs == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The reference set does not exist.")
		return
	}
	for _, v := range values {
		rs.add(v)
	}
	writeJSON(w, http.StatusOK, rs)
}

func (s *Server) deleteRefSet(w http.ResponseWriter, r *http.Request) {
	if !s.DeleteReferenceSet(r.PathValue("name")) {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The reference set does not exist.")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "QUEUED"})
}

// DeleteReferenceSet deletes a reference set, as an administrator could.
func (s *Server) DeleteReferenceSet(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.db.refsets)
	s.db.refsets = slices.DeleteFunc(s.db.refsets, func(rs *ReferenceSet) bool { return rs.Name == name })
	return len(s.db.refsets) < n
}

// ---- deploy ----

func (s *Server) getDeployStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lastDepl
	if st == nil {
		st = map[string]any{"status": "COMPLETE", "percent_complete": 100, "type": "INCREMENTAL", "hosts": []any{}}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Type string `json:"type"`
	}
	if err := decodeBody(r, &in); err != nil || (in.Type != "INCREMENTAL" && in.Type != "FULL") {
		writeErr(w, 422, 1005, "Invalid body", `The body must be {"type": "INCREMENTAL"} or {"type": "FULL"}.`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged == 0 && in.Type == "INCREMENTAL" {
		writeErr(w, http.StatusConflict, 1002, "No changes to deploy", "There already exists a deploy in action, or there are no changes to deploy.")
		return
	}
	s.deploys++
	s.staged = 0
	for _, ls := range s.db.sources {
		ls.RequiresDeploy = false
	}
	s.lastDepl = map[string]any{"status": "COMPLETE", "percent_complete": 100, "type": in.Type, "initiated_by": "app-service", "hosts": []any{}}
	writeJSON(w, http.StatusOK, map[string]any{"status": "INITIALIZING", "percent_complete": 0, "type": in.Type, "initiated_by": "app-service", "hosts": []any{}})
}

// ---- saved searches ----

// AddSavedSearch adds a saved search, as an administrator saving AQL would.
func (s *Server) AddSavedSearch(name, aql string, quick bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := &SavedSearch{ID: s.db.id(), Name: name, Owner: "admin", IsShared: true, IsQuickSearch: quick, Database: "EVENTS", AQL: aql}
	s.savedSrch = append(s.savedSrch, ss)
	return ss.ID
}

func (s *Server) updateSavedSearch(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r)
	var in struct {
		IsShared      *bool   `json:"is_shared"`
		IsQuickSearch *bool   `json:"is_quick_search"`
		IsDefault     *bool   `json:"is_default"`
		IsDashboard   *bool   `json:"is_dashboard"`
		Owner         *string `json:"owner"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeErr(w, 422, 1005, "Invalid body", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := find(s.savedSrch, func(x *SavedSearch) bool { return x.ID == id })
	if ss == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The saved search does not exist.")
		return
	}
	for dst, src := range map[*bool]*bool{&ss.IsShared: in.IsShared, &ss.IsQuickSearch: in.IsQuickSearch, &ss.IsDefault: in.IsDefault, &ss.IsDashboard: in.IsDashboard} {
		if src != nil {
			*dst = *src
		}
	}
	if in.Owner != nil {
		ss.Owner = *in.Owner
	}
	writeJSON(w, http.StatusOK, ss)
}

// ---- accessors for tests ----

func copies[T any](items []*T) []T {
	out := make([]T, 0, len(items))
	for _, it := range items {
		out = append(out, *it)
	}
	return out
}

// LogSources returns the log sources.
func (s *Server) LogSources() []LogSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.sources)
}

// LogSourceTypes returns the log source types.
func (s *Server) LogSourceTypes() []LogSourceType {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.types)
}

// Groups returns the log source groups.
func (s *Server) Groups() []LogSourceGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.groups)
}

// QIDRecords returns the QID records, built-in ones included.
func (s *Server) QIDRecords() []QIDRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.qids)
}

// EventMappings returns the DSM event mappings.
func (s *Server) EventMappings() []EventMapping {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.mappings)
}

// Properties returns the custom properties.
func (s *Server) Properties() []RegexProperty {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.properties)
}

// Expressions returns the LEEF property expressions.
func (s *Server) Expressions() []LEEFExpression {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.db.expressions)
}

// ReferenceSetValues returns a reference set's values.
func (s *Server) ReferenceSetValues(name string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.db.refSet(name)
	if rs == nil {
		return nil, false
	}
	return slices.Clone(rs.Values), true
}

// SavedSearches returns the saved searches.
func (s *Server) SavedSearches() []SavedSearch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copies(s.savedSrch)
}
