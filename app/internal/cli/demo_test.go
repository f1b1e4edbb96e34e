package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mimecast-qradar/app/internal/model"
)

// syncBuffer is an io.Writer safe to read while the demo writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo_DeliversEventsShowsHealthyAndStopsCleanly runs the demo command
// as a newcomer would (in-process, on a free port, in an empty directory):
// events must reach the file sink, every stream of the demo account must turn
// healthy, the panel must load, and the command must stop cleanly.
func TestDemo_DeliversEventsShowsHealthyAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	var stdout syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--store", store},
			Env{Stdout: &stdout, Stderr: &stdout, Getenv: func(string) string { return "" }, Version: "test"})
	}()

	urlRE := regexp.MustCompile(`Open the panel:\s+(http://\S+)`)
	var base string
	waitFor(t, 30*time.Second, "the demo to print its URL", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("demo exited early with %d:\n%s", code, stdout.String())
		default:
		}
		m := urlRE.FindStringSubmatch(stdout.String())
		if m != nil {
			base = strings.TrimRight(m[1], "/")
		}
		return m != nil
	})
	if !strings.Contains(stdout.String(), "file://"+store) {
		t.Fatalf("demo does not say where events go:\n%s", stdout.String())
	}

	waitFor(t, 90*time.Second, "every demo stream to succeed", func() bool {
		var st model.Status
		if err := getJSON(base+"/api/status", &st); err != nil || len(st.Accounts) != 1 {
			return false
		}
		streams := st.Accounts[0].Streams
		if len(streams) != len(model.SupportedStreams) {
			return false
		}
		for _, s := range streams {
			if s.LastSuccess == nil || s.State != model.StateIdle || s.LastError != "" {
				return false
			}
		}
		return true
	})

	events := countLines(t, filepath.Join(store, "events.leef"))
	if events < 1000 {
		t.Fatalf("the event file holds %d events, want the demo backlog", events)
	}

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Mimecast API Configuration") {
		t.Fatalf("panel: %d\n%.300s", resp.StatusCode, page)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("demo exit code %d:\n%s", code, stdout.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop within 20 s of its context being cancelled")
	}
	log, _ := os.ReadFile(filepath.Join(store, "log", "app.log"))
	if !strings.Contains(string(log), `"msg":"stopped"`) {
		t.Fatalf("app.log does not record a clean stop:\n%s", log)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
	}
	return n
}
