// Command mimecast-qradar collects Mimecast logs and delivers them to QRadar.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"mimecast-qradar/app/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Version: version})
	stop()
	os.Exit(code)
}
