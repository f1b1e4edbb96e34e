package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mimecast-qradar/app/internal/config"
	"mimecast-qradar/app/internal/logging"
)

func testConfig(t *testing.T, storeDir string) config.Config {
	t.Helper()
	cfg, err := config.Parse("serve", []string{"--listen", "127.0.0.1:0", "--store", storeDir}, func(string) string { return "" }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startServe runs Serve in the background and returns its address and a
// function that stops it and returns Serve's error.
func startServe(t *testing.T, cfg config.Config) (string, func() error) {
	t.Helper()
	log, closer, err := logging.New(cfg.StoreDir, slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, "test", log, Hooks{Ready: func(a string) { addr <- a }}) }()
	select {
	case a := <-addr:
		return a, func() error { cancel(); err := <-done; closer.Close(); return err }
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not become ready")
	}
	return "", nil
}

func TestServe_StartsOnEmptyStoreAndRestartsOnExistingOne(t *testing.T) {
	// Not t.TempDir: lumberjack's background mill goroutine (started when
	// app.log is reopened) may still be reading the log directory after
	// Serve returned, and TempDir's cleanup fails the test on that race.
	base, err := os.MkdirTemp("", "serve-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "store")
	for round := range 2 {
		addr, stop := startServe(t, testConfig(t, dir))
		resp, err := http.Get("http://" + addr + "/debug")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: /debug = %d", round, resp.StatusCode)
		}
		if err := stop(); err != nil {
			t.Fatalf("round %d: Serve: %v", round, err)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "log", "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(log), `"msg":"started"`) != 2 || strings.Count(string(log), `"msg":"stopped"`) != 2 {
		t.Fatalf("app.log does not show two clean start/stop cycles:\n%s", log)
	}
}

func TestEarlyHandler_DebugBeforeReady(t *testing.T) {
	h := earlyHandler(new(atomic.Pointer[http.Handler]))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "Pong!" {
		t.Fatalf("/debug before ready = %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/accounts", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("/api before ready = %d %q", rec.Code, rec.Body.String())
	}
}

// TestBinary_StopsOnSIGTERM builds the real binary and checks that it exits
// cleanly and promptly when QRadar's supervisor sends SIGTERM.
func TestBinary_StopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "mimecast-qradar")
	build := exec.Command("go", "build", "-o", bin, "mimecast-qradar/app/cmd/mimecast-qradar")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	store := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--store", store)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the log says it started, then stop it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(store, "log", "app.log"))
		if strings.Contains(string(b), `"msg":"started"`) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("binary did not start; log:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(ShutdownTimeout + 5*time.Second):
		cmd.Process.Kill()
		t.Fatal("binary did not stop after SIGTERM")
	}
}
