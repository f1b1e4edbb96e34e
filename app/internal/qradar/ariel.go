package qradar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrSearchTimeout is returned when a search does not finish within the
// manager's SearchTimeout (30 s by default).
var ErrSearchTimeout = errors.New("qradar: the search did not finish in time")

// ErrSetupOff is returned by calls that need the QRadar API when no API
// address is configured.
var ErrSetupOff = errors.New("qradar: QRadar set-up is off")

// SearchResult is the body of POST /api/searches/{name}/run.
type SearchResult struct {
	Name string           `json:"name"`
	AQL  string           `json:"aql"`
	Rows []map[string]any `json:"rows"`
}

type arielSearch struct {
	SearchID      string `json:"search_id"`
	Status        string `json:"status"`
	ErrorMessages []struct {
		Description string `json:"description"`
	} `json:"error_messages"`
}

// RunSearch runs a curated search through Ariel for the last lastHours
// hours (POST /api/ariel/searches, poll, then fetch the results), within the
// manager's SearchTimeout.
func (m *Manager) RunSearch(ctx context.Context, name string, lastHours int, messageID string) (SearchResult, error) {
	s, ok := SearchByName(name)
	if !ok {
		return SearchResult{}, fmt.Errorf("qradar: no search named %q", name)
	}
	res := SearchResult{Name: s.Name, AQL: s.AQL(lastHours, messageID), Rows: []map[string]any{}}
	if m.opts.BaseURL == "" {
		return res, ErrSetupOff
	}
	c, err := m.apiClient()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.SearchTimeout)
	defer cancel()
	rows, err := m.runAQL(ctx, c, res.AQL, s.Limit)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return res, ErrSearchTimeout
		}
		return res, err
	}
	res.Rows = rows
	return res, nil
}

func (m *Manager) runAQL(ctx context.Context, c *Client, aql string, limit int) (rows []map[string]any, err error) {
	var s arielSearch
	if err := c.Post(ctx, "ariel/searches", Query{"query_expression": {aql}}, nil, &s); err != nil {
		return nil, fmt.Errorf("starting the search: %w", err)
	}
	if s.SearchID == "" {
		return nil, errors.New("qradar: the console started a search without a search_id")
	}
	defer func() {
		if err != nil && ctx.Err() != nil {
			// Free the console's resources; the caller's context is spent.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = c.Delete(dctx, "ariel/searches/"+PathEscape(s.SearchID), nil)
		}
	}()
	wait := m.pollWait
	for !strings.EqualFold(s.Status, "COMPLETED") {
		switch strings.ToUpper(s.Status) {
		case "ERROR", "CANCELED", "CANCELLED":
			var msgs []string
			for _, e := range s.ErrorMessages {
				msgs = append(msgs, e.Description)
			}
			return nil, fmt.Errorf("qradar: the search ended with status %s: %s", s.Status, strings.Join(msgs, "; "))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
		if err := c.Get(ctx, "ariel/searches/"+PathEscape(s.SearchID), nil, &s); err != nil {
			return nil, fmt.Errorf("polling the search: %w", err)
		}
	}
	if limit <= 0 {
		limit = 1000
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "ariel/searches/" + PathEscape(s.SearchID) + "/results",
		rangeHdr: fmt.Sprintf("items=0-%d", limit-1)}, &raw); err != nil {
		return nil, fmt.Errorf("fetching the search results: %w", err)
	}
	// Results are {"events": [...]} (or "flows"); numbers stay exact.
	var body map[string][]map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("qradar: decoding the search results: %w", err)
	}
	rows = body["events"]
	if rows == nil {
		rows = body["flows"]
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	return rows, nil
}

// DeployResult is the body of POST /api/qradar/deploy.
type DeployResult struct {
	Status  string `json:"status"` // deploying, nothing_to_deploy, busy
	Message string `json:"message"`
}

// Deploy asks QRadar for an INCREMENTAL deploy of the staged changes. The app
// never calls it on its own: a deploy also pushes other administrators'
// staged changes, so only the administrator's click may start one.
func (m *Manager) Deploy(ctx context.Context) (DeployResult, error) {
	if m.setupOff() {
		return DeployResult{}, ErrSetupOff
	}
	c, err := m.apiClient()
	if err != nil {
		return DeployResult{}, err
	}
	var res DeployResult
	err = c.Post(ctx, pathDeploy, nil, map[string]any{"type": "INCREMENTAL"}, nil)
	var ae *APIError
	switch {
	case err == nil:
		res = DeployResult{Status: "deploying", Message: "QRadar is deploying the staged changes. The log sources receive events once the deploy completes."}
	case errors.As(err, &ae) && ae.Status == http.StatusConflict:
		// 409 (1002/1004) means either nothing is staged or a deploy is
		// already running; only the message tells them apart.
		text := strings.ToLower(ae.Message + " " + ae.Description)
		if strings.Contains(text, "no changes") || strings.Contains(text, "nothing to deploy") {
			res = DeployResult{Status: "nothing_to_deploy", Message: "Nothing to deploy: QRadar has no staged changes."}
		} else {
			res = DeployResult{Status: "busy", Message: "QRadar is already deploying or has nothing to deploy: " + ae.Text()}
		}
	default:
		return DeployResult{}, fmt.Errorf("requesting a deploy: %w", err)
	}
	m.mu.Lock()
	m.st.deployMessage = res.Message
	if res.Status != "busy" {
		m.st.deployNeeded = false
	}
	m.mu.Unlock()
	m.log.Info("qradar deploy requested", "status", res.Status)
	// Refresh the objects' states (requires_deploy) in the background.
	m.RequestReconcile()
	return res, nil
}

// QuickSearchResult is the body of POST /api/searches/mark-quick.
type QuickSearchResult struct {
	Marked       []string `json:"marked"`
	AlreadyQuick []string `json:"already_quick"`
}

// SavedSearchPrefix is the name prefix of saved searches the app marks as
// quick searches.
const SavedSearchPrefix = "Mimecast - "

// MarkQuickSearches sets is_quick_search on every Ariel saved search whose
// name starts with "Mimecast - ". The REST API cannot create saved searches;
// an administrator saves the curated AQL under those names first.
func (m *Manager) MarkQuickSearches(ctx context.Context) (QuickSearchResult, error) {
	res := QuickSearchResult{Marked: []string{}, AlreadyQuick: []string{}}
	if m.opts.BaseURL == "" {
		return res, ErrSetupOff
	}
	c, err := m.apiClient()
	if err != nil {
		return res, err
	}
	type saved struct {
		ID      int64  `json:"id"`
		Name    string `json:"name"`
		IsQuick bool   `json:"is_quick_search"`
	}
	list, err := listAll[saved](ctx, c, "ariel/saved_searches", Query{"fields": {"id,name,is_quick_search"}})
	if err != nil {
		return res, fmt.Errorf("listing saved searches: %w", err)
	}
	for _, s := range list {
		if !strings.HasPrefix(s.Name, SavedSearchPrefix) {
			continue
		}
		if s.IsQuick {
			res.AlreadyQuick = append(res.AlreadyQuick, s.Name)
			continue
		}
		if err := c.Post(ctx, "ariel/saved_searches/"+idString(s.ID), nil, map[string]any{"is_quick_search": true}, nil); err != nil {
			return res, fmt.Errorf("marking saved search %q as a quick search: %w", s.Name, err)
		}
		res.Marked = append(res.Marked, s.Name)
	}
	return res, nil
}
