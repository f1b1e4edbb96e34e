package qradar

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"mimecast-qradar/app/internal/qradarsim"
)

func (h *harness) client(opts ...func(*ClientOptions)) *Client {
	h.t.Helper()
	o := ClientOptions{BaseURL: h.srv.URL, Token: h.getToken, CABundle: h.bundle}
	for _, f := range opts {
		f(&o)
	}
	c, err := NewClient(o)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(c.Close)
	return c
}

func versions(list ...string) []qradarsim.APIVersion {
	var out []qradarsim.APIVersion
	for i, v := range list {
		removed := strings.HasSuffix(v, "!")
		out = append(out, qradarsim.APIVersion{ID: i + 1, Version: strings.TrimSuffix(v, "!"), Removed: removed})
	}
	return out
}

func TestClient_ChoosesNewestNotRemovedVersionCappedAtTested(t *testing.T) {
	tests := []struct {
		name    string
		offered []qradarsim.APIVersion
		want    string
		wantErr bool
	}{
		{"newer than tested is capped", qradarsim.DefaultVersions(), MaxTestedVersion, false},
		{"older console", versions("14.0", "15.0", "16.0"), "16.0", false},
		{"removed versions are skipped", versions("24.0", "25.0", "26.0!"), "25.0", false},
		{"minor versions", versions("12.0", "12.1", "13.0!"), "12.1", false},
		{"nothing supported", versions("10.0", "11.0", "27.0"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, qradarsim.Options{Versions: tt.offered})
			c := h.client()
			got, err := c.DiscoverVersion(context.Background())
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("DiscoverVersion = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			// The chosen version is accepted by the console.
			if err := c.Get(context.Background(), pathCollectors, nil, nil); err != nil {
				t.Fatalf("call with Version %s: %v", got, err)
			}
			reqs := h.sim.Requests()
			if reqs[0].Path != "/api/help/versions" || reqs[0].Version != "" || reqs[1].Version != tt.want {
				t.Errorf("requests %+v", reqs)
			}
		})
	}
}

func TestClient_PagesWithRangeUntilContentRangeTotal(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	c := h.client(func(o *ClientOptions) { o.PageSize = 5 })
	cats, err := listAll[qCategory](context.Background(), c, pathCategories, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cats) != 16 {
		t.Fatalf("got %d categories, want all 16", len(cats))
	}
	var ranges []string
	for _, r := range h.sim.Requests() {
		if strings.HasSuffix(r.Path, "low_level_categories") {
			ranges = append(ranges, r.Range)
		}
	}
	want := []string{"items=0-4", "items=5-9", "items=10-14", "items=15-19"}
	if strings.Join(ranges, " ") != strings.Join(want, " ") {
		t.Errorf("Range headers %v, want %v", ranges, want)
	}
}

func TestClient_EncodesFilterOnceWithPercent20(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	c := h.client()
	got, err := findByName(context.Background(), c, pathTypes, FallbackTypeName, func(t qType) string { return t.Name })
	if err != nil || got == nil || got.ID != qradarsim.UniversalLEEFTypeID {
		t.Fatalf("findByName = %+v, %v", got, err)
	}
	last := h.sim.Requests()[len(h.sim.Requests())-1]
	if want := "filter=name%3D%22Universal%20LEEF%22"; last.Query != want {
		t.Errorf("query %q, want %q", last.Query, want)
	}
}

func TestClient_MapsQRadarErrorsToTypedErrors(t *testing.T) {
	tests := []struct {
		status   int
		code     int
		sentinel error
	}{
		{401, 11, ErrUnauthorized},
		{403, 1000, ErrForbidden},
		{404, 1050, ErrNotFound},
		{409, 1002, ErrConflict},
		{422, 1005, ErrUnprocessable},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			h := newHarness(t, qradarsim.Options{})
			h.sim.AddFault(qradarsim.Fault{Path: "/api/" + pathLogSources, Status: tt.status, Code: tt.code, Message: "explained by the console"})
			err := h.client().Post(context.Background(), pathLogSources, nil, map[string]any{"name": "x"}, nil)
			var ae *APIError
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &ae) {
				t.Fatalf("error %v, want %v as *APIError", err, tt.sentinel)
			}
			if ae.Status != tt.status || ae.Code != tt.code || CodeOf(err) != tt.code || ae.Text() != "explained by the console" {
				t.Errorf("APIError %+v", ae)
			}
			for _, other := range tests {
				if other.sentinel != tt.sentinel && errors.Is(err, other.sentinel) {
					t.Errorf("also matches %v", other.sentinel)
				}
			}
		})
	}
}

func TestClient_ReadsTheTokenOnEveryAttemptAndSendsNoneWhenMissing(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	c := h.client()
	ctx := context.Background()
	if _, err := c.DiscoverVersion(ctx); err != nil {
		t.Fatal(err)
	}
	h.setToken("")
	if err := c.Get(ctx, pathCollectors, nil, nil); !errors.Is(err, ErrNoToken) {
		t.Fatalf("without a token: %v, want ErrNoToken", err)
	}
	h.setToken("a-new-token")
	h.sim.SetToken("a-new-token")
	if err := c.Get(ctx, pathCollectors, nil, nil); err != nil {
		t.Fatalf("with the new token: %v", err)
	}
	var secs []string
	for _, r := range h.sim.Requests() {
		secs = append(secs, r.SEC)
	}
	if strings.Join(secs, ",") != testToken+",a-new-token" {
		t.Errorf("SEC headers %v: want the old token, nothing, then the new one", secs)
	}
}

func TestClient_TrustsOnlySystemRootsAndTheBundle(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	c := h.client(func(o *ClientOptions) { o.CABundle = "" })
	if _, err := c.DiscoverVersion(context.Background()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("without the bundle: %v, want ErrUntrusted", err)
	}
	if _, err := NewClient(ClientOptions{BaseURL: h.srv.URL, CABundle: h.bundle + ".missing"}); err == nil {
		t.Error("a missing bundle file was accepted")
	}
}

// connectProxy is an HTTP CONNECT proxy that counts tunnels.
func connectProxy(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var tunnels atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		tunnels.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() {
			defer up.Close()
			defer conn.Close()
			go func() { _, _ = io.Copy(up, bufio.NewReader(buf)) }()
			_, _ = io.Copy(conn, up)
		}()
	}))
	t.Cleanup(srv.Close)
	return srv, &tunnels
}

func TestClient_UsesOnlyQRadarRESTProxy(t *testing.T) {
	h := newHarness(t, qradarsim.Options{})
	// The environment's https_proxy is QRadar's Auto Update proxy. Go never
	// proxies loopback addresses, so the test checks the transport itself:
	// without QRADAR_REST_PROXY it has no proxy function at all.
	t.Setenv("HTTPS_PROXY", "http://auto-update-proxy.invalid:3128")
	if tr := h.client().hc.Transport.(*http.Transport); tr.Proxy != nil {
		t.Fatal("the console client consults a proxy without QRADAR_REST_PROXY")
	}
	restProxy, tunnels := connectProxy(t)
	c := h.client(func(o *ClientOptions) { o.Proxy = restProxy.URL })
	if _, err := c.DiscoverVersion(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tunnels.Load() != 1 {
		t.Errorf("QRADAR_REST_PROXY carried %d tunnels, want 1", tunnels.Load())
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in          string
		last, total int
		ok          bool
	}{
		{"items 0-49/120", 49, 120, true},
		{"items 100-119/120", 119, 120, true},
		{"items */0", 0, 0, true},
		{"", 0, 0, false},
		{"bytes 0-1/2", 0, 0, false},
	}
	for _, tt := range tests {
		last, total, ok := parseContentRange(tt.in)
		if last != tt.last || total != tt.total || ok != tt.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tt.in, last, total, ok)
		}
	}
}
