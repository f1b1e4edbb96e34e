package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mimecast-qradar/app/internal/model"
)

// DiscoverRegion asks API 1.0 discover-authentication which regional host
// serves the account of email and returns that host's base URL (origin),
// e.g. https://eu-api.mimecast.com. discoverBaseURL "" means
// DiscoveryBaseURL; callers validate it with ValidateBaseURL first. hc nil
// means NewHTTPClient(). The answer must be a Mimecast host or the origin
// that was asked (a simulator).
func DiscoverRegion(ctx context.Context, hc *http.Client, discoverBaseURL, email string) (string, error) {
	if discoverBaseURL == "" {
		discoverBaseURL = DiscoveryBaseURL
	}
	u, err := url.Parse(discoverBaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("discovering region: base URL %q is not an http(s) URL", discoverBaseURL)
	}
	origin := originOf(u)
	if hc == nil {
		hc = NewHTTPClient()
	} else {
		c := *hc
		c.CheckRedirect = sameHostRedirects
		hc = &c
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	body, err := json.Marshal(map[string]any{"data": []any{map[string]string{"emailAddress": email}}})
	if err != nil {
		return "", fmt.Errorf("discovering region: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, origin+"/api/login/discover-authentication", strings.NewReader(string(body)))
	if err != nil {
		return "", fmt.Errorf("discovering region: %w", err)
	}
	// discover-authentication is not signed (reference §1.1).
	req.Header.Set("x-mc-date", time.Now().UTC().Format(v1DateLayout))
	req.Header.Set("x-mc-req-id", newRequestID())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("discovering region: %w: no answer from %s: %w", ErrNetwork, origin, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		return "", fmt.Errorf("discovering region: %w: %s: %w", ErrNetwork, origin, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("discovering region: %w", classifyReadErr(err))
	}
	if resp.StatusCode != http.StatusOK {
		code, msg, retryable := parseErrorBody(data)
		kind, hint := classify(resp.StatusCode, code, retryable, model.APIVersion1)
		return "", fmt.Errorf("discovering region: %w", &APIError{Kind: kind, Status: resp.StatusCode, Code: code, Message: msg, hint: hint})
	}
	var answer struct {
		Data []struct {
			Region struct {
				API string `json:"api"`
			} `json:"region"`
		} `json:"data"`
		Fail []failItem `json:"fail"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", fmt.Errorf("discovering region: %w", badResponse("unreadable JSON", err))
	}
	if len(answer.Fail) > 0 {
		code, msg, retryable := firstFailure(answer.Fail)
		kind, hint := classify(resp.StatusCode, code, retryable, model.APIVersion1)
		return "", fmt.Errorf("discovering region: %w", &APIError{Kind: kind, Status: resp.StatusCode, Code: code, Message: msg, hint: hint})
	}
	if len(answer.Data) == 0 || answer.Data[0].Region.API == "" {
		return "", fmt.Errorf("discovering region: %w: Mimecast does not know the address %s", ErrRejected, email)
	}
	api := answer.Data[0].Region.API
	if !strings.Contains(api, "://") {
		api = "https://" + api
	}
	region, err := url.Parse(api)
	if err != nil || region.Host == "" {
		return "", fmt.Errorf("discovering region: %w", badResponse("unreadable region URL", nil))
	}
	// Only the host matters; a path in the answer is dropped.
	base := originOf(region)
	if _, err := checkBaseURL(base, []string{origin}); err != nil {
		return "", fmt.Errorf("discovering region: %w", badResponse("region URL refused", err))
	}
	return base, nil
}
