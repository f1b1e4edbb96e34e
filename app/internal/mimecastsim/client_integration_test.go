package mimecastsim_test

// These tests drive the real client (app/internal/mimecast) against the
// simulator, end to end over HTTP: every endpoint and every failure mode
// the collector must survive.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecast"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

// waits records the client's back-off sleeps instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.d)
}

// client builds the real client for account a over the simulator, with
// the simulator's origin allowed and its clock.
func (e *env) client(t *testing.T, a mimecastsim.Account, version string, mod func(*mimecast.Options)) (*mimecast.Client, *waits) {
	t.Helper()
	w := &waits{}
	opts := mimecast.Options{
		HTTPClient:     e.srv.Client(),
		AllowedOrigins: []string{e.srv.URL},
		Now:            e.clock.Now,
		Sleep:          w.sleep,
		TempDir:        t.TempDir(),
	}
	if mod != nil {
		mod(&opts)
	}
	creds := mimecast.Credentials{APIVersion: version, BaseURL: e.srv.URL}
	if version == model.APIVersion2 {
		creds.ClientID, creds.ClientSecret = a.ClientID, a.ClientSecret
	} else {
		creds.AppID, creds.AppKey, creds.AccessKey, creds.SecretKey = a.AppID, a.AppKey, a.AccessKey, a.SecretKey
	}
	c, err := mimecast.New(creds, opts)
	if err != nil {
		t.Fatalf("mimecast.New: %v", err)
	}
	return c, w
}

// received collects delivered records by identity.
type received struct {
	ids      map[string]int
	logTypes map[string]string
	times    map[string]time.Time
}

func newReceived() *received {
	return &received{ids: map[string]int{}, logTypes: map[string]string{}, times: map[string]time.Time{}}
}

func (r *received) add(stream model.Stream) func(*model.Record) error {
	return func(rec *model.Record) error {
		if rec.Stream != stream {
			return errors.New("record of stream " + string(rec.Stream))
		}
		id := mimecastsim.RecordID(stream, rec.Raw)
		r.ids[id]++
		r.logTypes[id] = rec.LogType
		r.times[id] = rec.Time
		return nil
	}
}

// checkAgainst verifies exactly-once delivery, log types and times against
// the simulator's ground truth (times to the second for 1.0 and /api/).
func (r *received) checkAgainst(t *testing.T, truth []mimecastsim.Record, timePrecision time.Duration) {
	t.Helper()
	want := map[string]int{}
	for _, rec := range truth {
		want[rec.ID]++
		if r.ids[rec.ID] == 0 {
			continue
		}
		if lt := r.logTypes[rec.ID]; lt != rec.LogType {
			t.Errorf("record %s delivered as %q, generated as %q", rec.ID, lt, rec.LogType)
		}
		if got := r.times[rec.ID]; !got.Equal(rec.Time.Truncate(timePrecision)) {
			t.Errorf("record %s time %v, generated %v", rec.ID, got, rec.Time)
		}
	}
	diffIDs(t, want, r.ids)
}

// collectV2 pages the batch endpoint to isCaughtUp for every log type and
// downloads every file, like the collector does.
func collectV2(t *testing.T, ctx context.Context, c *mimecast.Client, start time.Time, pageSize int) (*received, mimecast.DecodeStats) {
	t.Helper()
	got := newReceived()
	var stats mimecast.DecodeStats
	for _, lt := range model.SIEMLogTypes {
		next := ""
		for {
			page, err := c.SIEMBatch(ctx, lt, start, next, pageSize)
			if err != nil {
				t.Fatalf("SIEMBatch(%s): %v", lt, err)
			}
			for _, f := range page.Files {
				s, err := c.DownloadSIEMFile(ctx, f, got.add(model.StreamSIEM))
				if err != nil {
					t.Fatalf("DownloadSIEMFile: %v", err)
				}
				stats.Records += s.Records
				stats.Malformed += s.Malformed
			}
			next = page.NextPage
			if page.CaughtUp || len(page.Files) == 0 {
				break
			}
		}
	}
	return got, stats
}

// collectV1 calls get-siem-logs until the end-of-data reply.
func collectV1(t *testing.T, ctx context.Context, c *mimecast.Client, token string) (*received, mimecast.DecodeStats, string) {
	t.Helper()
	got := newReceived()
	var stats mimecast.DecodeStats
	for range 10000 {
		res, err := c.SIEMLogsV1(ctx, token, time.Time{}, nil, got.add(model.StreamSIEM))
		if err != nil {
			t.Fatalf("SIEMLogsV1: %v", err)
		}
		stats.Records += res.Stats.Records
		stats.Malformed += res.Stats.Malformed
		token = res.NextToken
		if res.Done {
			return got, stats, token
		}
	}
	t.Fatal("get-siem-logs never reached the end of data")
	return nil, stats, ""
}

// collectLogs pages an /api/ log stream to its end.
func collectLogs(t *testing.T, ctx context.Context, c *mimecast.Client, q mimecast.LogQuery) (*received, mimecast.DecodeStats) {
	t.Helper()
	got := newReceived()
	var stats mimecast.DecodeStats
	for range 10000 {
		page, err := c.Logs(ctx, q, got.add(q.Stream))
		if err != nil {
			t.Fatalf("Logs(%s): %v", q.Stream, err)
		}
		stats.Records += page.Stats.Records
		stats.Malformed += page.Stats.Malformed
		if page.Next == "" {
			return got, stats
		}
		q.PageToken = page.Next
	}
	t.Fatal("paging never ended")
	return nil, stats
}

func TestClient_V2SIEMBatchDeliversEveryRecordOnce(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 150})
	e.sim.Generate("Acme", model.StreamSIEM, 3000)
	e.sim.Generate("Globex", model.StreamSIEM, 100)
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	if err := c.CheckAuth(t.Context()); err != nil {
		t.Fatalf("CheckAuth: %v", err)
	}
	if err := c.CheckStream(t.Context(), model.StreamSIEM); err != nil {
		t.Fatalf("CheckStream: %v", err)
	}
	got, stats := collectV2(t, t.Context(), c, e.clock.Now().Add(-24*time.Hour), 3)
	got.checkAgainst(t, e.sim.Records("Acme", model.StreamSIEM), time.Millisecond)
	if stats.Malformed != 0 || stats.Records != 3000 {
		t.Errorf("stats %+v, want 3000 records and none malformed", stats)
	}
}

func TestClient_V2SIEMResumesFromSavedNextPage(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 100})
	e.sim.GenerateSIEM("Acme", model.LogDelivery, 250)
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	ctx := t.Context()
	first := newReceived()
	next := ""
	for {
		page, err := c.SIEMBatch(ctx, model.LogDelivery, e.clock.Now(), next, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Files {
			if _, err := c.DownloadSIEMFile(ctx, f, first.add(model.StreamSIEM)); err != nil {
				t.Fatal(err)
			}
		}
		next = page.NextPage
		if page.CaughtUp {
			break
		}
	}
	e.clock.Advance(5 * time.Minute)
	e.sim.GenerateSIEM("Acme", model.LogDelivery, 40)
	page, err := c.SIEMBatch(ctx, model.LogDelivery, time.Time{}, next, 100)
	if err != nil || len(page.Files) != 1 {
		t.Fatalf("resumed page: %d files, %v; want only the new file", len(page.Files), err)
	}
	second := newReceived()
	if _, err := c.DownloadSIEMFile(ctx, page.Files[0], second.add(model.StreamSIEM)); err != nil {
		t.Fatal(err)
	}
	all := e.sim.Records("Acme", model.StreamSIEM)
	first.checkAgainst(t, all[:250], time.Millisecond)
	second.checkAgainst(t, all[250:], time.Millisecond)
}

func TestClient_V1SIEMFilesToEndOfData(t *testing.T) {
	for _, tc := range []struct {
		name       string
		format     string
		filesInZip int
	}{
		{"json zips", "json", 1},
		{"key_value zips", "key_value", 1},
		{"json zips with three members", "json", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, mimecastsim.Options{RecordsPerFile: 120, V1FilesPerZip: tc.filesInZip})
			e.sim.Generate("Acme", model.StreamSIEM, 2000)
			c, _ := e.client(t, acme, model.APIVersion1, func(o *mimecast.Options) { o.SIEMFormat = tc.format })
			if err := c.CheckAuth(t.Context()); err != nil {
				t.Fatalf("CheckAuth: %v", err)
			}
			if err := c.CheckStream(t.Context(), model.StreamSIEM); err != nil {
				t.Fatalf("CheckStream: %v", err)
			}
			got, stats, token := collectV1(t, t.Context(), c, "")
			got.checkAgainst(t, e.sim.Records("Acme", model.StreamSIEM), time.Second)
			if stats.Malformed != 0 {
				t.Errorf("%d malformed records", stats.Malformed)
			}
			// The saved token picks up new files later, and only those.
			e.clock.Advance(time.Minute)
			e.sim.GenerateSIEM("Acme", model.LogJournal, 30)
			more, _, _ := collectV1(t, t.Context(), c, token)
			more.checkAgainst(t, e.sim.Records("Acme", model.StreamSIEM)[2000:], time.Second)
		})
	}
}

func TestClient_LogsEveryStreamBothGenerations(t *testing.T) {
	streams := []model.Stream{model.StreamAudit, model.StreamTTPURL, model.StreamTTPAttachment, model.StreamTTPImpersonation, model.StreamDLP}
	for _, version := range []string{model.APIVersion2, model.APIVersion1} {
		for _, quirk := range []bool{false, true} {
			name := "API " + version
			if quirk {
				name += " with empty last page"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, mimecastsim.Options{EmptyLastPage: quirk})
				c, _ := e.client(t, acme, version, nil)
				for _, s := range streams {
					e.sim.Generate("Acme", s, 53)
					e.sim.Generate("Globex", s, 5)
					if err := c.CheckStream(t.Context(), s); err != nil {
						t.Errorf("CheckStream(%s): %v", s, err)
					}
					got, stats := collectLogs(t, t.Context(), c, mimecast.LogQuery{Stream: s, Start: e.clock.Now().Add(-24 * time.Hour), End: e.clock.Now(), PageSize: 10})
					got.checkAgainst(t, e.sim.Records("Acme", s), time.Second)
					if stats.Records != 53 {
						t.Errorf("%s: %d records, want 53", s, stats.Records)
					}
				}
			})
		}
	}
}

func TestClient_CredentialErrors(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	wrongSecret := acme
	wrongSecret.ClientSecret = "not-the-secret"
	wrongKey := acme
	wrongKey.SecretKey = globex.SecretKey
	wrongApp := acme
	wrongApp.AppID = "another-app"
	expired := mimecastsim.Account{Name: "Expired", AppID: "exp-app", AppKey: "exp-key", AccessKey: "exp-access", SecretKey: acme.SecretKey, BindingExpired: true}
	e.sim.AddAccount(expired)
	for _, tc := range []struct {
		name    string
		account mimecastsim.Account
		version string
		want    error
	}{
		{"2.0 wrong client secret", wrongSecret, model.APIVersion2, mimecast.ErrAuth},
		{"1.0 wrong secret key", wrongKey, model.APIVersion1, mimecast.ErrAuth},
		{"1.0 wrong application id", wrongApp, model.APIVersion1, mimecast.ErrAuth},
		{"1.0 expired binding", expired, model.APIVersion1, mimecast.ErrKeyExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := e.client(t, tc.account, tc.version, nil)
			if err := c.CheckAuth(t.Context()); !errors.Is(err, tc.want) {
				t.Errorf("CheckAuth: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestClient_PermissionIsPerStream(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	limited := acme
	limited.Forbidden = []string{"/api/dlp/", "/siem/"}
	e.sim.AddAccount(limited)
	for _, version := range []string{model.APIVersion2, model.APIVersion1} {
		c, _ := e.client(t, acme, version, nil)
		if err := c.CheckAuth(t.Context()); err != nil {
			t.Errorf("%s CheckAuth: %v", version, err)
		}
		if err := c.CheckStream(t.Context(), model.StreamDLP); !errors.Is(err, mimecast.ErrPermission) {
			t.Errorf("%s CheckStream(dlp): %v, want ErrPermission", version, err)
		}
		if err := c.CheckStream(t.Context(), model.StreamAudit); err != nil {
			t.Errorf("%s CheckStream(audit): %v", version, err)
		}
	}
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	if err := c.CheckStream(t.Context(), model.StreamSIEM); !errors.Is(err, mimecast.ErrPermission) {
		t.Errorf("2.0 CheckStream(siem): %v, want ErrPermission", err)
	}
}

func TestClient_RetriesAndRateLimits(t *testing.T) {
	query := func(e *env) mimecast.LogQuery {
		return mimecast.LogQuery{Stream: model.StreamDLP, Start: e.clock.Now().Add(-24 * time.Hour), End: e.clock.Now()}
	}
	for _, tc := range []struct {
		name     string
		fault    mimecastsim.Fault
		version  string
		wantErr  error
		wantWait time.Duration // the client must have waited at least this once
	}{
		{"429 honours X-RateLimit-Reset in ms", mimecastsim.Fault{Kind: mimecastsim.Fault429, Path: "/api/dlp/", Delay: 1500 * time.Millisecond}, model.APIVersion2, nil, 1500 * time.Millisecond},
		{"429 prefers Retry-After", mimecastsim.Fault{Kind: mimecastsim.Fault429, Path: "/api/dlp/", Delay: 100 * time.Millisecond, RetryAfter: 3 * time.Second}, model.APIVersion1, nil, 3 * time.Second},
		{"429 that never ends", mimecastsim.Fault{Kind: mimecastsim.Fault429, Path: "/api/dlp/", Count: -1}, model.APIVersion2, mimecast.ErrRateLimited, time.Second},
		{"5xx is retried", mimecastsim.Fault{Kind: mimecastsim.Fault5xx, Path: "/api/dlp/", Count: 2, Status: http.StatusBadGateway}, model.APIVersion2, nil, 0},
		{"5xx that never ends", mimecastsim.Fault{Kind: mimecastsim.Fault5xx, Path: "/api/dlp/", Count: -1}, model.APIVersion1, mimecast.ErrServer, 0},
		{"retryable fail[] on HTTP 200", mimecastsim.Fault{Kind: mimecastsim.FaultFail200, Path: "/api/dlp/"}, model.APIVersion2, mimecast.ErrServer, 0},
		{"fail[] on HTTP 200 with a validation code", mimecastsim.Fault{Kind: mimecastsim.FaultFail200, Path: "/api/dlp/", Code: "err_validation_blank"}, model.APIVersion1, mimecast.ErrRejected, 0},
		{"401 on a data call gets a fresh token", mimecastsim.Fault{Kind: mimecastsim.FaultUnauthorized, Path: "/api/dlp/"}, model.APIVersion2, nil, 0},
		{"401 twice is an auth error", mimecastsim.Fault{Kind: mimecastsim.FaultUnauthorized, Path: "/api/dlp/", Count: 2}, model.APIVersion2, mimecast.ErrAuth, 0},
		{"401 on 1.0", mimecastsim.Fault{Kind: mimecastsim.FaultUnauthorized, Path: "/api/dlp/"}, model.APIVersion1, mimecast.ErrAuth, 0},
		{"403", mimecastsim.Fault{Kind: mimecastsim.FaultForbidden, Path: "/api/dlp/"}, model.APIVersion2, mimecast.ErrPermission, 0},
		{"418", mimecastsim.Fault{Kind: mimecastsim.FaultBindingExpired, Path: "/api/dlp/"}, model.APIVersion1, mimecast.ErrKeyExpired, 0},
		{"slow reply", mimecastsim.Fault{Kind: mimecastsim.FaultSlow, Path: "/api/dlp/", Delay: 20 * time.Millisecond}, model.APIVersion2, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, mimecastsim.Options{})
			e.sim.Generate("Acme", model.StreamDLP, 20)
			c, w := e.client(t, acme, tc.version, nil)
			e.sim.Inject(tc.fault)
			got := newReceived()
			page, err := c.Logs(t.Context(), query(e), got.add(model.StreamDLP))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Logs: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				got.checkAgainst(t, e.sim.Records("Acme", model.StreamDLP), time.Second)
				if page.Stats.Records != 20 {
					t.Errorf("%d records, want 20", page.Stats.Records)
				}
			}
			if tc.wantWait > 0 && (len(w.all()) == 0 || slices.Max(w.all()) < tc.wantWait) {
				t.Errorf("client waits %v, want one of at least %v", w.all(), tc.wantWait)
			}
		})
	}
}

func TestClient_BrokenSIEMFiles(t *testing.T) {
	ctx := t.Context()
	firstFile := func(t *testing.T, e *env, c *mimecast.Client) mimecast.BatchFile {
		page, err := c.SIEMBatch(ctx, model.LogReceipt, e.clock.Now(), "", 10)
		if err != nil || len(page.Files) == 0 {
			t.Fatalf("SIEMBatch: %d files, %v", len(page.Files), err)
		}
		return page.Files[0]
	}
	setup := func(t *testing.T) *env {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 200})
		e.sim.GenerateSIEM("Acme", model.LogReceipt, 200)
		return e
	}
	t.Run("2.0 truncated gzip", func(t *testing.T) {
		e := setup(t)
		c, _ := e.client(t, acme, model.APIVersion2, nil)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated, Path: "/storage/"})
		_, err := c.DownloadSIEMFile(ctx, firstFile(t, e, c), func(*model.Record) error { return nil })
		if !errors.Is(err, mimecast.ErrBadResponse) {
			t.Errorf("DownloadSIEMFile: %v, want ErrBadResponse", err)
		}
	})
	t.Run("2.0 malformed line is skipped and counted", func(t *testing.T) {
		e := setup(t)
		c, _ := e.client(t, acme, model.APIVersion2, nil)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord, Path: "/storage/"})
		got := newReceived()
		stats, err := c.DownloadSIEMFile(ctx, firstFile(t, e, c), got.add(model.StreamSIEM))
		if err != nil || stats.Malformed != 1 || stats.Records != 200 {
			t.Fatalf("DownloadSIEMFile: %+v, %v; want 200 records and 1 malformed", stats, err)
		}
		got.checkAgainst(t, e.sim.Records("Acme", model.StreamSIEM), time.Millisecond)
	})
	t.Run("2.0 expired URL, injected and real", func(t *testing.T) {
		e := setup(t)
		c, _ := e.client(t, acme, model.APIVersion2, nil)
		f := firstFile(t, e, c)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultExpiredURL})
		if _, err := c.DownloadSIEMFile(ctx, f, func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrFileExpired) {
			t.Errorf("injected: %v, want ErrFileExpired", err)
		}
		e.clock.Advance(16 * time.Minute)
		if _, err := c.DownloadSIEMFile(ctx, f, func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrFileExpired) {
			t.Errorf("after the URL TTL: %v, want ErrFileExpired", err)
		}
		if _, err := c.DownloadSIEMFile(ctx, firstFile(t, e, c), func(*model.Record) error { return nil }); err != nil {
			t.Errorf("relisted file: %v", err)
		}
	})
	t.Run("2.0 duplicate file reaches the client twice", func(t *testing.T) {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 50})
		e.sim.GenerateSIEM("Acme", model.LogReceipt, 150)
		c, _ := e.client(t, acme, model.APIVersion2, nil)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile, Skip: 1})
		got, _ := collectV2(t, ctx, c, e.clock.Now(), 1)
		twice := 0
		for _, n := range got.ids {
			if n == 2 {
				twice++
			}
		}
		if len(got.ids) != 150 || twice != 50 {
			t.Errorf("%d distinct records, %d twice; want 150 and one file (50) twice", len(got.ids), twice)
		}
	})
	t.Run("1.0 truncated zip", func(t *testing.T) {
		e := setup(t)
		c, _ := e.client(t, acme, model.APIVersion1, nil)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated, Path: "/api/audit/get-siem-logs"})
		if _, err := c.SIEMLogsV1(ctx, "", time.Time{}, nil, func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrBadResponse) {
			t.Errorf("SIEMLogsV1: %v, want ErrBadResponse", err)
		}
	})
	for _, format := range []string{"json", "key_value"} {
		t.Run("1.0 malformed record in "+format, func(t *testing.T) {
			e := setup(t)
			c, _ := e.client(t, acme, model.APIVersion1, func(o *mimecast.Options) { o.SIEMFormat = format })
			e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord, Path: "/api/audit/get-siem-logs"})
			got, stats, _ := collectV1(t, ctx, c, "")
			if stats.Malformed != 1 || stats.Records != 200 {
				t.Errorf("stats %+v, want 200 records and 1 malformed", stats)
			}
			got.checkAgainst(t, e.sim.Records("Acme", model.StreamSIEM), time.Second)
		})
	}
	t.Run("1.0 invalid token", func(t *testing.T) {
		e := setup(t)
		c, _ := e.client(t, acme, model.APIVersion1, nil)
		if _, err := c.SIEMLogsV1(ctx, "a-token-from-elsewhere", time.Time{}, nil, func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrInvalidSIEMToken) {
			t.Errorf("SIEMLogsV1: %v, want ErrInvalidSIEMToken", err)
		}
	})
	t.Run("1.0 duplicate file keeps the token", func(t *testing.T) {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 50})
		e.sim.GenerateSIEM("Acme", model.LogReceipt, 150)
		c, _ := e.client(t, acme, model.APIVersion1, nil)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultDuplicateFile})
		got, _, _ := collectV1(t, ctx, c, "")
		if len(got.ids) != 150 || got.ids[e.sim.Records("Acme", model.StreamSIEM)[0].ID] != 2 {
			t.Errorf("%d distinct records; want 150 with the first file twice", len(got.ids))
		}
	})
}

func TestClient_BrokenLogPages(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	e.sim.Generate("Acme", model.StreamTTPImpersonation, 30)
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	q := mimecast.LogQuery{Stream: model.StreamTTPImpersonation, Start: e.clock.Now().Add(-24 * time.Hour), End: e.clock.Now()}

	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord})
	got, stats := collectLogs(t, t.Context(), c, q)
	if stats.Malformed != 1 || stats.Records != 30 {
		t.Errorf("stats %+v, want 30 records and 1 malformed", stats)
	}
	got.checkAgainst(t, e.sim.Records("Acme", model.StreamTTPImpersonation), time.Second)

	e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated})
	if _, err := c.Logs(t.Context(), q, func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrBadResponse) {
		t.Errorf("truncated page: %v, want ErrBadResponse", err)
	}
}

func TestClient_DiscoverRegionFindsTheSimulator(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	got, err := mimecast.DiscoverRegion(t.Context(), e.srv.Client(), e.srv.URL, "admin@acme.example.com")
	if err != nil || got != e.srv.URL {
		t.Errorf("DiscoverRegion = %q, %v; want %s", got, err, e.srv.URL)
	}
}

func TestClient_HeldReleaseAndArchiveSearchEveryRecordOnce(t *testing.T) {
	for _, version := range []string{model.APIVersion2, model.APIVersion1} {
		for _, quirk := range []bool{false, true} {
			name := "API " + version
			if quirk {
				name += " with empty last page"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, mimecastsim.Options{EmptyLastPage: quirk})
				c, _ := e.client(t, acme, version, nil)
				for _, s := range []model.Stream{model.StreamMessageRelease, model.StreamArchiveSearch} {
					e.sim.Generate("Acme", s, 117)
					e.sim.Generate("Globex", s, 9)
					if err := c.CheckStream(t.Context(), s); err != nil {
						t.Errorf("CheckStream(%s): %v", s, err)
					}
					got, stats := collectLogs(t, t.Context(), c, mimecast.LogQuery{Stream: s, Start: e.clock.Now().Add(-24 * time.Hour), End: e.clock.Now(), PageSize: 10})
					truth := e.sim.Records("Acme", s)
					// Exactly once per generated record: archive twins
					// (identical searches in one second) arrive twice.
					got.checkAgainst(t, truth, time.Second)
					if stats.Records != 117 || stats.Malformed != 0 {
						t.Errorf("%s: stats %+v, want 117 records", s, stats)
					}
					if s == model.StreamArchiveSearch && got.ids[truth[7].ID] != 2 {
						t.Errorf("archive twin %q delivered %d times, want 2", truth[7].ID, got.ids[truth[7].ID])
					}
				}
			})
		}
	}
}

// collectThreatIntel pages a feed by its next-token header until the end,
// keeping each record's Raw.
func collectThreatIntel(t *testing.T, c *mimecast.Client, feed model.Stream, start, end time.Time) (*received, map[string][]byte, int) {
	t.Helper()
	got := newReceived()
	raws := map[string][]byte{}
	add := got.add(feed)
	token, pages := "", 0
	for range 1000 {
		next, _, err := c.ThreatIntel(t.Context(), feed, start, end, token, func(r *model.Record) error {
			raws[r.ID] = bytes.Clone(r.Raw)
			return add(r)
		})
		if err != nil {
			t.Fatalf("ThreatIntel(%s): %v", feed, err)
		}
		pages++
		if next == "" {
			return got, raws, pages
		}
		token = next
	}
	t.Fatal("threat intel paging never ended")
	return nil, nil, 0
}

func TestClient_ThreatIntelEveryIndicatorOnceAcrossHeaderPages(t *testing.T) {
	for _, version := range []string{model.APIVersion2, model.APIVersion1} {
		t.Run("API "+version, func(t *testing.T) {
			e := newEnv(t, mimecastsim.Options{ThreatIntelPageSize: 7})
			e.sim.Generate("Acme", model.StreamThreatIntelCustomer, 40)
			e.sim.Generate("Acme", model.StreamThreatIntelGrid, 23)
			e.sim.Generate("Globex", model.StreamThreatIntelGrid, 5)
			c, _ := e.client(t, acme, version, nil)
			for _, tc := range []struct {
				feed     model.Stream
				feedType string
				n, pages int
			}{
				{model.StreamThreatIntelCustomer, "malware_customer", 40, 6},
				{model.StreamThreatIntelGrid, "malware_grid", 23, 4},
			} {
				if err := c.CheckStream(t.Context(), tc.feed); err != nil {
					t.Errorf("CheckStream(%s): %v", tc.feed, err)
				}
				got, raws, pages := collectThreatIntel(t, c, tc.feed, e.clock.Now().Add(-24*time.Hour), e.clock.Now())
				truth := e.sim.Records("Acme", tc.feed)
				got.checkAgainst(t, truth, time.Millisecond)
				if pages != tc.pages {
					t.Errorf("%s: %d pages, want %d", tc.feed, pages, tc.pages)
				}
				named := 0
				for _, r := range truth {
					var rec, ind struct {
						Pattern     string  `json:"pattern"`
						SHA256      string  `json:"sha256"`
						MalwareName *string `json:"malware_name"`
						FeedType    string  `json:"feed_type"`
					}
					json.Unmarshal(raws[r.ID], &rec)
					json.Unmarshal(r.Raw, &ind)
					if rec.Pattern != ind.Pattern || !strings.Contains(ind.Pattern, "'"+rec.SHA256+"'") || len(rec.SHA256) != 64 || rec.FeedType != tc.feedType {
						t.Errorf("indicator %s delivered as %s", r.ID, raws[r.ID])
					}
					if rec.MalwareName != nil {
						named++
						if *rec.MalwareName != r.MalwareName {
							t.Errorf("indicator %s: malware_name %q, want %q", r.ID, *rec.MalwareName, r.MalwareName)
						}
					}
				}
				// Each page but the last sends its last relationship with
				// the next page, after its indicator was delivered.
				if want := tc.n - (tc.pages - 1); named != want {
					t.Errorf("%s: %d indicators with malware_name, want %d", tc.feed, named, want)
				}
			}
			// A window without indicators: "no results" is an empty page.
			next, stats, err := c.ThreatIntel(t.Context(), model.StreamThreatIntelGrid, e.clock.Now().Add(time.Minute), e.clock.Now().Add(time.Hour), "", func(*model.Record) error {
				return errors.New("no record expected")
			})
			if err != nil || next != "" || stats.Records != 0 {
				t.Errorf("empty window: next %q, %+v, %v", next, stats, err)
			}
		})
	}
}

func TestClient_SIEMCIEveryRecordOnce(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{RecordsPerFile: 60})
	e.sim.Generate("Acme", model.StreamSIEMCI, 700)
	e.sim.Generate("Acme", model.StreamSIEM, 100) // not to be listed by the CI endpoint
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	if err := c.CheckStream(t.Context(), model.StreamSIEMCI); err != nil {
		t.Fatalf("CheckStream: %v", err)
	}
	got := newReceived()
	clientIDs := map[string]bool{}
	add := got.add(model.StreamSIEMCI)
	records := 0
	for _, typ := range []string{"entities", "mailflow", "urlclick"} {
		next := ""
		for range 1000 {
			page, err := c.SIEMBatchCI(t.Context(), typ, e.clock.Now().Add(-24*time.Hour), next, 2)
			if err != nil {
				t.Fatalf("SIEMBatchCI(%s): %v", typ, err)
			}
			for _, f := range page.Files {
				s, err := c.DownloadSIEMFile(t.Context(), f, func(r *model.Record) error {
					if r.ID == "" || clientIDs[r.ID] {
						return errors.New("record without a distinct identity: " + r.ID)
					}
					clientIDs[r.ID] = true
					return add(r)
				})
				if err != nil {
					t.Fatalf("DownloadSIEMFile: %v", err)
				}
				records += s.Records
			}
			next = page.NextPage
			if page.CaughtUp || len(page.Files) == 0 {
				break
			}
		}
	}
	got.checkAgainst(t, e.sim.Records("Acme", model.StreamSIEMCI), time.Millisecond)
	if records != 700 {
		t.Errorf("%d records, want 700", records)
	}
}

func TestClient_AwarenessEveryRowOnce(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{MaxPageSize: 20})
	e.sim.Generate("Acme", model.StreamAwarenessTraining, 45)
	e.sim.Generate("Acme", model.StreamAwarenessTraining, 12)
	e.sim.Generate("Globex", model.StreamAwarenessTraining, 3)
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	if err := c.CheckStream(t.Context(), model.StreamAwarenessTraining); err != nil {
		t.Fatalf("CheckStream: %v", err)
	}
	got := newReceived()
	add := got.add(model.StreamAwarenessTraining)
	for _, kind := range []string{"safe_score", "performance", "watchlist", "phishing_user"} {
		_, err := c.Awareness(t.Context(), kind, func(r *model.Record) error {
			// The client's identity is the simulator's without the log type.
			if want, _ := strings.CutPrefix(mimecastsim.RecordID(model.StreamAwarenessTraining, r.Raw), r.LogType+":"); r.ID != want {
				return errors.New("client id " + r.ID + ", simulator's " + want)
			}
			return add(r)
		})
		if err != nil {
			t.Fatalf("Awareness(%s): %v", kind, err)
		}
	}
	got.checkAgainst(t, e.sim.Records("Acme", model.StreamAwarenessTraining), time.Second)
}

func TestClient_UnlicensedStreamsArePermissionErrors(t *testing.T) {
	e := newEnv(t, mimecastsim.Options{})
	limited := acme
	for _, s := range []model.Stream{model.StreamMessageRelease, model.StreamArchiveSearch, model.StreamThreatIntelCustomer,
		model.StreamSIEMCI, model.StreamAwarenessTraining} {
		limited.Forbidden = append(limited.Forbidden, mimecastsim.StreamPaths(s)...)
	}
	e.sim.AddAccount(limited)
	c, _ := e.client(t, acme, model.APIVersion2, nil)
	if err := c.CheckAuth(t.Context()); err != nil {
		t.Fatalf("CheckAuth: %v", err)
	}
	for _, s := range []model.Stream{model.StreamMessageRelease, model.StreamArchiveSearch, model.StreamThreatIntelCustomer,
		model.StreamThreatIntelGrid, model.StreamSIEMCI, model.StreamAwarenessTraining} {
		err := c.CheckStream(t.Context(), s)
		if !errors.Is(err, mimecast.ErrPermission) || !strings.Contains(err.Error(), "not licensed or no permission for") {
			t.Errorf("CheckStream(%s): %v, want a licence error", s, err)
		}
	}
	if _, _, err := c.ThreatIntel(t.Context(), model.StreamThreatIntelGrid, time.Time{}, time.Time{}, "", nil); !errors.Is(err, mimecast.ErrPermission) {
		t.Errorf("ThreatIntel: %v", err)
	}
	if _, err := c.Awareness(t.Context(), "phishing_user", nil); !errors.Is(err, mimecast.ErrPermission) {
		t.Errorf("Awareness: %v", err)
	}
	if err := c.CheckStream(t.Context(), model.StreamAudit); err != nil {
		t.Errorf("audit is still licensed: %v", err)
	}
}

func TestClient_BrokenPagesOfTheNewStreams(t *testing.T) {
	ctx := t.Context()
	setup := func(t *testing.T) (*env, *mimecast.Client) {
		e := newEnv(t, mimecastsim.Options{RecordsPerFile: 100})
		e.sim.Generate("Acme", model.StreamThreatIntelGrid, 30)
		e.sim.Generate("Acme", model.StreamAwarenessTraining, 20)
		e.sim.GenerateSIEM("Acme", "ci_mailflow", 100)
		c, _ := e.client(t, acme, model.APIVersion2, nil)
		return e, c
	}
	t.Run("threat intel: a malformed object is skipped and counted", func(t *testing.T) {
		e, c := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord, Path: "/api/ttp/threat-intel/"})
		got := newReceived()
		_, stats, err := c.ThreatIntel(ctx, model.StreamThreatIntelGrid, time.Time{}, time.Time{}, "", got.add(model.StreamThreatIntelGrid))
		if err != nil || stats.Malformed != 1 || stats.Records != 30 {
			t.Fatalf("ThreatIntel: %+v, %v; want 30 records and 1 malformed", stats, err)
		}
		got.checkAgainst(t, e.sim.Records("Acme", model.StreamThreatIntelGrid), time.Millisecond)
	})
	t.Run("threat intel: a truncated bundle is a bad response", func(t *testing.T) {
		e, c := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated, Path: "/api/ttp/threat-intel/"})
		if _, _, err := c.ThreatIntel(ctx, model.StreamThreatIntelGrid, time.Time{}, time.Time{}, "", func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrBadResponse) {
			t.Errorf("ThreatIntel: %v, want ErrBadResponse", err)
		}
	})
	t.Run("threat intel: 429 then success", func(t *testing.T) {
		e, c := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.Fault429, Path: "/api/ttp/threat-intel/"})
		if _, stats, err := c.ThreatIntel(ctx, model.StreamThreatIntelGrid, time.Time{}, time.Time{}, "", func(*model.Record) error { return nil }); err != nil || stats.Records != 30 {
			t.Errorf("ThreatIntel: %+v, %v", stats, err)
		}
	})
	t.Run("awareness: a malformed row is skipped and counted", func(t *testing.T) {
		e, c := setup(t)
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord, Path: "/api/awareness-training/company/"})
		stats, err := c.Awareness(ctx, "watchlist", func(*model.Record) error { return nil })
		if err != nil || stats.Malformed != 1 || stats.Records != 20 {
			t.Errorf("Awareness: %+v, %v; want 20 rows and 1 malformed", stats, err)
		}
	})
	t.Run("siem_ci: a malformed line is skipped, a truncated file fails", func(t *testing.T) {
		e, c := setup(t)
		page, err := c.SIEMBatchCI(ctx, "mailflow", e.clock.Now(), "", 10)
		if err != nil || len(page.Files) != 1 {
			t.Fatalf("SIEMBatchCI: %d files, %v", len(page.Files), err)
		}
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultMalformedRecord, Path: "/storage/"})
		stats, err := c.DownloadSIEMFile(ctx, page.Files[0], func(*model.Record) error { return nil })
		if err != nil || stats.Malformed != 1 || stats.Records != 100 {
			t.Errorf("malformed: %+v, %v", stats, err)
		}
		e.sim.Inject(mimecastsim.Fault{Kind: mimecastsim.FaultTruncated, Path: "/storage/"})
		if _, err := c.DownloadSIEMFile(ctx, page.Files[0], func(*model.Record) error { return nil }); !errors.Is(err, mimecast.ErrBadResponse) {
			t.Errorf("truncated: %v, want ErrBadResponse", err)
		}
	})
}
