// Package bench measures the collector end to end (issue #8): the Mimecast
// simulator serves a SIEM backlog, the real collector runs one pass into a
// local TCP syslog listener, and the same files are also fetched by a
// "floor" that only downloads, decompresses and splits them, so the
// collector's time can be given as a multiple of the least any collector
// must spend.
//
// The package holds what the benchmark driver (cmd/mqbench, run by
// scripts/bench.sh) and the package's Go benchmarks share: preparing a
// store with the simulator's demo account, the floor, and reading a
// process's peak resident memory. BENCHMARKS.md has the figures.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
	"mimecast-qradar/app/internal/secrets"
	"mimecast-qradar/app/internal/store"
)

// SimAccount returns an account that collects the SIEM stream of the
// simulator's demo account at baseURL over apiVersion (model.APIVersion1 or
// model.APIVersion2). n numbers the account: accounts with different n
// have different names and log source identifiers and may share a store.
func SimAccount(baseURL, apiVersion string, n int) model.Account {
	a := model.Account{
		Name:                 fmt.Sprintf("Benchmark %d (API %s)", n, apiVersion),
		Enabled:              true,
		APIVersion:           apiVersion,
		BaseURL:              baseURL,
		Streams:              []model.Stream{model.StreamSIEM},
		Schedule:             "*/15 * * * *",
		LogSourceIdentifier:  fmt.Sprintf("mimecast-bench-%d", n),
		InitialLookbackHours: 24,
	}
	if apiVersion == model.APIVersion1 {
		a.AppID, a.AppKey = mimecastsim.DemoAppID, mimecastsim.DemoAppKey
		a.AccessKey, a.SecretKey = mimecastsim.DemoAccessKey, mimecastsim.DemoSecretKey
	} else {
		a.ClientID, a.ClientSecret = mimecastsim.DemoClientID, mimecastsim.DemoClientSecret
	}
	return a
}

// PrepareStore creates the store in dir (as `serve` and `collect` open it,
// with the sealing key file there and no QRADAR_APP_UUID) holding the
// accounts, so that `mimecast-qradar collect --once --store dir` collects
// them. It sets their IDs.
func PrepareStore(ctx context.Context, dir string, accounts ...*model.Account) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("preparing store: %w", err)
	}
	box, err := secrets.Open(dir, "")
	if err != nil {
		return fmt.Errorf("preparing store: opening secrets key: %w", err)
	}
	st, err := store.Open(ctx, dir, box)
	if err != nil {
		return fmt.Errorf("preparing store: %w", err)
	}
	for _, a := range accounts {
		if err := st.CreateAccount(ctx, a); err != nil {
			st.Close()
			return fmt.Errorf("preparing store: %w", err)
		}
	}
	return st.Close()
}

// PeakRSS returns the peak resident set size of this process (VmHWM in
// /proc/self/status), in bytes. It works on Linux only.
func PeakRSS() (int64, error) {
	return procStatusBytes("/proc/self/status", "VmHWM:")
}

// procStatusBytes reads one "Name:   123 kB" line of a /proc status file.
func procStatusBytes(path, field string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		num, unit, _ := bytes.Cut(bytes.TrimSpace(rest), []byte(" "))
		n, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || string(unit) != "kB" {
			return 0, fmt.Errorf("reading peak RSS: unexpected %s line %q", field, sc.Text())
		}
		return n << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	return 0, errors.New("reading peak RSS: no " + field + " line in " + path)
}
