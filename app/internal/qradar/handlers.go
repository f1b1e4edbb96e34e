package qradar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Routes registers the QRadar endpoints of design §5 on r:
//
//	GET  /api/qradar                set-up state and objects
//	POST /api/qradar/setup          reconcile now (202)
//	POST /api/qradar/deploy         INCREMENTAL deploy on the administrator's click (202)
//	GET  /api/searches              the curated searches
//	POST /api/searches/{name}/run   run one through Ariel ({"last_hours": 24})
//	POST /api/searches/mark-quick   mark saved "Mimecast - …" searches as quick searches
//
// The caller mounts them behind its session and CSRF middleware.
func (m *Manager) Routes(r chi.Router) {
	r.Get("/api/qradar", m.handleState)
	r.Post("/api/qradar/setup", m.handleSetup)
	r.Post("/api/qradar/deploy", m.handleDeploy)
	r.Get("/api/searches", m.handleListSearches)
	r.Post("/api/searches/mark-quick", m.handleMarkQuick)
	r.Post("/api/searches/{name}/run", m.handleRunSearch)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func (m *Manager) handleState(w http.ResponseWriter, r *http.Request) {
	s, err := m.State(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot read the QRadar set-up state: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (m *Manager) handleSetup(w http.ResponseWriter, r *http.Request) {
	m.RequestReconcile()
	msg := "A QRadar set-up attempt starts now; this page shows its outcome."
	if m.setupOff() {
		msg = m.offWhy
	}
	s, _ := m.State(r.Context())
	writeJSON(w, http.StatusAccepted, map[string]any{"state": s.State, "message": msg})
}

func (m *Manager) handleDeploy(w http.ResponseWriter, r *http.Request) {
	if m.setupOff() {
		writeError(w, http.StatusConflict, m.offWhy)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.opts.SearchTimeout)
	defer cancel()
	res, err := m.Deploy(ctx)
	if err != nil {
		m.writeAPIFailure(w, "cannot deploy", err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

// SearchInfo is one entry of GET /api/searches.
type SearchInfo struct {
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	AQL         string   `json:"aql"`
	SavedName   string   `json:"saved_name"` // name to save it under in QRadar
	Parameters  []string `json:"parameters"`
}

func (m *Manager) handleListSearches(w http.ResponseWriter, r *http.Request) {
	out := []SearchInfo{}
	for _, s := range Searches() {
		params := []string{"last_hours"}
		if s.MessageID {
			params = append(params, "message_id")
		}
		out = append(out, SearchInfo{Name: s.Name, Title: s.Title, Description: s.Description,
			AQL: s.AQL(DefaultSearchHours, ""), SavedName: SavedSearchPrefix + s.Title, Parameters: params})
	}
	writeJSON(w, http.StatusOK, out)
}

type runRequest struct {
	LastHours *int   `json:"last_hours"`
	MessageID string `json:"message_id"`
}

func (m *Manager) handleRunSearch(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	s, ok := SearchByName(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no search named %q", name))
		return
	}
	var req runRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read the request body")
		return
	}
	if strings.TrimSpace(string(body)) != "" {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "the request body is not valid JSON: "+err.Error())
			return
		}
	}
	hours := DefaultSearchHours
	fields := map[string]string{}
	if req.LastHours != nil {
		hours = *req.LastHours
		if hours < 1 || hours > MaxSearchHours {
			fields["last_hours"] = fmt.Sprintf("must be between 1 and %d", MaxSearchHours)
		}
	}
	req.MessageID = strings.TrimSpace(req.MessageID)
	if req.MessageID != "" {
		if !s.MessageID {
			fields["message_id"] = "this search does not take a message id"
		} else if why := ValidMessageID(req.MessageID); why != "" {
			fields["message_id"] = why
		}
	}
	if len(fields) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid search parameters", Fields: fields})
		return
	}
	res, err := m.RunSearch(r.Context(), s.Name, hours, req.MessageID)
	if err != nil {
		m.writeAPIFailure(w, "cannot run the search", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (m *Manager) handleMarkQuick(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), m.opts.SearchTimeout)
	defer cancel()
	res, err := m.MarkQuickSearches(ctx)
	if err != nil {
		m.writeAPIFailure(w, "cannot mark the saved searches", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writeAPIFailure maps a failed QRadar call to a status and a message that
// says what to do.
func (m *Manager) writeAPIFailure(w http.ResponseWriter, what string, err error) {
	var ae *APIError
	switch {
	case errors.Is(err, ErrSetupOff):
		writeError(w, http.StatusConflict, what+": "+m.offMessage())
	case errors.Is(err, ErrSearchTimeout):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("%s: QRadar did not finish within %s; try a shorter time range", what, m.opts.SearchTimeout))
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("%s: QRadar did not answer within %s", what, m.opts.SearchTimeout))
	case errors.Is(err, ErrNoToken), errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden):
		writeError(w, http.StatusConflict, what+": "+m.failureMessage(err))
	case errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity:
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%s: QRadar refused the request: %s. The searches use the custom properties the QRadar set-up creates; check its state.", what, ae.Text()))
	default:
		writeError(w, http.StatusBadGateway, fmt.Sprintf("%s: %v", what, err))
	}
}

func (m *Manager) offMessage() string {
	if m.offWhy != "" {
		return m.offWhy
	}
	return "QRadar set-up is off: no QRadar API address is configured."
}
