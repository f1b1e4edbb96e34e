//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mimecast-qradar/app/internal/bench"
	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/syslogrecv"
)

// Targets of issue #8 (design §9), for a 2-core machine.
const (
	targetEventsPerSec = 150_000
	targetPeakRSS      = 64 << 20
	targetFloorRatio   = 2.0
)

// maxHealthEvents bounds the messages a pass may send besides one per
// record: its collector_health events (one per stream run).
const maxHealthEvents = 16

type runOptions struct {
	bin      string
	records  []int
	perFile  int
	apis     []string
	runs     int
	accounts int
	work     string
	profile  string
	keep     bool
}

// measurement is one collection pass and the floor pass run next to it.
type measurement struct {
	records  int // backlog size
	accounts int // accounts collecting it at once
	api      string
	run      int
	wall     time.Duration // collect process, start to exit
	cpu      time.Duration // its user + system time
	peakRSS  int64         // its peak resident set, bytes
	received int64         // syslog messages received (events + health)
	leef     int64         // syslog message bytes received
	floor    bench.FloorResult
	floorCPU time.Duration // CPU time of this process during the floor
}

func (m measurement) events() int           { return m.records * m.accounts }
func (m measurement) eventsPerSec() float64 { return float64(m.events()) / m.wall.Seconds() }
func (m measurement) floorSeconds() float64 { return m.floor.Elapsed.Seconds() * float64(m.accounts) }
func (m measurement) ratio() float64        { return m.wall.Seconds() / m.floorSeconds() }
func (m measurement) cpuRatio() float64 {
	return m.cpu.Seconds() / (m.floorCPU.Seconds() * float64(m.accounts))
}
func (m measurement) jsonBytes() float64 { return float64(m.floor.Bytes) * float64(m.accounts) }

func run(ctx context.Context, args []string) error {
	var o runOptions
	var records, apis string
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "", "the mimecast-qradar binary to measure (required)")
	fs.StringVar(&records, "records", "1M", "backlog sizes, comma-separated (e.g. 100k,1M,3M)")
	fs.IntVar(&o.perFile, "records-per-file", 5000, "records per SIEM file")
	fs.StringVar(&apis, "api", "2.0,1.0", "API versions to measure, comma-separated")
	fs.IntVar(&o.runs, "runs", 2, "measured passes per backlog size and API version")
	fs.IntVar(&o.accounts, "accounts", 1, "accounts collecting the backlog at once (the collector runs up to 4 at once)")
	fs.StringVar(&o.work, "work", "", "working directory (default: a temporary one, removed at the end)")
	fs.StringVar(&o.profile, "profile", "", "write CPU and allocation profiles of the linked pass to this directory")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (stores, logs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.bin == "" {
		return errors.New("--bin is required")
	}
	var err error
	if o.records, err = parseCounts(records); err != nil {
		return err
	}
	for _, a := range strings.Split(apis, ",") {
		a = strings.TrimSpace(a)
		if a != model.APIVersion1 && a != model.APIVersion2 {
			return fmt.Errorf("--api: %q is not 1.0 or 2.0", a)
		}
		o.apis = append(o.apis, a)
	}
	if o.runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	if o.accounts < 1 {
		return errors.New("--accounts must be at least 1")
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "mqbench-*"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(o.work)
		}
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "working directory (kept): %s\n", o.work)
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}

	rcv, err := syslogrecv.Listen("127.0.0.1:0", syslogrecv.Options{Discard: true})
	if err != nil {
		return err
	}
	defer rcv.Close()

	printHeader(o)
	var all []measurement
	var allocs []allocRow
	for _, n := range o.records {
		ms, as, err := measureBacklog(ctx, o, n, rcv)
		all = append(all, ms...)
		allocs = append(allocs, as...)
		if err != nil {
			return err
		}
	}
	printAllocs(allocs)
	printSummary(all)
	return nil
}

// parseCounts reads "100k,1M,3000000".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"), strings.HasSuffix(f, "K"):
			mult, f = 1000, f[:len(f)-1]
		case strings.HasSuffix(f, "M"), strings.HasSuffix(f, "m"):
			mult, f = 1_000_000, f[:len(f)-1]
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--records: %q is not a positive count", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

// allocRow is the linked pass of one backlog size and API version.
type allocRow struct {
	records  int
	accounts int
	api      string
	stats    collectStats
}

// measureBacklog serves a backlog of n records from a simulator process and
// measures every API version on it.
func measureBacklog(ctx context.Context, o runOptions, n int, rcv *syslogrecv.Receiver) ([]measurement, []allocRow, error) {
	simLog := filepath.Join(o.work, fmt.Sprintf("simulator-%d.log", n))
	fmt.Fprintf(os.Stderr, "starting the simulator with %d records ...\n", n)
	sim, err := startSimulator(ctx, o.bin, n, o.perFile, simLog)
	if err != nil {
		return nil, nil, err
	}
	defer sim.stop()
	fmt.Fprintf(os.Stderr, "simulator ready at %s after %s\n", sim.baseURL, sim.ready.Round(time.Second))

	var ms []measurement
	var as []allocRow
	for _, api := range o.apis {
		for i := 1; i <= o.runs; i++ {
			m, err := measureOnce(ctx, o, sim.baseURL, api, n, i, rcv)
			if err != nil {
				return ms, as, err
			}
			printRow(m)
			ms = append(ms, m)
		}
		st, err := linkedPass(ctx, o, sim.baseURL, api, n, rcv)
		if err != nil {
			return ms, as, err
		}
		as = append(as, allocRow{records: n, accounts: o.accounts, api: api, stats: st})
	}
	return ms, as, nil
}

// measureOnce runs the floor, then one `collect --once` pass into the
// listener with a fresh store.
func measureOnce(ctx context.Context, o runOptions, baseURL, api string, n, i int, rcv *syslogrecv.Receiver) (measurement, error) {
	m := measurement{records: n, accounts: o.accounts, api: api, run: i}
	var err error
	cpu0 := processCPU()
	m.floor, err = floor(ctx, baseURL, api)
	m.floorCPU = processCPU() - cpu0
	if err != nil {
		return m, err
	}
	if api == model.APIVersion2 && m.floor.Records != int64(n) {
		return m, fmt.Errorf("the floor read %d records, the simulator holds %d", m.floor.Records, n)
	}

	dir := filepath.Join(o.work, fmt.Sprintf("store-%d-%s-%d", n, api, i))
	if err := prepareStore(ctx, dir, baseURL, api, o.accounts); err != nil {
		return m, err
	}
	rcv.Reset()
	cmd := exec.CommandContext(ctx, o.bin, collectArgs(dir, rcv, baseURL)...)
	cmd.Env = collectEnv()
	out, err := os.Create(filepath.Join(dir, "collect.out"))
	if err != nil {
		return m, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	m.wall = time.Since(start)
	if err != nil {
		return m, fmt.Errorf("mimecast-qradar collect --once (%d records, API %s): %w; see %s", n, api, err, out.Name())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return m, errors.New("no resource usage for the collect process")
	}
	m.peakRSS = ru.Maxrss << 10 // kilobytes on Linux
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if m.received, m.leef, err = drained(ctx, rcv, m.events(), m.accounts); err != nil {
		return m, err
	}
	return m, nil
}

// prepareStore creates a store with k accounts collecting the backlog.
func prepareStore(ctx context.Context, dir, baseURL, api string, k int) error {
	accounts := make([]*model.Account, k)
	for i := range accounts {
		a := bench.SimAccount(baseURL, api, i+1)
		accounts[i] = &a
	}
	return bench.PrepareStore(ctx, dir, accounts...)
}

// processCPU returns the user and system time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// linkedPass runs the same pass in `mqbench collect` for its allocation
// figures (and profiles).
func linkedPass(ctx context.Context, o runOptions, baseURL, api string, n int, rcv *syslogrecv.Receiver) (collectStats, error) {
	var st collectStats
	self, err := os.Executable()
	if err != nil {
		return st, err
	}
	dir := filepath.Join(o.work, fmt.Sprintf("store-%d-%s-linked", n, api))
	if err := prepareStore(ctx, dir, baseURL, api, o.accounts); err != nil {
		return st, err
	}
	statsFile := filepath.Join(dir, "stats.json")
	args := append([]string{"collect"}, collectArgs(dir, rcv, baseURL)[1:]...)
	args = append(args, "--stats", statsFile)
	if o.profile != "" {
		base := filepath.Join(o.profile, fmt.Sprintf("collect-%d-api%s", n, api))
		args = append(args, "--cpuprofile", base+".cpu.pprof", "--memprofile", base+".allocs.pprof")
	}
	rcv.Reset()
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = collectEnv()
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return st, fmt.Errorf("mqbench collect (%d records, API %s): %w: %s", n, api, err, stderr.String())
	}
	if _, _, err := drained(ctx, rcv, n*o.accounts, o.accounts); err != nil {
		return st, err
	}
	b, err := os.ReadFile(statsFile)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func collectArgs(store string, rcv *syslogrecv.Receiver, baseURL string) []string {
	return []string{"collect", "--once", "--store", store, "--syslog", rcv.Target(), "--allow-base-url", baseURL,
		"--listen", "127.0.0.1:0"}
}

// collectEnv is the environment without the variables that would point the
// pass elsewhere (the flags win for most, but QRADAR_APP_UUID would change
// the sealing key the store was prepared with). GOGC and GOMEMLIMIT pass
// through.
func collectEnv() []string {
	drop := map[string]bool{"QRADAR_APP_UUID": true, "STORE_DIR": true, "SYSLOG_TARGET": true, "APP_ROOT": true,
		"MIMECAST_EXTRA_BASE_URLS": true, "QRADAR_CONSOLE_IP": true, "QRADAR_CONSOLE_FQDN": true,
		"QRADAR_API_URL": true, "LISTEN_ADDR": true, "LOG_LEVEL": true}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// drained waits until the collector's connections were read to the end and
// checks that each of the n events arrived once (plus the health events of
// the accounts).
func drained(ctx context.Context, rcv *syslogrecv.Receiver, n, accounts int) (count, bytes int64, err error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := rcv.WaitIdle(wctx); err != nil {
		return 0, 0, err
	}
	count, bytes = rcv.Count(), rcv.Bytes()
	if errs := rcv.Errors(); len(errs) > 0 {
		return count, bytes, fmt.Errorf("the syslog listener saw errors: %v", errs)
	}
	if count < int64(n) || count > int64(n)+maxHealthEvents*int64(accounts) {
		return count, bytes, fmt.Errorf("the listener received %d messages for %d records: events were lost or sent twice", count, n)
	}
	return count, bytes, nil
}

func floor(ctx context.Context, baseURL, api string) (bench.FloorResult, error) {
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer hc.CloseIdleConnections()
	if api == model.APIVersion1 {
		return bench.FloorV1(ctx, hc, baseURL, bench.V1Keys{AppID: mimecastsim.DemoAppID, AppKey: mimecastsim.DemoAppKey,
			AccessKey: mimecastsim.DemoAccessKey, SecretKey: mimecastsim.DemoSecretKey})
	}
	return bench.FloorV2(ctx, hc, baseURL, mimecastsim.DemoClientID, mimecastsim.DemoClientSecret, time.Now().Add(-24*time.Hour))
}

// simulator is a running `mimecast-qradar simulate` process.
type simulator struct {
	cmd     *exec.Cmd
	baseURL string
	ready   time.Duration
	done    chan struct{}
}

// startSimulator starts the simulator with a backlog of n SIEM records (and
// none of the other streams) and waits until it listens.
func startSimulator(ctx context.Context, bin string, n, perFile int, logFile string) (*simulator, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "simulate", "--records", strconv.Itoa(n), "--records-per-file", strconv.Itoa(perFile),
		"--logs", "0", "--listen", "127.0.0.1:0")
	cmd.Stderr = lf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting the simulator: %w", err)
	}
	s := &simulator{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer lf.Close()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(lf, line)
			if u, ok := strings.CutPrefix(line, "Mimecast simulator listening on "); ok {
				found <- strings.TrimSpace(u)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s.baseURL = <-found:
		s.ready = time.Since(start)
		return s, nil
	case <-s.done:
		cmd.Wait()
		return nil, fmt.Errorf("the simulator exited before listening; see %s", logFile)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

func (s *simulator) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	t := time.AfterFunc(10*time.Second, func() { s.cmd.Process.Kill() })
	defer t.Stop()
	<-s.done
	s.cmd.Wait()
}

func printHeader(o runOptions) {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Printf("mimecast-qradar end-to-end benchmark: %d CPUs (%s), %s, load average %s\n", runtime.NumCPU(), cpu, runtime.Version(), loadAverage())
	fmt.Printf("GOGC=%s GOMEMLIMIT=%s; %d records per SIEM file; %d account(s) collecting the backlog at once; %d measured passes each\n",
		envOrUnset("GOGC"), envOrUnset("GOMEMLIMIT"), o.perFile, o.accounts, o.runs)
	fmt.Println("events/s and MB/s: events and decompressed JSON bytes over the wall time of the collect process (start to exit);")
	fmt.Println("floor: the same files downloaded, decompressed and split into lines going nowhere, one account's worth per account;")
	fmt.Println("ratio: collect wall time / floor wall time; CPU ratio: collect CPU time / floor CPU time (robust to other load).")
	fmt.Println()
	fmt.Println("| backlog | API | pass | events/s | JSON MB/s | LEEF MB/s | wall s | CPU s | peak RSS MiB | floor s | floor CPU s | ratio | CPU ratio |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func envOrUnset(k string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return "unset"
}

func printRow(m measurement) {
	wall := m.wall.Seconds()
	fmt.Printf("| %s | %s | %d | %.0f | %.1f | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f |\n",
		backlog(m.records, m.accounts), m.api, m.run, m.eventsPerSec(), m.jsonBytes()/wall/1e6, float64(m.leef)/wall/1e6,
		wall, m.cpu.Seconds(), float64(m.peakRSS)/(1<<20), m.floorSeconds(), m.floorCPU.Seconds()*float64(m.accounts),
		m.ratio(), m.cpuRatio())
}

// backlog names a backlog size, times the accounts collecting it.
func backlog(n, accounts int) string {
	s := count(n)
	if accounts > 1 {
		s = fmt.Sprintf("%d x %s", accounts, s)
	}
	return s
}

func count(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func printAllocs(rows []allocRow) {
	fmt.Println()
	fmt.Println("Allocations: the same pass in `mqbench collect`, which links the same collector and counts them:")
	fmt.Println()
	fmt.Println("| backlog | API | allocs/event | bytes allocated/event | GC cycles | wall s | CPU s | peak RSS MiB |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		n := float64(r.records * r.accounts)
		fmt.Printf("| %s | %s | %.2f | %.0f | %d | %.2f | %.2f | %.1f |\n", backlog(r.records, r.accounts), r.api,
			float64(r.stats.Mallocs)/n, float64(r.stats.AllocBytes)/n, r.stats.NumGC,
			r.stats.Elapsed.Seconds(), r.stats.CPU.Seconds(), float64(r.stats.PeakRSS)/(1<<20))
	}
}

// group is the passes of one backlog size and API version.
type group struct {
	records int
	api     string
	passes  []measurement
}

func groups(all []measurement) []*group {
	var out []*group
	for _, m := range all {
		if len(out) == 0 || out[len(out)-1].records != m.records || out[len(out)-1].api != m.api {
			out = append(out, &group{records: m.records, api: m.api})
		}
		g := out[len(out)-1]
		g.passes = append(g.passes, m)
	}
	return out
}

// best returns the group's fastest collect pass, its fastest floor pass
// and its highest peak RSS: on a shared machine the fastest time is the
// one least disturbed by other work, and memory is judged at its worst.
func (g *group) best() (collect, floor measurement, rss int64) {
	collect, floor = g.passes[0], g.passes[0]
	for _, m := range g.passes {
		if m.wall < collect.wall {
			collect = m
		}
		if m.floor.Elapsed < floor.floor.Elapsed {
			floor = m
		}
		rss = max(rss, m.peakRSS)
	}
	return collect, floor, rss
}

// printSummary gives, per backlog size and API version, the best of the
// passes, the time per million events (linear growth shows as a flat
// figure) and whether the targets are met.
func printSummary(all []measurement) {
	fmt.Println()
	fmt.Println("Summary, best pass of each row group (fastest collect, fastest floor, highest peak RSS):")
	fmt.Println()
	fmt.Println("| backlog | API | events/s | s per 1M events | peak RSS MiB | ratio to floor | CPU ratio | targets |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---|")
	var missed []string
	for _, g := range groups(all) {
		c, f, rss := g.best()
		ratio := c.wall.Seconds() / f.floorSeconds()
		var miss []string
		if c.eventsPerSec() < targetEventsPerSec {
			miss = append(miss, fmt.Sprintf("below %d events/s", targetEventsPerSec))
		}
		if rss >= targetPeakRSS {
			miss = append(miss, fmt.Sprintf("peak RSS not under %d MiB", targetPeakRSS>>20))
		}
		// The floor ratio is judged on API 2.0: the 1.0 floor inflates a
		// zip of one JSON document and has no lines to split.
		if g.api == model.APIVersion2 && ratio > targetFloorRatio {
			miss = append(miss, fmt.Sprintf("more than %.1f x the floor", targetFloorRatio))
		}
		verdict := "met"
		if len(miss) > 0 {
			verdict = "NOT MET: " + strings.Join(miss, ", ")
			missed = append(missed, fmt.Sprintf("%s API %s: %s", backlog(g.records, c.accounts), g.api, strings.Join(miss, ", ")))
		}
		fmt.Printf("| %s | %s | %.0f | %.2f | %.1f | %.2f | %.2f | %s |\n", backlog(g.records, c.accounts), g.api,
			c.eventsPerSec(), c.wall.Seconds()*1e6/float64(c.events()), float64(rss)/(1<<20), ratio, c.cpuRatio(), verdict)
	}
	fmt.Println()
	fmt.Printf("Targets (2 cores): >= %d events/s, peak RSS < %d MiB, API 2.0 time <= %.1f x the floor. Load average now %s.\n",
		targetEventsPerSec, targetPeakRSS>>20, targetFloorRatio, loadAverage())
	if len(missed) == 0 {
		fmt.Println("All targets met.")
		return
	}
	fmt.Println("Targets not met:")
	for _, m := range missed {
		fmt.Println("- " + m)
	}
}
