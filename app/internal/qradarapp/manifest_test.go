package qradarapp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func readManifest(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "qradar_manifest", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateManifest_ShippedManifestPasses(t *testing.T) {
	if err := ValidateManifest(readManifest(t)); err != nil {
		t.Fatalf("shipped manifest fails the SDK rules:\n%v", err)
	}
}

func TestValidateManifest_ShippedManifestMeetsOurNeeds(t *testing.T) {
	var m struct {
		LoadFlask          string `json:"load_flask"`
		UseQRadarCSRF      string `json:"use_qradar_csrf"`
		ConfigurationPages []struct {
			Text                 string   `json:"text"`
			RequiredCapabilities []string `json:"required_capabilities"`
		} `json:"configuration_pages"`
		Services []struct {
			Port          int    `json:"port"`
			Command       string `json:"command"`
			StdoutLogfile string `json:"stdout_logfile"`
			StderrLogfile string `json:"stderr_logfile"`
		} `json:"services"`
		Resources struct {
			Memory int `json:"memory"`
		} `json:"resources"`
		EnvironmentVariables []struct{ Name, Value string } `json:"environment_variables"`
	}
	if err := json.Unmarshal(readManifest(t), &m); err != nil {
		t.Fatal(err)
	}
	if m.LoadFlask != "false" || m.UseQRadarCSRF != "true" {
		t.Errorf("load_flask/use_qradar_csrf = %q/%q", m.LoadFlask, m.UseQRadarCSRF)
	}
	if len(m.ConfigurationPages) != 1 || m.ConfigurationPages[0].Text != "Mimecast API Configuration" ||
		strings.Join(m.ConfigurationPages[0].RequiredCapabilities, ",") != "ADMIN" {
		t.Errorf("configuration_pages = %+v", m.ConfigurationPages)
	}
	if len(m.Services) != 1 || m.Services[0].Port != 5000 ||
		!strings.HasPrefix(m.Services[0].Command, "/opt/app-root/container/service/") ||
		!strings.HasPrefix(m.Services[0].StdoutLogfile, "/opt/app-root/store/log/") ||
		!strings.HasPrefix(m.Services[0].StderrLogfile, "/opt/app-root/store/log/") {
		t.Errorf("services = %+v", m.Services)
	}
	limit := -1
	for _, e := range m.EnvironmentVariables {
		if e.Name == "GOMEMLIMIT" {
			fmt.Sscanf(e.Value, "%dMiB", &limit)
		}
	}
	if limit <= 0 || limit >= m.Resources.Memory {
		t.Errorf("GOMEMLIMIT (%d MiB) must be set below resources.memory (%d MB)", limit, m.Resources.Memory)
	}
}

func TestValidateManifest_ReportsEachSDKRule(t *testing.T) {
	base := string(readManifest(t))
	tests := []struct {
		name, from, to, wantPath string
	}{
		{"JSON boolean instead of string", `"load_flask": "false"`, `"load_flask": false`, "load_flask"},
		{"duplicate key", `"version": "0.1.0",`, `"version": "0.1.0", "version": "0.1.1",`, "duplicate"},
		{"bad uuid", `"uuid": "1f7f430e-82cc-4d10-b6ef-04b26da1e20a"`, `"uuid": "not-a-uuid"`, "uuid"},
		{"version with space", `"version": "0.1.0"`, `"version": "0.1 beta"`, "version"},
		{"angle bracket in name", `"name": "Mimecast Log Collector"`, `"name": "<b>Mimecast</b>"`, "name"},
		{"no port 5000 without flask", `"port": 5000`, `"port": 5001`, "port 5000"},
		{"service name with space", `"name": "mimecastqradar"`, `"name": "mimecast qradar"`, "services[0].name"},
		{"bad stopsignal", `"stopsignal": "TERM"`, `"stopsignal": "SIGTERM"`, "stopsignal"},
		{"string where integer", `"stopwaitsecs": 20`, `"stopwaitsecs": "20"`, "stopwaitsecs"},
		{"empty env value", `"value": "64MiB"`, `"value": ""`, "environment_variables[0].value"},
		{"unsupported oauth flow", `"CLIENT_CREDENTIALS"`, `"AUTHORIZATION_CODE"`, "authorisation_flow"},
		{"bad capability", `"requested_capabilities": ["ADMIN"]`, `"requested_capabilities": ["ADMIN 1"]`, "requested_capabilities"},
		{"memory not integer", `"memory": 128`, `"memory": 12.5`, "resources.memory"},
		{"missing description", `"description": "Collects`, `"descr": "Collects`, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.from) {
				t.Fatalf("test setup: manifest lacks %q", tt.from)
			}
			err := ValidateManifest([]byte(strings.Replace(base, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.wantPath) {
				t.Fatalf("err = %v, want a problem at %q", err, tt.wantPath)
			}
		})
	}
}

func TestValidateManifest_UnknownRestMethodReference(t *testing.T) {
	m := `{"name":"a","description":"b","version":"1","uuid":"1f7f430e-82cc-4d10-b6ef-04b26da1e20a",
	  "load_flask":"true","dashboard_items":[{"text":"t","description":"d","rest_method":"missing"}],
	  "rest_methods":[{"name":"present","method":"GET","url":"/x"}]}`
	err := ValidateManifest([]byte(m))
	if err == nil || !strings.Contains(err.Error(), `dashboard_items[0].rest_method`) {
		t.Fatalf("err = %v", err)
	}
}
