// Package mimecastsim is a local simulator of the parts of the Mimecast API
// that the collector uses, for tests, benchmarks and the demo.
//
// One *Sim serves several accounts and both API generations at once:
//
//   - API 1.0: HMAC-signed POST /api/... requests (reference §1.2), the SIEM
//     file queue of POST /api/audit/get-siem-logs (zip or plain, json or
//     key_value files, mc-siem-token cursor), and 418 "binding expired".
//   - API 2.0: POST /oauth/token (client credentials, 1799 s Bearer tokens),
//     GET /siem/v1/batch/events/cg with "pre-signed" URLs that point back at
//     the simulator's own GET /storage/... path (gzip NDJSON, no auth, 403 once
//     expired).
//   - API 2.0: GET /siem/v1/batch/events/ci, the Cloud Integrated SIEM
//     (entities, mailflow, urlclick files), with the same mechanics.
//   - Both: the paged POST endpoints for audit, TTP URL/attachment/
//     impersonation, DLP, held release (three record shapes) and archive
//     search logs (with identical twins) with the meta/data/fail envelope;
//     the threat intel malware feeds (STIX bundles paged by the
//     x-mc-threat-feed-next-token header, "no results" on HTTP 200); the
//     Awareness Training data sets (snapshot rows, phishing campaigns); and
//     POST /api/login/discover-authentication. Account.Forbidden with
//     StreamPaths makes any stream "not licensed" (403).
//
// Records are generated deterministically from Options.Seed in the shapes of
// the real records in reference/mimecast-samples, and every record the
// simulator generated can be listed (Records) so that tests can check
// exactly-once delivery. Faults (429, 5xx, fail[] on 200, truncated files,
// malformed records, expired URLs, duplicate files, slow responses, 401/403/
// 418) are queued with Inject.
package mimecastsim

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Demo credentials of the account "Demo" that Main and the demo command
// create. They are not secrets: they only open the local simulator.
const (
	DemoAccountName  = "Demo"
	DemoClientID     = "mimecastsim-demo-client"
	DemoClientSecret = "mimecastsim-demo-client-secret"
	DemoAppID        = "5c3b2f4e-1d2a-4b7c-9e8f-0a1b2c3d4e5f"
	DemoAppKey       = "8e9f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	DemoAccessKey    = "mYtOL3XZCOwG96BOiFTZRmMkFAgMcDGKdemoAccessKey"
	// DemoSecretKey is base64, as Mimecast delivers secret keys (it decodes
	// to "mimecastsim-demo-secret-key").
	DemoSecretKey = "bWltZWNhc3RzaW0tZGVtby1zZWNyZXQta2V5"
)

// DemoAccount returns the account with the demo credentials, both API
// generations enabled.
func DemoAccount() Account {
	return Account{
		Name:     DemoAccountName,
		ClientID: DemoClientID, ClientSecret: DemoClientSecret,
		AppID: DemoAppID, AppKey: DemoAppKey, AccessKey: DemoAccessKey, SecretKey: DemoSecretKey,
	}
}

// Account is one simulated Mimecast account. An account with ClientID set
// accepts API 2.0 Bearer tokens, one with AccessKey set accepts API 1.0 HMAC
// signatures; both may be set.
type Account struct {
	Name string `json:"name"`
	// API 2.0
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// API 1.0; SecretKey is base64 encoded.
	AppID     string `json:"app_id,omitempty"`
	AppKey    string `json:"app_key,omitempty"`
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`

	// BindingExpired makes every HMAC-signed request fail with 418
	// err_xdk_binding_expired (an API 1.0 key whose binding TTL lapsed).
	BindingExpired bool `json:"binding_expired,omitempty"`
	// Forbidden lists URL path prefixes this account may not call: they
	// answer 403 (the application lacks the role or product).
	Forbidden []string `json:"forbidden,omitempty"`
	// Location is the zone of API 1.0 `datetime` values (nil = UTC); real
	// 1.0 records carry the account's offset, e.g. +0100.
	Location *time.Location `json:"-"`
}

// Options configure a Sim. The zero value is usable.
type Options struct {
	// Seed makes every generated value, token and identifier reproducible.
	Seed int64
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// Now is the simulator's clock (nil = time.Now). Token and URL expiry,
	// the 7-day SIEM retention and generated timestamps all follow it.
	Now func() time.Time

	// RecordsPerFile is the number of records per SIEM file (default 5000).
	RecordsPerFile int
	// Spread is how far back Generate spreads record times (default 6h).
	Spread time.Duration
	// URLTTL is the lifetime of the file URLs of the 2.0 batch endpoint
	// (default 15m).
	URLTTL time.Duration
	// TokenTTL is the lifetime of API 2.0 access tokens (default 1799 s).
	TokenTTL time.Duration

	// DefaultPageSize and MaxPageSize apply to the paged /api/ endpoints
	// (defaults 100 and 500). BatchPageSize is the default number of file
	// URLs per 2.0 batch page (default 100).
	DefaultPageSize int
	MaxPageSize     int
	BatchPageSize   int
	// ThreatIntelPageSize is the number of indicators per threat intel
	// bundle (default 100).
	ThreatIntelPageSize int

	// EmptyLastPage reproduces the quirk of some tenants: the last page
	// holding records still carries `next`, and the page it points to is
	// empty and carries `next` again. Collectors must stop on empty data.
	EmptyLastPage bool
	// CaughtUpWithLastFiles sets isCaughtUp on the batch page that lists the
	// last files; by default that page says false and the following, empty
	// page says true (the shape peers' fixtures show).
	CaughtUpWithLastFiles bool
	// V1FilesPerZip is how many queued SIEM files one compressed 1.0 reply
	// carries as zip members (default 1).
	V1FilesPerZip int
	// RenderOnDemand keeps no file bytes: each download regenerates and
	// compresses its file. It saves memory (about 150 MB per million 2.0
	// records) at the cost of CPU on every download, e.g. when the
	// simulator shares a process whose memory is being measured.
	RenderOnDemand bool

	// RateLimit is the number of requests per account per minute accepted
	// on /api/ and /siem/ before 429 (0 = unlimited). When set, every reply
	// carries X-RateLimit-Limit/Remaining/Reset.
	RateLimit int
	// MaxClockSkew rejects 1.0 requests whose x-mc-date is further than
	// this from Now (0 = not checked; Mimecast does not document a limit).
	MaxClockSkew time.Duration

	// LiveSIEMRecords and LiveLogRecords are what Live adds per tick:
	// SIEM records spread over the log types (default 100) and records per
	// audit/TTP/DLP stream (default 2).
	LiveSIEMRecords int
	LiveLogRecords  int
	// MaxRequestLog bounds the request log kept for Requests (default
	// 100000; the oldest entries are dropped first).
	MaxRequestLog int
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.RecordsPerFile, 5000)
	defDur(&o.Spread, 6*time.Hour)
	defDur(&o.URLTTL, 15*time.Minute)
	defDur(&o.TokenTTL, 1799*time.Second)
	def(&o.DefaultPageSize, 100)
	def(&o.MaxPageSize, 500)
	def(&o.BatchPageSize, 100)
	def(&o.ThreatIntelPageSize, 100)
	def(&o.V1FilesPerZip, 1)
	def(&o.LiveSIEMRecords, 100)
	def(&o.LiveLogRecords, 2)
	def(&o.MaxRequestLog, 100000)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// RequestLog is one request the simulator answered.
type RequestLog struct {
	Time    time.Time
	Method  string
	Path    string
	Query   string
	Account string // "" when the request could not be tied to an account
	Status  int
	Fault   FaultKind // the injected fault that shaped the reply, if any
}

// Record is one record the simulator generated: the ground truth that tests
// compare delivered events against.
type Record struct {
	Stream  model.Stream
	LogType string // a model.Log* name (SIEM: receipt, process, ...)
	// ID is unique among the account's records of the stream (archive
	// search twins excepted, which are identical) and is derived from Raw
	// (and RawV1); RecordID extracts it from a delivered record.
	ID   string
	Time time.Time
	// Raw is the record as API 2.0 serves it; for the /api/ endpoints it is
	// the same for both generations. For threat intel it is the STIX
	// indicator object (the client adds sha256, malware_name, feed_type);
	// for awareness training the row (the client adds campaignId and
	// campaignName to phishing user data).
	Raw []byte
	// RawV1 is, for SIEM records, the record as an API 1.0 JSON file holds
	// it (key_value lines carry the same keys and values as text).
	RawV1 []byte
	// MalwareName is, for threat intel indicators, the name of the malware
	// object the indicator's relationship points at ("" is a real value:
	// most malware objects have an empty name).
	MalwareName string
}

// Sim is a simulated Mimecast API. It implements http.Handler and is safe
// for concurrent use.
type Sim struct {
	opts   Options
	log    *slog.Logger
	secret []byte // keys token and URL MACs
	mux    *http.ServeMux

	mu       sync.RWMutex
	accounts map[string]*account // by name
	tokens   map[string]bearer
	tokenSeq uint64

	faultMu sync.Mutex
	faults  []*faultState

	reqMu    sync.Mutex
	requests []RequestLog
}

type bearer struct {
	acct    *account
	expires time.Time
}

// account is an Account plus its generated data. The slices are appended
// under Sim.mu; a published siemFile is immutable.
type account struct {
	Account
	key    string // opaque id used in storage URLs and cursors
	code   string // Mimecast account code, e.g. CUSA4A274
	domain string // the account's own mail domain
	zone   *time.Location
	seed   uint64

	genMu sync.Mutex // serialises generation so files publish in seq order
	cg    siemQueue  // Cloud Gateway SIEM files (stream siem)
	ci    siemQueue  // Cloud Integrated SIEM files (stream siem_ci)
	logs  map[model.Stream]*logStore
	aware *awareness // Awareness Training users and campaigns; nil until generated

	rateWindow time.Time
	rateCount  int
}

// New returns a simulator with no accounts.
func New(opts Options) *Sim {
	opts.setDefaults()
	secret := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("mimecastsim"), uint64(opts.Seed)))
	s := &Sim{
		opts:     opts,
		log:      opts.Logger,
		secret:   secret[:],
		accounts: map[string]*account{},
		tokens:   map[string]bearer{},
	}
	s.mux = s.routes()
	return s
}

func (s *Sim) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// AddAccount adds an account, or updates the credentials and flags of the
// account with the same name. An update keeps the generated data and the
// first Location, because records are regenerated from their seed and must
// not change.
func (s *Sim) AddAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.accounts[a.Name]; ok {
		old.Account = a
		return
	}
	h := fnv.New64a()
	h.Write([]byte(a.Name))
	sum := h.Sum64()
	regions := []string{"CUSA", "CUSB", "CUK", "CDE", "CAU"}
	s.accounts[a.Name] = &account{
		Account: a,
		key:     fmt.Sprintf("%016x", sum^uint64(s.opts.Seed)),
		code:    fmt.Sprintf("%s%X", regions[sum%uint64(len(regions))], sum>>40&0xFFFFF),
		domain:  slug(a.Name) + ".example.com",
		zone:    cmp.Or(a.Location, time.UTC),
		seed:    mix(uint64(s.opts.Seed), sum),
		logs:    map[model.Stream]*logStore{},
	}
}

func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return "account"
	}
	return out
}

// mustAccount returns the named account; tests naming an unknown account
// have a bug, hence the panic.
func (s *Sim) mustAccount(name string) *account {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.accounts[name]
	if !ok {
		panic(fmt.Sprintf("mimecastsim: unknown account %q", name))
	}
	return a
}

// Requests returns a copy of the request log, oldest first.
func (s *Sim) Requests() []RequestLog {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	return append([]RequestLog(nil), s.requests...)
}

func (s *Sim) logRequest(l RequestLog) {
	s.reqMu.Lock()
	if len(s.requests) >= s.opts.MaxRequestLog {
		n := copy(s.requests, s.requests[len(s.requests)/10+1:])
		s.requests = s.requests[:n]
	}
	s.requests = append(s.requests, l)
	s.reqMu.Unlock()
	s.log.Debug("mimecastsim request", "method", l.Method, "path", l.Path, "account", l.Account,
		"status", l.Status, "fault", string(l.Fault))
}

// Delivered returns how many records of the stream the account holds (the
// simulator's ground truth count; the name reads "delivered by Mimecast");
// for awareness_training, the number of snapshot rows.
func (s *Sim) Delivered(accountName string, stream model.Stream) int {
	a := s.mustAccount(accountName)
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch stream {
	case model.StreamSIEM:
		return a.cg.count
	case model.StreamSIEMCI:
		return a.ci.count
	case model.StreamAwarenessTraining:
		return a.aware.rowCount()
	}
	if ls := a.logs[stream]; ls != nil {
		return len(ls.recs)
	}
	return 0
}

// Records returns every record generated for the stream, in generation
// order for SIEM and siem_ci (file by file), in time order for the other
// event streams, and user by user for awareness_training (the current
// state of the snapshot rows, see Awareness). SIEM records are regenerated
// from their seed, so this is slow for large backlogs.
func (s *Sim) Records(accountName string, stream model.Stream) []Record {
	a := s.mustAccount(accountName)
	switch stream {
	case model.StreamSIEM, model.StreamSIEMCI:
		return s.siemRecords(a, kindFor(stream))
	case model.StreamAwarenessTraining:
		return s.awarenessRecords(a)
	}
	s.mu.RLock()
	var logs []logRec
	if ls := a.logs[stream]; ls != nil {
		logs = append(logs, ls.recs...)
	}
	s.mu.RUnlock()
	out := make([]Record, 0, len(logs))
	for _, r := range logs {
		rec := Record{Stream: stream, LogType: logTypeOf(stream), ID: r.id, Time: r.t, Raw: r.raw, MalwareName: r.malwareName}
		if r.untimed {
			rec.Time = time.Time{}
		}
		out = append(out, rec)
	}
	return out
}

// siemRecords regenerates the records of one of the account's SIEM queues.
func (s *Sim) siemRecords(a *account, k *siemKind) []Record {
	s.mu.RLock()
	files := append([]*siemFile(nil), a.queue(k).files...)
	s.mu.RUnlock()
	var out []Record
	for _, f := range files {
		start := len(out)
		forEachRecord(a, f, formV2, func(id string, t time.Time, rec []byte) {
			out = append(out, Record{Stream: k.stream, LogType: f.st.log, ID: id, Time: t, Raw: append([]byte(nil), rec...)})
		})
		if k != kindCG {
			continue // Cloud Integrated logs exist in API 2.0 only
		}
		i := start
		forEachRecord(a, f, formV1JSON, func(_ string, _ time.Time, rec []byte) {
			out[i].RawV1 = append([]byte(nil), rec...)
			i++
		})
	}
	return out
}

// logTypeOf is the log type of the records of a stream with a single one.
func logTypeOf(stream model.Stream) string {
	switch stream {
	case model.StreamMessageRelease:
		return model.LogMessageRelease
	case model.StreamArchiveSearch:
		return model.LogArchiveSearch
	case model.StreamThreatIntelCustomer, model.StreamThreatIntelGrid:
		return model.LogThreatIntelMalware
	}
	return string(stream)
}

// idKeys are the fields that hold a record's identity per stream. The
// simulator makes them unique: SIEM aggregateId (2.0) = aCode (1.0), which
// it writes on every 1.0 record although real url/attachment protect
// records sometimes lack it; audit, impersonation, held release and STIX
// indicator `id`; `messageId` for the TTP URL/attachment and DLP logs,
// which have no id field; `aggregateId` for Cloud Integrated records.
// Archive search and awareness training are identified by RecordID below.
var idKeys = map[model.Stream][]string{
	model.StreamSIEM:                {"aggregateId", "aCode"},
	model.StreamAudit:               {"id"},
	model.StreamTTPImpersonation:    {"id"},
	model.StreamTTPURL:              {"messageId"},
	model.StreamTTPAttachment:       {"messageId"},
	model.StreamDLP:                 {"messageId"},
	model.StreamMessageRelease:      {"id"},
	model.StreamThreatIntelCustomer: {"id"},
	model.StreamThreatIntelGrid:     {"id"},
	model.StreamSIEMCI:              {"aggregateId"},
}

// IdentityFields returns the fields that hold a record's identity in the
// stream (first non-empty wins), for streams identified by one field; nil
// for archive search and awareness training (see RecordID).
func IdentityFields(stream model.Stream) []string { return idKeys[stream] }

// RecordID returns the identity of a delivered record of the stream (a
// JSON object as the collector decodes it; a key_value line turned into an
// object of strings works too): the value Record.ID holds, or "".
//
// Archive search records have no id: theirs is createTime|emailAddr|
// searchText, which the simulator keeps unique except for deliberate twins
// (two identical searches in the same second), which share it. Awareness
// training rows are "<log type>:<e-mail>", and phishing user data rows
// "awareness_phishing_user:<e-mail>|<campaign id>", read from the
// campaignId member the client adds (without it such a row gives "").
func RecordID(stream model.Stream, raw []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	str := func(k string) string {
		var v string
		_ = json.Unmarshal(m[k], &v)
		return v
	}
	switch stream {
	case model.StreamArchiveSearch:
		if str("createTime") == "" {
			return ""
		}
		return str("createTime") + "|" + str("emailAddr") + "|" + str("searchText")
	case model.StreamAwarenessTraining:
		return awarenessRecordID(m, str)
	}
	for _, k := range idKeys[stream] {
		if v := str(k); v != "" {
			return v
		}
	}
	return ""
}

// StreamPaths returns the URL path prefixes serving a stream, for
// Account.Forbidden: forbidding them makes the stream "not licensed" (403).
// The two threat intel feeds share one endpoint, and so one licence.
func StreamPaths(stream model.Stream) []string {
	switch stream {
	case model.StreamSIEM:
		return []string{"/siem/v1/batch/events/cg", "/api/audit/get-siem-logs"}
	case model.StreamSIEMCI:
		return []string{"/siem/v1/batch/events/ci"}
	case model.StreamThreatIntelCustomer, model.StreamThreatIntelGrid:
		return []string{threatIntelPath}
	case model.StreamAwarenessTraining:
		return []string{awarenessPrefix}
	}
	if le := logEndpointFor(stream); le != nil {
		return []string{le.path}
	}
	return nil
}

// seal returns an opaque, tamper-evident token carrying payload.
func (s *Sim) seal(payload []byte) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// open returns the payload of a token made by seal.
func (s *Sim) open(token string) ([]byte, bool) {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return nil, false
	}
	got, err := base64.RawURLEncoding.DecodeString(m64)
	if err != nil {
		return nil, false
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write(payload)
	return payload, hmac.Equal(got, m.Sum(nil)[:12])
}

// mix is the splitmix64 finaliser applied to a+b: a bijection of b for a
// fixed a, so ids derived from distinct counters never collide.
func mix(a, b uint64) uint64 {
	z := a + b*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
