//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"mimecast-qradar/app/internal/bench"
	"mimecast-qradar/app/internal/config"
	"mimecast-qradar/app/internal/daemon"
	"mimecast-qradar/app/internal/logging"
	"mimecast-qradar/app/internal/web"
)

// collectStats is what `mqbench collect` reports about its own pass.
type collectStats struct {
	Elapsed    time.Duration `json:"elapsed_ns"`
	CPU        time.Duration `json:"cpu_ns"`      // user + system time of the pass
	Mallocs    uint64        `json:"mallocs"`     // heap allocations during the pass
	AllocBytes uint64        `json:"alloc_bytes"` // bytes allocated during the pass
	NumGC      uint32        `json:"num_gc"`
	PeakRSS    int64         `json:"peak_rss"` // VmHWM at the end, bytes
	PeakHeap   uint64        `json:"heap_sys"` // HeapSys at the end
}

// collectLinked is `mqbench collect`: the pass `mimecast-qradar collect
// --once` makes (same flags, same daemon.OpenStore and daemon.NewCollector,
// same log file), in a process of its own that can also count its
// allocations and write profiles.
func collectLinked(ctx context.Context, args []string) error {
	var statsFile, cpuProfile, memProfile string
	cfg, err := config.Parse("collect", args, os.Getenv, os.Stderr, func(fs *flag.FlagSet) {
		fs.Bool("once", true, "run one collection pass (always; accepted for the same command line as mimecast-qradar collect)")
		fs.StringVar(&statsFile, "stats", "", "write the pass's allocation and memory figures as JSON to this file")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the pass to this file")
		fs.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the pass to this file")
	})
	if err != nil {
		return err
	}
	log, closer, err := logging.New(cfg.StoreDir, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer closer.Close()
	slog.SetDefault(log)
	st, err := daemon.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	col, err := daemon.NewCollector(cfg, st, "bench", log, web.NewMimecastProxy(st), nil)
	if err != nil {
		return err
	}

	if memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start, cpu0 := time.Now(), processCPU()
	runErr := col.RunOnce(ctx)
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	runtime.ReadMemStats(&after)
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if runErr != nil {
		return fmt.Errorf("collection pass failed: %w", runErr)
	}
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	rss, err := bench.PeakRSS()
	if err != nil {
		return err
	}
	stats := collectStats{
		Elapsed:    elapsed,
		CPU:        cpu,
		Mallocs:    after.Mallocs - before.Mallocs,
		AllocBytes: after.TotalAlloc - before.TotalAlloc,
		NumGC:      after.NumGC - before.NumGC,
		PeakRSS:    rss,
		PeakHeap:   after.HeapSys,
	}
	if statsFile == "" {
		return json.NewEncoder(os.Stdout).Encode(stats)
	}
	b, err := json.Marshal(stats)
	if err != nil {
		return err
	}
	return os.WriteFile(statsFile, b, 0o644)
}
