package mimecast

import (
	"context"
	"encoding/json"
	"fmt"

	"mimecast-qradar/app/internal/model"
)

// awarenessKind describes one Awareness Training data set (reference §6).
type awarenessKind struct {
	path    string
	logType string
	item    any // data[0] of the request; nil sends meta only
}

// awarenessKinds are the data sets Awareness accepts, by kind name.
var awarenessKinds = map[string]awarenessKind{
	"safe_score":    {path: "/api/awareness-training/company/get-safe-score-details", logType: model.LogAwarenessSafeScore},
	"performance":   {path: "/api/awareness-training/company/get-performance-details", logType: model.LogAwarenessPerf, item: map[string]any{"includeUserDetails": true}},
	"watchlist":     {path: "/api/awareness-training/company/get-watchlist-details", logType: model.LogAwarenessWatchlist},
	"phishing_user": {path: "/api/awareness-training/phishing/campaign/get-user-data", logType: model.LogAwarenessPhishing},
}

// Awareness Training protocol details.
const (
	awarenessCampaignsPath = "/api/awareness-training/phishing/campaign/get-campaign"
	awarenessFeature       = "Awareness Training"
	awarenessPageSize      = 500 // Sentinel's page size
	// maxAwarenessPages stops a listing whose next token never ends
	// (500 000 rows per data set and campaign at the page size above).
	maxAwarenessPages = 1000
)

// Awareness reads a whole Awareness Training data set and calls fn for every
// row; fn's error aborts and is returned unchanged. kind is safe_score,
// performance, watchlist or phishing_user. It pages internally through every
// row (for phishing_user: through every phishing campaign, then every page
// of each campaign's user data).
//
// The rows are current-state snapshots, not events: Time is zero, LogType is
// awareness_<kind>, ID is the user's e-mail address (email, or emailAddress
// in safe score rows), for phishing_user followed by "|<campaign id>". A
// phishing_user row gains the members campaignId and campaignName, because
// Mimecast's row does not say which campaign it belongs to.
func (c *Client) Awareness(ctx context.Context, kind string, fn func(*model.Record) error) (DecodeStats, error) {
	spec, ok := awarenessKinds[kind]
	if !ok {
		return DecodeStats{}, fmt.Errorf("fetching awareness training data: unknown kind %q (want safe_score, performance, watchlist or phishing_user)", kind)
	}
	var total DecodeStats
	add := func(s DecodeStats) {
		total.Records += s.Records
		total.Malformed += s.Malformed
		total.Skipped += s.Skipped
	}
	if kind != "phishing_user" {
		d := c.newDecoder(kindAwareness, model.StreamAwarenessTraining, spec.logType, fn, spec.path)
		err := c.allPages(ctx, apiPage{path: spec.path, what: "awareness training " + kind, feature: awarenessFeature,
			item: spec.item, pageSize: awarenessPageSize}, d)
		add(d.stats)
		return total, err
	}

	campaigns, err := c.awarenessCampaigns(ctx)
	if err != nil {
		return total, err
	}
	for _, camp := range campaigns {
		d := c.newDecoder(kindAwareness, model.StreamAwarenessTraining, spec.logType, fn, spec.path)
		d.idSuffix = camp.ID
		d.extra = campaignMembers(camp)
		err := c.allPages(ctx, apiPage{path: spec.path, what: "awareness training phishing user data (campaign " + camp.ID + ")",
			feature: awarenessFeature, wrapper: "items", item: map[string]any{"id": camp.ID}, pageSize: awarenessPageSize}, d)
		add(d.stats)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// campaign is one phishing campaign.
type campaign struct {
	ID   string
	Name string
}

// awarenessCampaigns lists every phishing campaign.
func (c *Client) awarenessCampaigns(ctx context.Context) ([]campaign, error) {
	var out []campaign
	seen := map[string]bool{}
	collect := func(r *model.Record) error {
		var v struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
		}
		_ = json.Unmarshal(r.Raw, &v)
		id := ""
		if json.Unmarshal(v.ID, &id) != nil && len(v.ID) > 0 && string(v.ID) != "null" {
			id = string(v.ID) // a numeric id, as written
		}
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, campaign{ID: id, Name: v.Name})
		}
		return nil
	}
	d := c.newDecoder(kindAPI, model.StreamAwarenessTraining, "", collect, awarenessCampaignsPath)
	err := c.allPages(ctx, apiPage{path: awarenessCampaignsPath, what: "awareness training phishing campaigns",
		feature: awarenessFeature, pageSize: awarenessPageSize}, d)
	return out, err
}

// campaignMembers returns the members added to a campaign's user data rows.
func campaignMembers(camp campaign) []byte {
	b := appendJSONString(nil, []byte("campaignId"))
	b = append(b, ':')
	b = appendJSONString(b, []byte(camp.ID))
	b = append(b, ',')
	b = appendJSONString(b, []byte("campaignName"))
	b = append(b, ':')
	return appendJSONString(b, []byte(camp.Name))
}

// allPages requests p's pages until the last one, all through d.
func (c *Client) allPages(ctx context.Context, p apiPage, d *decoder) error {
	for range maxAwarenessPages {
		next, err := c.postPage(ctx, p, d)
		if err != nil || next == "" {
			return err
		}
		p.pageToken = next
	}
	return fmt.Errorf("fetching %s: %w", p.what, badResponse(fmt.Sprintf("the listing did not end after %d pages", maxAwarenessPages), nil))
}
