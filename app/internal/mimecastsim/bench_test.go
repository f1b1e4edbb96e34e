package mimecastsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/mimecastsim"
	"mimecast-qradar/app/internal/model"
)

const benchRecords = 1_000_000

var (
	benchV2 = mimecastsim.Account{Name: "Bench2", ClientID: "bench-client", ClientSecret: "bench-secret"}
	benchV1 = mimecastsim.Account{Name: "Bench1", AppID: "bench-app", AppKey: "bench-key", AccessKey: "bench-access", SecretKey: "YmVuY2ggc2VjcmV0"}
)

// BenchmarkGenerateSIEM1M measures generating (and gzipping) a backlog of
// one million API 2.0 SIEM records in files of 5,000.
func BenchmarkGenerateSIEM1M(b *testing.B) {
	for b.Loop() {
		sim := mimecastsim.New(mimecastsim.Options{Seed: 1})
		sim.AddAccount(benchV2)
		sim.Generate(benchV2.Name, model.StreamSIEM, benchRecords)
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGenerateSIEMV1Zip1M is the same for an API 1.0 account, whose
// files are pre-rendered as json zips.
func BenchmarkGenerateSIEMV1Zip1M(b *testing.B) {
	for b.Loop() {
		sim := mimecastsim.New(mimecastsim.Options{Seed: 1})
		sim.AddAccount(benchV1)
		sim.Generate(benchV1.Name, model.StreamSIEM, benchRecords)
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkServeSIEMBatch1M measures serving the 1M-record backlog over
// loopback HTTP: batch pages plus every file download (bytes only).
func BenchmarkServeSIEMBatch1M(b *testing.B) {
	sim := mimecastsim.New(mimecastsim.Options{Seed: 1, URLTTL: time.Hour})
	sim.AddAccount(benchV2)
	sim.Generate(benchV2.Name, model.StreamSIEM, benchRecords)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	hc := srv.Client()
	resp, err := hc.PostForm(srv.URL+"/oauth/token", url.Values{"client_id": {benchV2.ClientID}, "client_secret": {benchV2.ClientSecret}, "grant_type": {"client_credentials"}})
	if err != nil {
		b.Fatal(err)
	}
	tok := strings.Split(strings.Split(string(mustRead(b, resp.Body)), `"access_token":"`)[1], `"`)[0]
	var bytes int64
	for b.Loop() {
		q := url.Values{"pageSize": {"100"}}
		for {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/siem/v1/batch/events/cg?"+q.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			page := parseBatch(b, mustRead(b, resp.Body))
			for _, u := range page.urls {
				resp, err := hc.Get(u)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("download: %v %v", err, resp.Status)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				bytes += n
			}
			if page.caughtUp {
				break
			}
			q = url.Values{"pageSize": {"100"}, "nextPage": {page.next}}
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

// BenchmarkServeSIEMV1Zip1M measures serving the 1M-record backlog as API
// 1.0 json zips, one get-siem-logs call per file.
func BenchmarkServeSIEMV1Zip1M(b *testing.B) {
	sim := mimecastsim.New(mimecastsim.Options{Seed: 1})
	sim.AddAccount(benchV1)
	sim.Generate(benchV1.Name, model.StreamSIEM, benchRecords)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	hc := srv.Client()
	var bytes int64
	for b.Loop() {
		token := ""
		for {
			body := `{"data":[{"type":"MTA","fileFormat":"json","compress":true`
			if token != "" {
				body += `,"token":"` + token + `"`
			}
			body += `}]}`
			date := time.Now().UTC().Format(time.RFC1123)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/audit/get-siem-logs", strings.NewReader(body))
			req.Header.Set("x-mc-date", date)
			req.Header.Set("x-mc-req-id", "bench")
			req.Header.Set("x-mc-app-id", benchV1.AppID)
			req.Header.Set("Authorization", "MC "+benchV1.AccessKey+":"+sign(benchV1.SecretKey, date, "bench", "/api/audit/get-siem-logs", benchV1.AppKey))
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				break
			}
			bytes += n
			token = resp.Header.Get("mc-siem-token")
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

func mustRead(b *testing.B, r io.ReadCloser) []byte {
	defer r.Close()
	body, err := io.ReadAll(r)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

type benchPage struct {
	urls     []string
	next     string
	caughtUp bool
}

func parseBatch(b *testing.B, body []byte) benchPage {
	var p batchPage
	if err := json.Unmarshal(body, &p); err != nil {
		b.Fatalf("batch page: %v", err)
	}
	out := benchPage{next: p.NextPage, caughtUp: p.IsCaughtUp}
	for _, v := range p.Value {
		out.urls = append(out.urls, v.URL)
	}
	return out
}
