// Package qradarsim is a QRadar REST API simulator for tests and the demo.
// It follows reference/qradar-rest.md: the SEC header is checked (401 with
// QRadar's error body otherwise), a Version header is required on every call
// but GET /api/help/versions and must name a listed, not removed version,
// lists page with Range/Content-Range and accept the filter forms the app
// uses, errors carry QRadar's body (http_response, code, message,
// description), names and the log source type+protocol+identifier triple are
// unique (409), QID records and event mappings cannot be deleted, deploys are
// counted, and Ariel searches evaluate a subset of AQL over the LEEF events
// the app wrote to a syslog file sink (see aql.go).
//
// Serve it over TLS with httptest.NewTLSServer, or with a certificate from
// NewCA for a private CA.
package qradarsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is one entry of GET /api/help/versions.
type APIVersion struct {
	ID         int    `json:"id"`
	Version    string `json:"version"`
	Deprecated bool   `json:"deprecated"`
	Removed    bool   `json:"removed"`
}

// DefaultVersions is what a QRadar 7.5.0 UP14 console lists: 27.0 newest,
// older versions deprecated, and very old ones removed.
func DefaultVersions() []APIVersion {
	var vs []APIVersion
	for i, v := range []string{"10.0", "11.0", "12.0", "13.0", "14.0", "15.0", "16.0", "17.0", "18.0", "19.0", "20.0", "21.0", "22.0", "23.0", "24.0", "25.0", "26.0", "27.0"} {
		major, _ := strconv.Atoi(strings.TrimSuffix(v, ".0"))
		vs = append(vs, APIVersion{ID: i + 1, Version: v, Deprecated: major < 25, Removed: major < 12})
	}
	return vs
}

// Options configure a Server.
type Options struct {
	// Token is the accepted SEC token; an empty token refuses every request.
	Token string
	// Versions are the offered API versions; nil means DefaultVersions.
	Versions []APIVersion
	// EventsFile is the LEEF syslog file sink that Ariel searches read.
	EventsFile string
	// Now is the clock for LAST n HOURS; nil means time.Now.
	Now func() time.Time
	// SearchPolls is how many status polls a search needs before it
	// completes; 0 means 1.
	SearchPolls int
}

// Request is one request the simulator received.
type Request struct {
	Method  string
	Path    string // URL path, e.g. /api/help/versions
	Query   string // raw query
	SEC     string
	Version string
	Accept  string
	Range   string
	Body    string
	Status  int
}

// Fault makes matching requests fail with Status and QRadar's error body.
type Fault struct {
	Method string // "" matches any method
	// Path matches the URL path exactly, or as a prefix when it ends in "*".
	Path    string
	Status  int
	Code    int
	Message string
	// Times is how many requests fail; 0 means all of them.
	Times int
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu        sync.Mutex
	token     string
	requests  []Request
	faults    []*Fault
	hang      bool
	db        *db
	searches  map[string]*search
	nextSrch  int
	deploys   int
	staged    int
	lastDepl  map[string]any
	savedSrch []*SavedSearch
}

// New returns a simulator seeded with QRadar's built-in objects.
func New(opts Options) *Server {
	if opts.Versions == nil {
		opts.Versions = DefaultVersions()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SearchPolls <= 0 {
		opts.SearchPolls = 1
	}
	s := &Server{opts: opts, token: opts.Token, db: newDB(), searches: map[string]*search{}}
	s.routes()
	return s
}

// SetToken changes the accepted SEC token ("" refuses every request).
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// AddFault makes matching requests fail until the fault is used up.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetSearchHang makes new and running Ariel searches never complete.
func (s *Server) SetSearchHang(hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = hang
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Deploys returns how many deploys were started.
func (s *Server) Deploys() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deploys
}

// StagedChanges returns how many log source changes wait for a deploy.
func (s *Server) StagedChanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.staged
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// ServeHTTP checks SEC and Version, records the request, applies faults and
// dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	req := Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		SEC: r.Header.Get("SEC"), Version: r.Header.Get("Version"), Accept: r.Header.Get("Accept"),
		Range: r.Header.Get("Range"), Body: string(body),
	}
	defer func() {
		req.Status = rec.status
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}()

	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	sec := r.Header.Get("SEC")
	switch {
	case sec == "":
		writeErr(rec, http.StatusUnauthorized, 11, "No SEC header present in request. Please provide it via \"SEC: token\".", "")
		return
	case token == "" || sec != token:
		writeErr(rec, http.StatusUnauthorized, 11, "You are unauthorized to access the requested resource.", "The SEC token is not valid.")
		return
	}
	if a := r.Header.Get("Accept"); a != "" && !strings.Contains(a, "application/json") && !strings.Contains(a, "*/*") {
		writeErr(rec, http.StatusNotAcceptable, 1005, "Not Acceptable", "This endpoint produces application/json.")
		return
	}
	if r.URL.Path != "/api/help/versions" {
		v := r.Header.Get("Version")
		if v == "" {
			writeErr(rec, http.StatusUnprocessableEntity, 1005, "A Version header is required",
				"The simulator requires a Version header on every call but GET /api/help/versions.")
			return
		}
		known, deprecated := s.checkVersion(v)
		if !known {
			writeErr(rec, http.StatusUnprocessableEntity, 1005, "Unsupported API version",
				fmt.Sprintf("Version %s is not supported or has been removed.", v))
			return
		}
		if deprecated {
			rec.Header().Set("Deprecated", "true")
		}
	}
	if f := s.takeFault(r.Method, r.URL.Path); f != nil {
		writeErr(rec, f.Status, f.Code, f.Message, f.Message)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// checkVersion accepts "26.0" or "26" (the newest 26.x).
func (s *Server) checkVersion(v string) (known, deprecated bool) {
	major, minor, hasMinor := strings.Cut(strings.TrimSpace(v), ".")
	for _, av := range s.opts.Versions {
		am, an, _ := strings.Cut(av.Version, ".")
		if am != major || (hasMinor && strings.TrimRight(an, "0") != strings.TrimRight(minor, "0")) {
			continue
		}
		if !av.Removed {
			return true, av.Deprecated
		}
	}
	return false, false
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if p, prefix := strings.CutSuffix(f.Path, "*"); prefix {
			if !strings.HasPrefix(path, p) {
				continue
			}
		} else if f.Path != path {
			continue
		}
		out := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return &out
	}
	return nil
}

// writeErr writes QRadar's error body.
func writeErr(w http.ResponseWriter, status, code int, message, description string) {
	writeJSON(w, status, map[string]any{
		"http_response": map[string]any{"code": status, "message": http.StatusText(status)},
		"code":          code,
		"message":       message,
		"description":   description,
		"details":       map[string]any{},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeList answers a list GET: filter, then the Range page with its
// Content-Range.
func writeList[T any](w http.ResponseWriter, r *http.Request, items []T) {
	filtered := items
	if f := r.URL.Query().Get("filter"); f != "" {
		expr, err := parseFilter(f)
		if err != nil {
			writeErr(w, http.StatusUnprocessableEntity, 1001, "Invalid filter", err.Error())
			return
		}
		filtered = nil
		for _, it := range items {
			m := toMap(it)
			if expr.eval(m) {
				filtered = append(filtered, it)
			}
		}
	}
	if filtered == nil {
		filtered = []T{}
	}
	page, ok := applyRange(w, r.Header.Get("Range"), len(filtered))
	if !ok {
		writeJSON(w, http.StatusOK, filtered)
		return
	}
	writeJSON(w, http.StatusOK, filtered[page[0]:page[1]])
}

// applyRange parses "items=a-b" and sets Content-Range; ok=false without a
// Range header.
func applyRange(w http.ResponseWriter, rng string, total int) ([2]int, bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(rng), "items=")
	if !found {
		return [2]int{}, false
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err1 := strconv.Atoi(strings.TrimSpace(a))
	end, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return [2]int{}, false
	}
	if start >= total {
		w.Header().Set("Content-Range", fmt.Sprintf("items */%d", total))
		return [2]int{total, total}, true
	}
	end = min(end, total-1)
	w.Header().Set("Content-Range", fmt.Sprintf("items %d-%d/%d", start, end, total))
	return [2]int{start, end + 1}, true
}

func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the request body is not valid JSON: %v", err)
	}
	return nil
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil
}
