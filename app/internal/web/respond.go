package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

const (
	// maxBodyBytes bounds every API request body; an account is well under
	// 4 KiB.
	maxBodyBytes = 64 << 10
	// maxJSONDepth bounds nesting; the API's bodies are at most two deep.
	maxJSONDepth = 8
)

// errorBody is every API error: a sentence for people and, for 422 (and
// 400 of a re-collection request), the problem of each field.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error: the response could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeFieldErrors answers 422 with the problem of each field.
func writeFieldErrors(w http.ResponseWriter, fields map[string]string) {
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		for f, p := range fields {
			msg = f + ": " + p
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: msg, Fields: fields})
}

// internalError logs err (which never holds a secret: errors are wrapped
// with actions and ids only) and answers 500 without details.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, http.StatusInternalServerError, "internal error; see the app log for details")
}

// errBodyTooLarge and errNotJSON are the two ways a body is refused before
// its content is looked at.
var (
	errBodyTooLarge = fmt.Errorf("the request body is larger than %d KiB", maxBodyBytes>>10)
	errNotJSON      = errors.New("the request body is not valid JSON")
)

// readJSON reads a request body of at most maxBodyBytes and checks that it
// is one JSON value nested at most maxJSONDepth deep. An empty body gives
// nil and no error.
func readJSON(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	return body, nil
}

// checkJSON walks the tokens of body so that deeply nested input is refused
// before it is decoded into anything.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errNotJSON
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxJSONDepth {
				return fmt.Errorf("the request body is nested deeper than %d levels", maxJSONDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 && dec.More() {
			return errNotJSON // more than one value
		}
	}
	if depth != 0 {
		return errNotJSON
	}
	return nil
}

// writeBodyError answers a body that readJSON refused.
func writeBodyError(w http.ResponseWriter, err error) {
	if errors.Is(err, errBodyTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// decodeObject reads a body that must be a JSON object into its members.
// ok is false when an answer was already written.
func decodeObject(w http.ResponseWriter, r *http.Request, allowEmpty bool) (members map[string]json.RawMessage, ok bool) {
	body, err := readJSON(r)
	if err != nil {
		writeBodyError(w, err)
		return nil, false
	}
	if body == nil {
		if allowEmpty {
			return map[string]json.RawMessage{}, true
		}
		writeError(w, http.StatusBadRequest, "the request body is empty; send a JSON object")
		return nil, false
	}
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "the request body must be a JSON object"})
		return nil, false
	}
	return members, true
}
