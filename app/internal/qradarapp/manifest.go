// Package qradarapp knows the QRadar App Framework's packaging rules: it
// checks a manifest.json the way the QRadar App SDK (qapp) does before QRadar
// will build the app (qradar-app-framework.md §2.1).
package qradarapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

var (
	uuidRE       = regexp.MustCompile(`^(urn:uuid:)?\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$`)
	capabilityRE = regexp.MustCompile(`^[a-zA-Z.]+$`)
	envNameRE    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// The SDK's service-name pattern excludes spaces and URL/shell specials.
	serviceNameRE = regexp.MustCompile(`^[^ ;/?@&=+$,'|():{}\[\]^<>]+$`)
)

// oneOfKeys: a manifest must have at least one of these (SDK schema anyOf).
var oneOfKeys = []string{"load_flask", "areas", "dashboard_items", "rest_methods", "configuration_pages",
	"gui_actions", "page_scripts", "metadata_providers", "fragments", "custom_columns", "services"}

var booleanStringKeys = []string{"load_flask", "use_qradar_csrf", "multitenancy_safe", "single_instance_only", "node_only"}

var (
	serviceBoolKeys = []string{"autostart", "redirect_stderr", "stdout_events_enabled", "stderr_events_enabled"}
	serviceStrKeys  = []string{"process_name", "umask", "exitcodes", "user", "environment", "serverurl", "stdout_logfile",
		"stdout_logfile_maxbytes", "stdout_capture_maxbytes", "stderr_logfile", "stderr_logfile_maxbytes",
		"stderr_capture_maxbytes", "command", "directory"}
	serviceIntKeys = []string{"numprocs", "priority", "startsecs", "startretries", "stopwaitsecs",
		"stdout_logfile_backups", "stderr_logfile_backups"}
	stopSignals = []string{"TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"}
)

// ValidateManifest checks a manifest.json and returns every problem found,
// each naming its JSON path.
func ValidateManifest(data []byte) error {
	if err := checkDuplicateKeys(data); err != nil {
		return err
	}
	v, err := jsontext.NewDecoder(bytes.NewReader(data)).ReadValue()
	if err != nil {
		return fmt.Errorf("manifest is not JSON: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		return fmt.Errorf("manifest is not a JSON object: %w", err)
	}
	c := &checker{}
	c.manifest(m)
	return errors.Join(c.errs...)
}

// checkDuplicateKeys fails on a repeated object key anywhere, as the SDK's
// parser does (jsontext rejects duplicate names by default).
func checkDuplicateKeys(data []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.ReadToken(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("manifest JSON: %w", err)
		}
	}
}

type checker struct{ errs []error }

func (c *checker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (c *checker) sanitized(path string, v any, required, allowEmpty bool) {
	if v == nil {
		if required {
			c.fail(path, "is required")
		}
		return
	}
	s, ok := v.(string)
	switch {
	case !ok:
		c.fail(path, "must be a string")
	case s == "" && !allowEmpty:
		c.fail(path, "must not be empty")
	case strings.ContainsAny(s, "<>"):
		c.fail(path, "must not contain < or >")
	}
}

func (c *checker) boolString(path string, v any) {
	if v == nil {
		return
	}
	if s, ok := v.(string); !ok || (s != "true" && s != "false") {
		c.fail(path, `must be the string "true" or "false" (not a JSON boolean)`)
	}
}

func (c *checker) integer(path string, v any, min, max float64) {
	if v == nil {
		return
	}
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) {
		c.fail(path, "must be an integer")
		return
	}
	if f < min || f > max {
		c.fail(path, "must be between %g and %g", min, max)
	}
}

func (c *checker) capabilities(path string, v any) {
	if v == nil {
		return
	}
	list, ok := v.([]any)
	if !ok {
		c.fail(path, "must be an array")
		return
	}
	for i, x := range list {
		if s, ok := x.(string); !ok || !capabilityRE.MatchString(s) {
			c.fail(fmt.Sprintf("%s[%d]", path, i), "must be a capability name (letters and dots)")
		}
	}
}

func objects(c *checker, path string, v any) []map[string]any {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		c.fail(path, "must be an array")
		return nil
	}
	var out []map[string]any
	for i, x := range list {
		o, ok := x.(map[string]any)
		if !ok {
			c.fail(fmt.Sprintf("%s[%d]", path, i), "must be an object")
			o = map[string]any{}
		}
		out = append(out, o)
	}
	return out
}

func (c *checker) manifest(m map[string]any) {
	c.sanitized("name", m["name"], true, false)
	c.sanitized("description", m["description"], true, false)
	if v, ok := m["version"].(string); !ok || v == "" || strings.ContainsAny(v, "<> ") {
		c.fail("version", "is required, non-empty, without <, > or spaces")
	}
	if u, ok := m["uuid"].(string); !ok || !uuidRE.MatchString(u) {
		c.fail("uuid", "is required and must be a UUID")
	}
	if v, ok := m["image"]; ok {
		if _, isStr := v.(string); !isStr {
			c.fail("image", "must be a string")
		}
	}
	for _, k := range booleanStringKeys {
		c.boolString(k, m[k])
	}
	hasOne := false
	for _, k := range oneOfKeys {
		if _, ok := m[k]; ok {
			hasOne = true
		}
	}
	if !hasOne {
		c.fail("(root)", "needs at least one of %s", strings.Join(oneOfKeys, ", "))
	}
	if r, ok := m["resources"]; ok {
		ro, isObj := r.(map[string]any)
		if !isObj {
			c.fail("resources", "must be an object")
		} else {
			c.integer("resources.memory", ro["memory"], 1, 1<<31)
		}
	}

	restNames := map[string]bool{}
	for i, rm := range objects(c, "rest_methods", m["rest_methods"]) {
		p := fmt.Sprintf("rest_methods[%d]", i)
		c.sanitized(p+".name", rm["name"], true, false)
		if n, ok := rm["name"].(string); ok {
			restNames[n] = true
		}
		switch rm["method"] {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH":
		default:
			c.fail(p+".method", "must be an HTTP method")
		}
		if u, ok := rm["url"].(string); !ok || len(u) < 2 || u[0] != '/' || strings.ContainsAny(u, "<>") {
			c.fail(p+".url", "must start with / and be at least 2 characters")
		}
		c.capabilities(p+".required_capabilities", rm["required_capabilities"])
	}
	// Every rest_method reference in any top-level array must name a rest_methods entry.
	for k, v := range m {
		list, ok := v.([]any)
		if !ok || k == "rest_methods" {
			continue
		}
		for i, x := range list {
			if o, ok := x.(map[string]any); ok {
				if ref, ok := o["rest_method"].(string); ok && !restNames[ref] {
					c.fail(fmt.Sprintf("%s[%d].rest_method", k, i), "names %q, which is not in rest_methods", ref)
				}
			}
		}
	}

	for i, page := range objects(c, "configuration_pages", m["configuration_pages"]) {
		p := fmt.Sprintf("configuration_pages[%d]", i)
		c.sanitized(p+".text", page["text"], true, false)
		c.sanitized(p+".description", page["description"], true, false)
		c.sanitized(p+".url", page["url"], true, false)
		if icon, ok := page["icon"]; ok && icon != nil {
			c.sanitized(p+".icon", icon, false, true)
		}
		c.capabilities(p+".required_capabilities", page["required_capabilities"])
	}
	for i, a := range objects(c, "areas", m["areas"]) {
		p := fmt.Sprintf("areas[%d]", i)
		for _, k := range []string{"id", "text", "url"} {
			c.sanitized(p+"."+k, a[k], true, false)
		}
		c.capabilities(p+".required_capabilities", a["required_capabilities"])
	}

	c.services(m)

	for i, e := range objects(c, "environment_variables", m["environment_variables"]) {
		p := fmt.Sprintf("environment_variables[%d]", i)
		if n, ok := e["name"].(string); !ok || !envNameRE.MatchString(n) {
			c.fail(p+".name", "must be an environment variable name")
		}
		c.sanitized(p+".value", e["value"], true, false)
	}

	if a, ok := m["authentication"]; ok {
		ao, _ := a.(map[string]any)
		o2, _ := ao["oauth2"].(map[string]any)
		if o2 == nil {
			c.fail("authentication.oauth2", "is required in authentication")
		} else {
			// The schema allows four flows, but QRadar installs only CLIENT_CREDENTIALS.
			if o2["authorisation_flow"] != "CLIENT_CREDENTIALS" {
				c.fail("authentication.oauth2.authorisation_flow", "must be CLIENT_CREDENTIALS")
			}
			caps, _ := o2["requested_capabilities"].([]any)
			if len(caps) == 0 {
				c.fail("authentication.oauth2.requested_capabilities", "needs at least one capability")
			}
			c.capabilities("authentication.oauth2.requested_capabilities", o2["requested_capabilities"])
		}
	}
}

func (c *checker) services(m map[string]any) {
	names, ports := map[string]bool{}, map[float64]bool{}
	has5000 := false
	for i, s := range objects(c, "services", m["services"]) {
		p := fmt.Sprintf("services[%d]", i)
		name, ok := s["name"].(string)
		if !ok || name == "" || !serviceNameRE.MatchString(name) {
			c.fail(p+".name", "is required and must not contain spaces or URL special characters")
		} else if names[name] {
			c.fail(p+".name", "%q is not unique", name)
		}
		names[name] = true
		c.sanitized(p+".version", s["version"], true, false)
		if port, ok := s["port"]; ok {
			c.integer(p+".port", port, 0, 65536)
			if f, ok := port.(float64); ok {
				if ports[f] {
					c.fail(p+".port", "%g is not unique", f)
				}
				ports[f] = true
				has5000 = has5000 || f == 5000
			}
		}
		for _, k := range serviceBoolKeys {
			c.boolString(p+"."+k, s[k])
		}
		if v, ok := s["autorestart"]; ok && v != "true" && v != "false" && v != "unexpected" {
			c.fail(p+".autorestart", `must be "true", "false" or "unexpected"`)
		}
		for _, k := range serviceStrKeys {
			if v, ok := s[k]; ok {
				if _, isStr := v.(string); !isStr {
					c.fail(p+"."+k, "must be a string")
				}
			}
		}
		for _, k := range serviceIntKeys {
			min := 0.0
			if k == "priority" {
				min = 1
			}
			c.integer(p+"."+k, s[k], min, 1<<31)
		}
		if v, ok := s["stopsignal"]; ok {
			sig, _ := v.(string)
			valid := false
			for _, x := range stopSignals {
				valid = valid || sig == x
			}
			if !valid {
				c.fail(p+".stopsignal", "must be one of %s", strings.Join(stopSignals, ", "))
			}
		}
	}
	// Without Flask, QRadar's /debug health check needs a service on port 5000.
	if m["load_flask"] != "true" && !has5000 {
		c.fail("services", "all apps must expose a /debug endpoint on port 5000: with load_flask not \"true\", a service needs port 5000")
	}
}
