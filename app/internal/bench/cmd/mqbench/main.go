//go:build linux

// Command mqbench is the end-to-end benchmark of issue #8 (run it through
// scripts/bench.sh). `mqbench run` starts `mimecast-qradar simulate` in its
// own process, listens for syslog itself, and for each backlog size and API
// version measures:
//
//   - the collector: `mimecast-qradar collect --once` in a process of its
//     own, timed from start to exit, its peak RSS taken from the kernel
//     (wait4 rusage, the same figure as /usr/bin/time's "Maximum resident
//     set size");
//   - the floor: the same files downloaded, decompressed and split into
//     lines that go nowhere (bench.FloorV2, bench.FloorV1);
//   - allocations per event: the same pass once more in `mqbench collect`,
//     which links the same collector and counts its allocations.
//
// `mqbench collect` is that linked pass; it takes the flags of
// `mimecast-qradar collect` plus --stats, --cpuprofile and --memprofile.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mqbench run|collect [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(ctx, os.Args[2:])
	case "collect":
		err = collectLinked(ctx, os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "mqbench: unknown command %q (run or collect)\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mqbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
