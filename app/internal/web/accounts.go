package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/store"
)

const (
	defaultRunsLimit = 60
	maxRunsLimit     = 500
)

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) {
	accounts, err := s.store.ListAccounts(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := make([]accountJSON, len(accounts))
	for i := range accounts {
		out[i] = toAccountJSON(&accounts[i])
	}
	writeJSON(w, http.StatusOK, out)
}

// loadAccount reads the account named by the {id} path parameter; ok is
// false when an answer (404 or 500) was already written.
func (s *Server) loadAccount(w http.ResponseWriter, r *http.Request) (*model.Account, bool) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "no account with id "+strconv.Quote(raw))
		return nil, false
	}
	a, err := s.store.Account(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no account with id "+raw)
		return nil, false
	}
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	return a, true
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.loadAccount(w, r); ok {
		writeJSON(w, http.StatusOK, toAccountJSON(a))
	}
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) {
	members, ok := decodeObject(w, r, false)
	if !ok {
		return
	}
	a := newAccountDefaults()
	fe := fieldErrors{}
	applyAccountInput(&a, members, fe)
	if !s.checkAccount(w, r, &a, fe) {
		return
	}
	err := s.store.CreateAccount(r.Context(), &a)
	if errors.Is(err, store.ErrConflict) {
		s.writeConflict(w, r, &a)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("account created", "account_id", a.ID, "account", a.Name, "api_version", a.APIVersion)
	s.accountChanged(r.Context(), a.ID, true)
	writeJSON(w, http.StatusCreated, toAccountJSON(&a))
}

func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request) {
	stored, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	members, ok := decodeObject(w, r, false)
	if !ok {
		return
	}
	a := *stored
	a.Streams = slices.Clone(stored.Streams)
	fe := fieldErrors{}
	applyAccountInput(&a, members, fe)
	a.ID = stored.ID
	if !s.checkAccount(w, r, &a, fe) {
		return
	}
	err := s.store.UpdateAccount(r.Context(), &a)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no account with id "+strconv.FormatInt(a.ID, 10))
		return
	case errors.Is(err, store.ErrConflict):
		s.writeConflict(w, r, &a)
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	s.log.Info("account updated", "account_id", a.ID, "account", a.Name, "enabled", a.Enabled)
	s.accountChanged(r.Context(), a.ID, false)
	writeJSON(w, http.StatusOK, toAccountJSON(&a))
}

func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	err := s.store.DeleteAccount(r.Context(), a.ID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no account with id "+strconv.FormatInt(a.ID, 10))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("account deleted", "account_id", a.ID, "account", a.Name)
	ctx := context.WithoutCancel(r.Context())
	s.collector.AccountDeleted(ctx, a.ID)
	if s.qradar != nil {
		s.qradar.RequestReconcile()
	}
	w.WriteHeader(http.StatusNoContent)
}

// accountChanged tells the collector and the QRadar reconciler. The
// collector may start a run from it, so it gets a context that outlives the
// request.
func (s *Server) accountChanged(ctx context.Context, id int64, created bool) {
	s.collector.AccountSaved(context.WithoutCancel(ctx), id, created)
	if s.qradar != nil {
		s.qradar.RequestReconcile()
	}
}

// checkAccount validates a (merged input), including uniqueness of the name
// and log source identifier, and answers 422 with every problem; ok is
// false when it did.
func (s *Server) checkAccount(w http.ResponseWriter, r *http.Request, a *model.Account, fe fieldErrors) bool {
	validateAccount(a, s.opts.AllowedOrigins, fe)
	others, err := s.store.ListAccounts(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return false
	}
	uniqueProblems(a, others, fe)
	if len(fe) > 0 {
		writeFieldErrors(w, fe)
		return false
	}
	return true
}

// uniqueProblems reports the name or log source identifier a shares with
// another account. The store compares them case-insensitively, and so does
// this check, so the field named is the one that clashes.
func uniqueProblems(a *model.Account, others []model.Account, fe fieldErrors) {
	for _, o := range others {
		if o.ID == a.ID {
			continue
		}
		if a.Name != "" && strings.EqualFold(o.Name, a.Name) {
			fe.add("name", "is already used by another account")
		}
		if a.LogSourceIdentifier != "" && strings.EqualFold(o.LogSourceIdentifier, a.LogSourceIdentifier) {
			fe.add("log_source_identifier", "is already used by account "+strconv.Quote(o.Name))
		}
	}
}

// writeConflict answers a store.ErrConflict, which can still happen when
// two saves race past checkAccount.
func (s *Server) writeConflict(w http.ResponseWriter, r *http.Request, a *model.Account) {
	others, err := s.store.ListAccounts(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	fe := fieldErrors{}
	uniqueProblems(a, others, fe)
	if len(fe) == 0 {
		fe.add("name", "conflicts with another account's name or log source identifier")
	}
	writeFieldErrors(w, fe)
}

// testTimeout bounds a connection test: a token request plus one small
// request per stream.
const testTimeout = 60 * time.Second

// testAccount checks the stored account, or, when the body carries account
// fields, the stored account with those changes applied (not saved), so the
// panel can test an edit before saving it.
func (s *Server) testAccount(w http.ResponseWriter, r *http.Request) {
	stored, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	members, ok := decodeObject(w, r, true)
	if !ok {
		return
	}
	a := *stored
	a.Streams = slices.Clone(stored.Streams)
	if len(members) > 0 {
		fe := fieldErrors{}
		applyAccountInput(&a, members, fe)
		a.ID = stored.ID
		validateAccount(&a, s.opts.AllowedOrigins, fe)
		if len(fe) > 0 {
			writeFieldErrors(w, fe)
			return
		}
		a.CredentialsError = ""
	}
	var res model.TestResult
	if a.CredentialsError != "" {
		// The sealed secrets cannot be opened: asking Mimecast with what is
		// left would only fail less clearly.
		res = model.TestResult{Error: a.CredentialsError}
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), testTimeout)
		defer cancel()
		res = s.collector.Test(ctx, a)
	}
	if res.Streams == nil {
		res.Streams = []model.StreamTestResult{}
	}
	s.log.Info("connection tested", "account_id", a.ID, "ok", res.OK)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) collectAccount(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	err := s.collector.CollectNow(context.WithoutCancel(r.Context()), a.ID)
	switch {
	case errors.Is(err, model.ErrRunInProgress), errors.Is(err, model.ErrAccountDisabled):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no account with id "+strconv.FormatInt(a.ID, 10))
	case err != nil:
		s.internalError(w, r, err)
	default:
		s.log.Info("collection requested", "account_id", a.ID)
		writeJSON(w, http.StatusAccepted, map[string]string{"message": "collection started"})
	}
}

// resetStream forgets one stream's saved position. The panel offers it
// only after the administrator confirmed, for a position Mimecast refused.
func (s *Server) resetStream(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	stream := model.Stream(chi.URLParam(r, "stream"))
	if !a.HasStream(stream) {
		writeError(w, http.StatusNotFound, "the account does not collect "+string(stream))
		return
	}
	err := s.collector.ResetCheckpoint(context.WithoutCancel(r.Context()), a.ID, stream)
	switch {
	case errors.Is(err, model.ErrRunInProgress):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		s.internalError(w, r, err)
	default:
		s.log.Info("stream position reset", "account_id", a.ID, "stream", stream)
		writeJSON(w, http.StatusOK, map[string]string{"message": "position reset: the next run starts from the initial lookback"})
	}
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAccount(w, r)
	if !ok {
		return
	}
	limit := defaultRunsLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive whole number")
			return
		}
		limit = min(n, maxRunsLimit)
	}
	runs, err := s.store.Runs(r.Context(), a.ID, limit)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if runs == nil {
		runs = []model.Run{}
	}
	writeJSON(w, http.StatusOK, runs)
}
