package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// qradarOffMessage explains why the QRadar view is empty when the daemon
// has no QRadar API configured.
const qradarOffMessage = "QRadar set-up is off: no --qradar-api / QRADAR_API_URL configured"

// qradarOffRoutes answers the QRadar endpoints of design §5 when QRadar
// set-up is off: the state says so in plain words and nothing is attempted.
func (s *Server) qradarOffRoutes(r chi.Router) {
	r.Get("/api/qradar", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"configured": false,
			"authorised": false,
			"state":      "off",
			"message":    qradarOffMessage,
			"objects":    []any{},
		})
	})
	// The contract makes set-up "always 202"; with nothing configured there
	// is nothing to queue, and the answer says so.
	r.Post("/api/qradar/setup", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, map[string]string{"state": "off", "message": qradarOffMessage})
	})
	r.Post("/api/qradar/deploy", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusConflict, qradarOffMessage)
	})
	r.Get("/api/searches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []any{})
	})
	r.Post("/api/searches/{name}/run", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusConflict, qradarOffMessage)
	})
}
