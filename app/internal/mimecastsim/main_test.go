package mimecastsim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

func TestLive_KeepsAddingTrafficUntilCancelled(t *testing.T) {
	sim := mimecastsim.New(mimecastsim.Options{Seed: 3, LiveSIEMRecords: 20, LiveLogRecords: 1})
	sim.AddAccount(mimecastsim.DemoAccount())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		sim.Live(ctx, mimecastsim.DemoAccountName, time.Millisecond)
		close(done)
	}()
	// Wait (without a deadline of our own) for three ticks' worth.
	for sim.Delivered(mimecastsim.DemoAccountName, model.StreamDLP) < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	siem := sim.Delivered(mimecastsim.DemoAccountName, model.StreamSIEM)
	ticks := sim.Delivered(mimecastsim.DemoAccountName, model.StreamDLP)
	if siem != 20*ticks {
		t.Errorf("%d SIEM records after %d ticks, want 20 per tick", siem, ticks)
	}
	for _, s := range []model.Stream{model.StreamAudit, model.StreamTTPURL, model.StreamTTPAttachment, model.StreamTTPImpersonation} {
		if n := sim.Delivered(mimecastsim.DemoAccountName, s); n != ticks {
			t.Errorf("%s: %d records after %d ticks, want 1 per tick", s, n, ticks)
		}
	}
	after := sim.Delivered(mimecastsim.DemoAccountName, model.StreamSIEM)
	if after != siem {
		t.Errorf("records still added after Live returned")
	}
}

// syncWriter lets the test read Main's output line by line.
type lineWriter struct{ lines chan string }

func (w *lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.lines <- l
	}
	return len(p), nil
}

func TestMain_ServesTheDemoAccountOverTCP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{lines: make(chan string, 100)}
	errc := make(chan error, 1)
	go func() {
		errc <- mimecastsim.Main(ctx, []string{"--listen", "127.0.0.1:0", "--records", "300", "--records-per-file", "100", "--logs", "7", "--seed", "9",
			"--ci-records", "50", "--awareness-users", "4"}, out)
	}()
	var base string
	var printed []string
	for base == "" {
		select {
		case l := <-out.lines:
			printed = append(printed, l)
			if m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(l); m != nil {
				base = m[1]
			}
		case err := <-errc:
			t.Fatalf("Main returned early: %v", err)
		}
	}
	for len(printed) < 4 {
		printed = append(printed, <-out.lines)
	}
	text := strings.Join(printed, "\n")
	for _, want := range []string{mimecastsim.DemoClientID, mimecastsim.DemoClientSecret, mimecastsim.DemoAppID, mimecastsim.DemoAccessKey, mimecastsim.DemoSecretKey, "300 SIEM records",
		"50 Cloud Integrated SIEM records", "7 records per log stream and threat intel feed"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	form := url.Values{"client_id": {mimecastsim.DemoClientID}, "client_secret": {mimecastsim.DemoClientSecret}, "grant_type": {"client_credentials"}}
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, base+"/siem/v1/batch/events/cg?pageSize=100", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page batchPage
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Value) < 10 || !strings.HasPrefix(page.Value[0].URL, base+"/storage/") {
		t.Errorf("batch page %+v, want the backlog's files under %s", page, base)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Main after cancel: %v", err)
	}
}

func TestMain_ReadsAccountsAndRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "accounts.json")
	os.WriteFile(good, []byte(`[{"name":"Tenant A","client_id":"a","client_secret":"b"},{"name":"Tenant B","app_id":"c","app_key":"d","access_key":"e","secret_key":"ZmZm"}]`), 0o600)
	noName := filepath.Join(dir, "noname.json")
	os.WriteFile(noName, []byte(`[{"client_id":"a"}]`), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- mimecastsim.Main(ctx, []string{"--listen", "127.0.0.1:0", "--records", "10", "--logs", "1", "--accounts", good}, w)
		w.Close()
	}()
	sc := bufio.NewScanner(r)
	var text []string
	for sc.Scan() {
		text = append(text, sc.Text())
		if strings.Contains(sc.Text(), "app_id=c") {
			break
		}
	}
	cancel()
	go io.Copy(io.Discard, r)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(text, "\n")
	if !strings.Contains(joined, `"Tenant A"`) || !strings.Contains(joined, "client_id=a") || strings.Contains(joined, mimecastsim.DemoClientID) {
		t.Errorf("output does not list the file's accounts:\n%s", joined)
	}

	for _, args := range [][]string{
		{"--accounts", filepath.Join(dir, "missing.json")},
		{"--accounts", noName},
		{"--no-such-flag"},
		{"extra-argument"},
		{"--listen", "256.0.0.1:0", "--records", "0", "--logs", "0"},
	} {
		if err := mimecastsim.Main(context.Background(), args, io.Discard); err == nil {
			t.Errorf("Main(%v) succeeded, want an error", args)
		}
	}
}
