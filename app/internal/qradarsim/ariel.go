package qradarsim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// snapshot is what Ariel needs of the simulator's configuration, copied so a
// search runs without holding the lock.
type snapshot struct {
	byIdent    map[string]LogSource
	sources    map[int64]LogSource
	types      map[int64]string
	props      map[string][]propExpr // property name -> expressions in id order
	mappings   map[string]QIDRecord  // type \x00 event id \x00 category -> record
	qids       map[int64]QIDRecord   // by qid number
	categories map[int64]string
}

type propExpr struct {
	typeID *int64
	key    string
}

// unknownQID is the QID of an unmapped event (Universal LEEF's "unknown").
const unknownQID = 55000002

func (s *Server) snapshot() *snapshot {
	d := s.db
	sn := &snapshot{byIdent: map[string]LogSource{}, sources: map[int64]LogSource{}, types: map[int64]string{},
		props: map[string][]propExpr{}, mappings: map[string]QIDRecord{}, qids: map[int64]QIDRecord{}, categories: map[int64]string{}}
	for _, ls := range d.sources {
		// Syslog routes an event to the log source whose identifier is the
		// header host name.
		if ls.ProtocolTypeID == 0 && ls.Enabled {
			sn.byIdent[ls.identifier()] = *ls
		}
		sn.sources[ls.ID] = *ls
	}
	for _, t := range d.types {
		sn.types[t.ID] = t.Name
	}
	byIdentifier := map[string]string{}
	for _, p := range d.properties {
		byIdentifier[p.Identifier] = p.Name
		sn.props[p.Name] = nil
	}
	for _, e := range d.expressions {
		if name, ok := byIdentifier[e.RegexPropertyIdentifier]; ok && e.Enabled {
			sn.props[name] = append(sn.props[name], propExpr{typeID: e.LogSourceTypeID, key: e.Expression})
		}
	}
	qidByID := map[int64]QIDRecord{}
	for _, q := range d.qids {
		qidByID[q.ID] = *q
		sn.qids[q.QID] = *q
	}
	for _, m := range d.mappings {
		if q, ok := qidByID[m.QIDRecordID]; ok {
			sn.mappings[fmt.Sprintf("%d\x00%s\x00%s", m.LogSourceTypeID, m.LogSourceEventID, m.LogSourceEventCategory)] = q
		}
	}
	for _, c := range d.categories {
		sn.categories[c.ID] = c.Name
	}
	return sn
}

// resolve tells the parser whether name is a custom property.
func (sn *snapshot) resolve(name string) (bool, error) {
	if _, ok := sn.props[name]; ok {
		return true, nil
	}
	for p := range sn.props {
		if strings.EqualFold(p, name) {
			return false, fmt.Errorf("custom property %q is spelled %q", name, p)
		}
	}
	return false, fmt.Errorf("unknown field or property %q", name)
}

func (sn *snapshot) logSource(ev *event) LogSource {
	return sn.byIdent[ev.host]
}

func (sn *snapshot) qid(ev *event) QIDRecord {
	ls := sn.logSource(ev)
	if ls.ID == 0 {
		return QIDRecord{QID: unknownQID}
	}
	if q, ok := sn.mappings[fmt.Sprintf("%d\x00%s\x00%s", ls.TypeID, ev.eventID, ev.attrs["cat"])]; ok {
		return q
	}
	return QIDRecord{QID: unknownQID}
}

func (sn *snapshot) property(ev *event, name string) any {
	ls := sn.logSource(ev)
	for _, e := range sn.props[name] {
		if e.typeID != nil && (ls.ID == 0 || *e.typeID != ls.TypeID) {
			continue
		}
		if v, ok := ev.attrs[e.key]; ok && v != "" {
			return v
		}
	}
	return nil
}

func (sn *snapshot) qidName(qid int64) any {
	if q, ok := sn.qids[qid]; ok {
		return q.Name
	}
	return "Unknown"
}

func (sn *snapshot) logSourceName(id int64) any {
	if ls, ok := sn.sources[id]; ok {
		return ls.Name
	}
	return "SIM Generic Log DSM"
}

func (sn *snapshot) typeName(id int64) any {
	if n, ok := sn.types[id]; ok {
		return n
	}
	return "SIM Generic Log DSM"
}

func (sn *snapshot) categoryName(id int64) any {
	if n, ok := sn.categories[id]; ok {
		return n
	}
	return "Unknown"
}

type search struct {
	id     string
	aql    string
	polls  int
	status string
	rows   []map[string]any
}

func (s *Server) createSearch(w http.ResponseWriter, r *http.Request) {
	aql := r.URL.Query().Get("query_expression")
	if aql == "" {
		writeErr(w, 422, 1005, "Missing query_expression", "query_expression or saved_search_id is required.")
		return
	}
	s.mu.Lock()
	snap := s.snapshot()
	s.mu.Unlock()
	q, err := parseAQL(aql, snap.resolve)
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, 2000, "The query could not be parsed", err.Error())
		return
	}
	events, err := readEvents(s.opts.EventsFile)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, 1020, "Reading events failed", err.Error())
		return
	}
	rows := q.run(events, snap, s.opts.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSrch++
	sr := &search{id: fmt.Sprintf("s%04d-%s", s.nextSrch, strconv.FormatInt(s.opts.Now().UnixNano()%1e6, 36)), aql: aql, status: "WAIT", rows: rows}
	s.searches[sr.id] = sr
	writeJSON(w, http.StatusCreated, s.searchJSON(sr))
}

func (s *Server) searchJSON(sr *search) map[string]any {
	return map[string]any{
		"search_id":      sr.id,
		"status":         sr.status,
		"progress":       map[bool]int{true: 100, false: 0}[sr.status == "COMPLETED"],
		"completed":      sr.status == "COMPLETED",
		"record_count":   len(sr.rows),
		"query_string":   sr.aql,
		"error_messages": []any{},
	}
}

func (s *Server) getSearch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.searches[r.PathValue("id")]
	if sr == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The search does not exist.")
		return
	}
	if !s.hang && sr.status != "COMPLETED" {
		sr.polls++
		sr.status = "EXECUTE"
		if sr.polls >= s.opts.SearchPolls {
			sr.status = "COMPLETED"
		}
	}
	writeJSON(w, http.StatusOK, s.searchJSON(sr))
}

func (s *Server) getSearchResults(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sr := s.searches[r.PathValue("id")]
	var rows []map[string]any
	completed := sr != nil && sr.status == "COMPLETED"
	if sr != nil {
		rows = slices.Clone(sr.rows)
	}
	s.mu.Unlock()
	switch {
	case sr == nil:
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The search does not exist.")
		return
	case !completed:
		writeErr(w, http.StatusNotFound, 1003, "Not ready", "The search results are not available: the search is still in progress.")
		return
	}
	if page, ok := applyRange(w, r.Header.Get("Range"), len(rows)); ok {
		rows = rows[page[0]:page[1]]
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": rows})
}

func (s *Server) deleteSearch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	sr := s.searches[id]
	if sr == nil {
		writeErr(w, http.StatusNotFound, 1002, "Not found", "The search does not exist.")
		return
	}
	delete(s.searches, id)
	sr.status = "CANCELED"
	writeJSON(w, http.StatusAccepted, s.searchJSON(sr))
}

// Searches returns how many Ariel searches exist (running or finished, not
// deleted).
func (s *Server) Searches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.searches)
}
