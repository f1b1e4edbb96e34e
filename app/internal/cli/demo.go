package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"mimecast-qradar/app/internal/collector"
	"mimecast-qradar/app/internal/daemon"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/qradarsim"
	"mimecast-qradar/app/internal/store"
)

// Demo traffic: a backlog at start, then new records at every live tick.
const (
	demoSIEMBacklog   = 20_000
	demoLogsBacklog   = 200
	demoLiveInterval  = 30 * time.Second
	demoQRadarToken   = "demo-sec-token"
	demoLogSourceName = "mimecast-demo"
)

// demo runs serve with an embedded Mimecast simulator (live traffic), an
// embedded QRadar REST simulator reading the event file, and one API 2.0
// account collecting every minute. It needs no credentials and no QRadar.
func demo(ctx context.Context, args []string, env Env) error {
	cfg, log, done, err := setup("demo", args, env, nil)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sim := mimecastsim.New(mimecastsim.Options{Seed: 1, Logger: log.With("component", "mimecastsim")})
	sim.AddAccount(mimecastsim.DemoAccount())
	for _, s := range model.SupportedStreams {
		n := demoLogsBacklog
		if s == model.StreamSIEM {
			n = demoSIEMBacklog
		}
		sim.Generate(mimecastsim.DemoAccountName, s, n)
	}
	simURL, err := serveLoopback(ctx, sim, log)
	if err != nil {
		return fmt.Errorf("starting the Mimecast simulator: %w", err)
	}
	go sim.Live(ctx, mimecastsim.DemoAccountName, demoLiveInterval)
	cfg.AllowBaseURLs = append(cfg.AllowBaseURLs, simURL)

	qradarNote := "off (--qradar-api given: using it)"
	if cfg.QRadarAPI == "" {
		events := ""
		if path, ok := strings.CutPrefix(cfg.SyslogTarget, "file://"); ok {
			events = path
		}
		qsim := qradarsim.New(qradarsim.Options{Token: demoQRadarToken, EventsFile: events})
		qURL, err := serveLoopback(ctx, qsim, log)
		if err != nil {
			return fmt.Errorf("starting the QRadar simulator: %w", err)
		}
		cfg.QRadarAPI = qURL
		getenv := cfg.Getenv
		cfg.Getenv = func(k string) string {
			if k == "SEC_ADMIN_TOKEN" {
				return demoQRadarToken
			}
			return getenv(k)
		}
		qradarNote = qURL + " (simulated; searches read the event file)"
	}

	var demoID int64
	hooks := daemon.Hooks{
		AfterStoreOpen: func(ctx context.Context, st *store.Store) error {
			id, err := createDemoAccount(ctx, st, simURL)
			demoID = id
			return err
		},
		Started: func(ctx context.Context, col *collector.Collector) { col.AccountSaved(ctx, demoID, true) },
		Ready: func(addr string) {
			_, port, _ := net.SplitHostPort(addr)
			fmt.Fprintf(env.Stdout, `Mimecast Log Collector demo is running.

  Open the panel:      http://localhost:%s/
  Events (LEEF) go to: %s
  Mimecast (simulated, API 2.0, account %q): %s
  QRadar REST API:     %s
  App log:             %s

New Mimecast traffic arrives every %s; the demo account collects every minute.
Press Ctrl+C to stop.
`, port, cfg.SyslogTarget, mimecastsim.DemoAccountName, simURL, qradarNote,
				filepath.Join(cfg.StoreDir, "log", "app.log"), demoLiveInterval)
		},
	}
	if err := daemon.Serve(ctx, cfg, env.Version, log, hooks); err != nil {
		log.Error("demo failed", "error", err)
		return err
	}
	return nil
}

// serveLoopback serves h on a free loopback port until ctx is done and
// returns its base URL.
func serveLoopback(ctx context.Context, h http.Handler, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	return "http://" + ln.Addr().String(), nil
}

// createDemoAccount (re)creates the demo account pointing at this run's
// simulator. The simulator starts afresh on every run, so positions saved by
// an earlier demo run mean nothing to it: the account is replaced, not reused.
func createDemoAccount(ctx context.Context, st *store.Store, simURL string) (int64, error) {
	accounts, err := st.ListAccounts(ctx)
	if err != nil {
		return 0, err
	}
	for _, a := range accounts {
		if a.Name == mimecastsim.DemoAccountName {
			if err := st.DeleteAccount(ctx, a.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return 0, err
			}
		}
	}
	acct := &model.Account{
		Name: mimecastsim.DemoAccountName, Enabled: true, APIVersion: model.APIVersion2, BaseURL: simURL,
		ClientID: mimecastsim.DemoClientID, ClientSecret: mimecastsim.DemoClientSecret,
		Streams: model.SupportedStreams, Schedule: "* * * * *", LogSourceIdentifier: demoLogSourceName,
		InitialLookbackHours: 24,
	}
	if err := st.CreateAccount(ctx, acct); err != nil {
		return 0, fmt.Errorf("creating the demo account: %w", err)
	}
	return acct.ID, nil
}
