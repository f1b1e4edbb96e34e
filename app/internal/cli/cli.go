// Package cli implements the mimecast-qradar commands of design §4.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"mimecast-qradar/app/internal/config"
	"mimecast-qradar/app/internal/daemon"
	"mimecast-qradar/app/internal/logging"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/web"
)

// Env is what a command may use from its process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         config.Getenv
	Version        string
}

const usage = `Usage: mimecast-qradar [command] [flags]

Commands:
  serve          web panel, JSON API and scheduler (the default)
  demo           serve with a built-in Mimecast simulator and one demo account;
                 no credentials and no QRadar needed
  simulate       the Mimecast API simulator alone (API 1.0 and 2.0)
  collect --once one collection pass over all enabled accounts; exits non-zero
                 if any stream failed
  version        print the version

Run "mimecast-qradar <command> -h" for the flags of a command.
`

// Run executes the command named by args[0] (serve when absent) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, env)
	case "demo":
		err = demo(ctx, args, env)
	case "simulate":
		err = mimecastsim.Main(ctx, args, env.Stdout)
	case "collect":
		err = collect(ctx, args, env)
	case "version":
		fmt.Fprintln(env.Stdout, env.Version)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
	default:
		fmt.Fprintf(env.Stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mimecast-qradar %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// setup parses a command's flags and opens the app log in the store.
func setup(name string, args []string, env Env, extra func(*flag.FlagSet)) (config.Config, *slog.Logger, func(), error) {
	cfg, err := config.Parse(name, args, env.Getenv, env.Stderr, extra)
	if err != nil {
		return cfg, nil, nil, err
	}
	log, closer, err := logging.New(cfg.StoreDir, cfg.LogLevel)
	if err != nil {
		return cfg, nil, nil, err
	}
	slog.SetDefault(log)
	return cfg, log, func() { closer.Close() }, nil
}

func serve(ctx context.Context, args []string, env Env) error {
	cfg, log, done, err := setup("serve", args, env, nil)
	if err != nil {
		return err
	}
	defer done()
	if err := daemon.Serve(ctx, cfg, env.Version, log, daemon.Hooks{}); err != nil {
		log.Error("serve failed", "error", err)
		return err
	}
	return nil
}

func collect(ctx context.Context, args []string, env Env) error {
	var once bool
	cfg, log, done, err := setup("collect", args, env, func(fs *flag.FlagSet) {
		fs.BoolVar(&once, "once", false, "run one collection pass over all enabled accounts, then exit")
	})
	if err != nil {
		return err
	}
	defer done()
	if !once {
		return errors.New("collect runs one pass and needs --once (the scheduler runs under serve)")
	}
	st, err := daemon.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	col, err := daemon.NewCollector(cfg, st, env.Version, log, web.NewMimecastProxy(st), nil)
	if err != nil {
		return err
	}
	if err := col.RunOnce(ctx); err != nil {
		log.Error("collection pass failed", "error", err)
		return err
	}
	fmt.Fprintln(env.Stdout, "collection pass finished: every stream succeeded")
	return nil
}
