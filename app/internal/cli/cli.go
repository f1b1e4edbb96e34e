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

func serve(ctx context.Context, args []string, env Env) error {
	cfg, err := config.Parse("serve", args, env.Getenv, env.Stderr, nil)
	if err != nil {
		return err
	}
	log, closer, err := logging.New(cfg.StoreDir, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer closer.Close()
	slog.SetDefault(log)
	if err := daemon.Serve(ctx, cfg, env.Version, log, nil); err != nil {
		log.Error("serve failed", "error", err)
		return err
	}
	return nil
}
