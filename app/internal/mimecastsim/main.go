package mimecastsim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"mimecast-qradar/app/internal/model"
)

// Main runs the simulator as a server until ctx is done: the
// `mimecast-qradar simulate` command. It prints the base URL and the
// credentials of every account to stdout.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	listen := fs.String("listen", "127.0.0.1:8025", "address to listen on")
	seed := fs.Int64("seed", 1, "seed of all generated data")
	records := fs.Int("records", 100000, "backlog of SIEM records per account")
	logs := fs.Int("logs", 1000, "backlog of records per audit, TTP, DLP, held release, archive search and threat intel stream per account")
	ciRecords := fs.Int("ci-records", 10000, "backlog of Cloud Integrated SIEM records per account")
	awarenessUsers := fs.Int("awareness-users", 100, "Awareness Training users per account")
	perFile := fs.Int("records-per-file", 5000, "records per SIEM file")
	accountsFile := fs.String("accounts", "", `JSON file with a list of accounts ({"name", "client_id", "client_secret", "app_id", "app_key", "access_key", "secret_key"}); default: the demo account`)
	live := fs.Duration("live", 0, "add new traffic to every account at this interval (0 = off)")
	emptyLast := fs.Bool("empty-last-page", false, "end paged log results with an empty page that still has next")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}

	accounts := []Account{DemoAccount()}
	if *accountsFile != "" {
		b, err := os.ReadFile(*accountsFile)
		if err != nil {
			return fmt.Errorf("reading accounts: %w", err)
		}
		accounts = nil
		if err := json.Unmarshal(b, &accounts); err != nil {
			return fmt.Errorf("reading accounts %s: %w", *accountsFile, err)
		}
		if len(accounts) == 0 {
			return fmt.Errorf("reading accounts %s: no accounts", *accountsFile)
		}
	}

	sim := New(Options{
		Seed:           *seed,
		Logger:         slog.New(slog.NewTextHandler(stdout, nil)),
		RecordsPerFile: *perFile,
		EmptyLastPage:  *emptyLast,
	})
	for _, a := range accounts {
		if a.Name == "" {
			return errors.New("reading accounts: an account has no name")
		}
		sim.AddAccount(a)
		if *records > 0 {
			sim.Generate(a.Name, model.StreamSIEM, *records)
		}
		for _, le := range logEndpoints {
			sim.Generate(a.Name, le.stream, *logs)
		}
		for _, f := range threatFeeds {
			sim.Generate(a.Name, f.stream, *logs)
		}
		sim.Generate(a.Name, model.StreamSIEMCI, *ciRecords)
		sim.Generate(a.Name, model.StreamAwarenessTraining, *awarenessUsers)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Mimecast simulator listening on %s\n", base)
	for _, a := range accounts {
		fmt.Fprintf(stdout, "account %q: %d SIEM records, %d Cloud Integrated SIEM records, %d records per log stream and threat intel feed, %d awareness training rows\n",
			a.Name, sim.Delivered(a.Name, model.StreamSIEM), sim.Delivered(a.Name, model.StreamSIEMCI), *logs, sim.Delivered(a.Name, model.StreamAwarenessTraining))
		if a.ClientID != "" {
			fmt.Fprintf(stdout, "  API 2.0: base_url=%s client_id=%s client_secret=%s\n", base, a.ClientID, a.ClientSecret)
		}
		if a.AccessKey != "" {
			fmt.Fprintf(stdout, "  API 1.0: base_url=%s app_id=%s app_key=%s access_key=%s secret_key=%s\n", base, a.AppID, a.AppKey, a.AccessKey, a.SecretKey)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *live > 0 {
		for _, a := range accounts {
			go sim.Live(ctx, a.Name, *live)
		}
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
