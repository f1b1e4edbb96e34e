package mimecastsim

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Awareness Training endpoints (more-streams §6).
const (
	awarenessPrefix    = "/api/awareness-training/"
	awSafeScorePath    = awarenessPrefix + "company/get-safe-score-details"
	awPerformancePath  = awarenessPrefix + "company/get-performance-details"
	awWatchlistPath    = awarenessPrefix + "company/get-watchlist-details"
	awCampaignsPath    = awarenessPrefix + "phishing/campaign/get-campaign"
	awUserDataPath     = awarenessPrefix + "phishing/campaign/get-user-data"
	awarenessTimeShape = "2006-01-02T15:04:05-0700"
)

// awareness is an account's Awareness Training state: users with their
// company-level rows, and phishing campaigns with per-user rows. Rows are
// rendered from (seed, user, version) when asked for, so an update is a
// version bump.
type awareness struct {
	users      []awUser
	campaigns  []awCampaign
	nextUpdate int // round robin position of UpdateAwareness
}

type awUser struct {
	email, name, dept string
	version           uint64
}

type awCampaign struct {
	id, name, launch string
	users            []int // indices into users
}

// rowCount is the number of snapshot rows (three per user plus one per
// user and campaign).
func (aw *awareness) rowCount() int {
	if aw == nil {
		return 0
	}
	n := 3 * len(aw.users)
	for _, c := range aw.campaigns {
		n += len(c.users)
	}
	return n
}

// addAwareness adds n users and one phishing campaign sent to about half
// of all the account's users (at least one).
func (s *Sim) addAwareness(a *account, n int) {
	if n <= 0 {
		return
	}
	a.genMu.Lock()
	defer a.genMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.aware == nil {
		a.aware = &awareness{}
	}
	aw := a.aware
	seed := streamSeed(a, model.StreamAwarenessTraining)
	g := newGen(a, seed, uint64(len(aw.users))<<16|uint64(len(aw.campaigns)), formV2)
	for range n {
		i := len(aw.users)
		first, last := g.pick(firstNames), g.pick(lastNames)
		aw.users = append(aw.users, awUser{
			email: first + "." + last + strconv.Itoa(i+1) + "@" + a.domain,
			name:  upperFirst(first) + " " + upperFirst(last),
			dept:  g.pick(departments),
		})
	}
	k := len(aw.campaigns)
	camp := awCampaign{
		id:     "CMP" + uid(seed, int64(k))[:12],
		name:   g.pick(campaignNames),
		launch: s.now().Add(-time.Duration(len(aw.campaigns)+1) * 24 * time.Hour).UTC().Format(awarenessTimeShape),
	}
	for i := range aw.users {
		if g.chance(50) {
			camp.users = append(camp.users, i)
		}
	}
	if len(camp.users) == 0 {
		camp.users = []int{len(aw.users) - 1}
	}
	aw.campaigns = append(aw.campaigns, camp)
}

// UpdateAwareness changes the snapshot rows of n of the account's
// Awareness Training users (round robin), as a new training cycle would:
// every row of those users, company and campaign ones, gets new values.
func (s *Sim) UpdateAwareness(accountName string, n int) {
	a := s.mustAccount(accountName)
	s.mu.Lock()
	defer s.mu.Unlock()
	aw := a.aware
	if aw == nil || len(aw.users) == 0 {
		return
	}
	for range n {
		aw.users[aw.nextUpdate].version++
		aw.nextUpdate = (aw.nextUpdate + 1) % len(aw.users)
	}
}

// awarenessRow kinds.
const (
	awSafe = iota
	awPerf
	awWatch
	awPhish
)

// awRow renders one row of a user (for awPhish: in campaign c).
func awRow(a *account, u awUser, idx, kind int, c *awCampaign, userDetails bool) []byte {
	seed := streamSeed(a, model.StreamAwarenessTraining)
	var campaign uint64
	if c != nil {
		h := fnv.New64a()
		h.Write([]byte(c.id))
		campaign = h.Sum64()
	}
	g := newGen(a, mix(seed, uint64(idx)), mix(campaign, u.version<<8|uint64(kind)), formV2)
	grade := func() string { return g.pick([]string{"A", "B", "C", "D", "F"}) }
	w := &g.w
	w.begin()
	switch kind {
	case awSafe:
		w.str("emailAddress", u.email)
		w.str("name", u.name)
		w.str("department", u.dept)
		w.str("risk", grade())
		w.str("humanError", g.pick([]string{"Low", "Medium", "High"}))
		w.str("sentiment", g.pick([]string{"Positive", "Neutral", "Negative"}))
		w.str("engagement", grade())
		w.str("knowledge", grade())
		w.str("userState", g.pick(userStates))
	case awPerf:
		w.str("email", u.email)
		w.str("name", u.name)
		w.str("department", u.dept)
		w.num("numCorrect", int64(g.r.IntN(20)))
		w.num("numIncorrect", int64(g.r.IntN(6)))
		w.num("numNotWatched", int64(g.r.IntN(4)))
		details := jobj("title", jq(g.pick([]string{"Analyst", "Manager", "Engineer", "Assistant"})), "location", jq(g.pick([]string{"London", "Boston", "Sydney"})))
		if userDetails {
			w.raw("userDetails", details)
		}
		w.str("userState", g.pick(userStates))
	case awWatch:
		w.str("email", u.email)
		w.str("name", u.name)
		w.str("department", u.dept)
		w.num("watchlistCount", int64(g.r.IntN(5)))
		w.str("userState", g.pick(userStates))
	case awPhish:
		launch, _ := time.Parse(awarenessTimeShape, c.launch)
		status := g.pick([]string{"sent", "opened", "clicked", "reported", "submitted"})
		at := func(step int) string {
			return launch.Add(time.Duration(step)*time.Hour + time.Duration(g.r.IntN(3600))*time.Second).Format(awarenessTimeShape)
		}
		reached := map[string]int{"sent": 0, "opened": 1, "clicked": 2, "reported": 2, "submitted": 3}[status]
		opt := func(k string, step int) {
			if reached >= step {
				w.str(k, at(step))
			} else {
				w.null(k)
			}
		}
		w.str("name", u.name)
		w.str("email", u.email)
		w.str("department", u.dept)
		w.str("templateName", g.pick(campaignNames))
		w.str("status", status)
		w.str("userState", g.pick(userStates))
		if reached >= 2 && status != "reported" {
			w.str("clickedIp", g.publicIP())
		} else {
			w.null("clickedIp")
		}
		for _, k := range []string{"numCampaignsSent", "numCampaignsClicked", "numCampaignsScanned", "numCampaignsClickedScanned",
			"numTrainingModulesAssigned", "numCorrectAnswers", "numIncorrectAnswers"} {
			w.num(k, int64(g.r.IntN(8)))
		}
		w.num("reactionTime", int64(g.r.IntN(86400)))
		w.str("timeScheduled", launch.Format(awarenessTimeShape))
		opt("timeOpened", 1)
		opt("timeClicked", 2)
		if status == "reported" {
			w.str("timeReported", at(2))
		} else {
			w.null("timeReported")
		}
		w.null("timeScanned")
		opt("timeSubmitted", 3)
	}
	w.end()
	return w.b
}

// campaignRow renders a campaign object of get-campaign.
func campaignRow(c awCampaign) []byte {
	return []byte(jobj("id", jq(c.id), "name", jq(c.name), "launchDate", jq(c.launch), "numberOfUsers", strconv.Itoa(len(c.users))))
}

// awarenessSnapshot copies the account's state under the lock.
func (s *Sim) awarenessSnapshot(a *account) awareness {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a.aware == nil {
		return awareness{}
	}
	out := awareness{users: slices.Clone(a.aware.users)}
	for _, c := range a.aware.campaigns {
		c.users = slices.Clone(c.users)
		out.campaigns = append(out.campaigns, c)
	}
	return out
}

// awarenessRecords is the ground truth: every row as served (performance
// rows with userDetails, as the client asks), user by user, then campaign
// by campaign.
func (s *Sim) awarenessRecords(a *account) []Record {
	aw := s.awarenessSnapshot(a)
	var out []Record
	add := func(logType, id string, raw []byte) {
		out = append(out, Record{Stream: model.StreamAwarenessTraining, LogType: logType, ID: logType + ":" + id, Raw: raw})
	}
	for i, u := range aw.users {
		add(model.LogAwarenessSafeScore, u.email, awRow(a, u, i, awSafe, nil, true))
		add(model.LogAwarenessPerf, u.email, awRow(a, u, i, awPerf, nil, true))
		add(model.LogAwarenessWatchlist, u.email, awRow(a, u, i, awWatch, nil, true))
	}
	for ci := range aw.campaigns {
		c := &aw.campaigns[ci]
		for _, i := range c.users {
			add(model.LogAwarenessPhishing, aw.users[i].email+"|"+c.id, awRow(a, aw.users[i], i, awPhish, c, true))
		}
	}
	return out
}

// awarenessRecordID tells the row kinds apart by their members (see
// RecordID).
func awarenessRecordID(m map[string]json.RawMessage, str func(string) string) string {
	has := func(k string) bool { _, ok := m[k]; return ok }
	switch {
	case has("campaignId") && str("email") != "":
		return model.LogAwarenessPhishing + ":" + str("email") + "|" + str("campaignId")
	case has("templateName"):
		return "" // user data without the campaign the client adds
	case str("emailAddress") != "":
		return model.LogAwarenessSafeScore + ":" + str("emailAddress")
	case has("watchlistCount") && str("email") != "":
		return model.LogAwarenessWatchlist + ":" + str("email")
	case (has("numCorrect") || has("numNotWatched")) && str("email") != "":
		return model.LogAwarenessPerf + ":" + str("email")
	}
	return ""
}

// awarenessRoutes returns the handlers of the Awareness Training paths.
func (s *Sim) awarenessRoutes() map[string]func(*call) {
	company := func(kind int) func(*call) {
		return func(c *call) {
			req, ok := c.parseAPI()
			if !ok {
				return
			}
			details := kind == awPerf && fieldBool(req.item(), "includeUserDetails")
			aw := s.awarenessSnapshot(c.acct)
			s.awarenessPage(c, req, "", "", len(aw.users), func(i int) []byte {
				return awRow(c.acct, aw.users[i], i, kind, nil, details)
			})
		}
	}
	return map[string]func(*call){
		awSafeScorePath:   company(awSafe),
		awPerformancePath: company(awPerf),
		awWatchlistPath:   company(awWatch),
		awCampaignsPath: func(c *call) {
			req, ok := c.parseAPI()
			if !ok {
				return
			}
			aw := s.awarenessSnapshot(c.acct)
			s.awarenessPage(c, req, "", "", len(aw.campaigns), func(i int) []byte { return campaignRow(aw.campaigns[i]) })
		},
		awUserDataPath: func(c *call) {
			req, ok := c.parseAPI()
			if !ok {
				return
			}
			id, _ := fieldString(req.item(), "id")
			if tok := req.Meta.Pagination.PageToken; tok != "" {
				var cur pageCursor
				if payload, ok := s.open(tok); ok && json.Unmarshal(payload, &cur) == nil {
					id = cur.Key
				}
			}
			aw := s.awarenessSnapshot(c.acct)
			var camp *awCampaign
			for i := range aw.campaigns {
				if aw.campaigns[i].id == id {
					camp = &aw.campaigns[i]
				}
			}
			if camp == nil {
				c.apiFail(http.StatusOK, req.item(), "err_validation_invalid_value", "id must name a phishing campaign", false)
				return
			}
			s.awarenessPage(c, req, camp.id, "items", len(camp.users), func(i int) []byte {
				u := camp.users[i]
				return awRow(c.acct, aw.users[u], u, awPhish, camp, true)
			})
		},
	}
}

// awarenessPage answers one page of total rows (row renders row i) with
// the /api envelope: rows in data[], or in data[0].<listKey>[]. key is
// carried in the page token (the campaign of user data).
func (s *Sim) awarenessPage(c *call, req *apiRequest, key, listKey string, total int, row func(i int) []byte) {
	size, ok := s.pageSize(req.Meta.Pagination.PageSize)
	if !ok {
		c.apiFail(http.StatusOK, req.item(), "err_validation_invalid_value", "pageSize must be a positive number", false)
		return
	}
	cur := pageCursor{Path: c.r.URL.Path, Key: key}
	if tok := req.Meta.Pagination.PageToken; tok != "" {
		payload, ok := s.open(tok)
		if !ok || json.Unmarshal(payload, &cur) != nil || cur.Path != c.r.URL.Path || cur.Key != key {
			c.apiFail(http.StatusOK, req.item(), "err_invalid_page_token", "The page token is invalid", false)
			return
		}
		if size == 0 {
			size = cur.Size
		}
	}
	if size == 0 {
		size = s.opts.DefaultPageSize
	}
	cur.Size = size
	var page [][]byte
	for i := cur.Offset; i < total && len(page) < size; i++ {
		page = append(page, row(i))
	}
	if len(page) > 0 && s.take(c, FaultMalformedRecord) != nil {
		page = slices.Insert(page, len(page)/2, []byte(`"not a record"`))
	}
	pagination := map[string]any{"pageSize": size, "totalCount": total}
	if end := cur.Offset + size; end < total {
		next := cur
		next.Offset = end
		payload, _ := json.Marshal(next)
		pagination["next"] = s.seal(payload)
	}
	meta, _ := json.Marshal(map[string]any{"status": http.StatusOK, "pagination": pagination})
	body := append([]byte(`{"meta":`), meta...)
	body = append(body, `,"data":[`...)
	if listKey != "" {
		body = append(body, `{"`+listKey+`":[`...)
	}
	for i, r := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, r...)
	}
	if listKey != "" {
		body = append(body, "]}"...)
	}
	body = append(body, `],"fail":[]}`...)
	if s.take(c, FaultTruncated) != nil {
		body = body[:len(body)/2]
	}
	c.writeBody(http.StatusOK, "application/json", body)
}

var (
	departments   = []string{"Sales", "Finance", "IT", "HR", "Legal", "Operations", "Marketing"}
	campaignNames = []string{"Invoice overdue", "Parcel delivery failed", "Password expiry", "CEO gift cards", "Shared document"}
	userStates    = []string{"Active", "Active", "Active", "Inactive"}
)
