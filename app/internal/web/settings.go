package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// syslogTestTimeout bounds sending one test event.
const syslogTestTimeout = 15 * time.Second

type settingsJSON struct {
	SyslogTarget        string `json:"syslog_target"`
	SyslogTargetDefault string `json:"syslog_target_default"`
}

// SyslogTarget returns the syslog target in effect: the one saved in the
// panel, else Options.DefaultSyslogTarget.
func (s *Server) SyslogTarget(ctx context.Context) (string, error) {
	v, _, err := s.store.Setting(ctx, SettingSyslogTarget)
	if err != nil {
		return "", err
	}
	if v == "" {
		v = s.opts.DefaultSyslogTarget
	}
	return v, nil
}

// settingsResponse is GET /api/settings: the syslog target and the proxy
// for Mimecast connections.
type settingsResponse struct {
	settingsJSON
	proxySettingsJSON
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	target, err := s.SyslogTarget(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	proxy, err := s.proxySettings(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, settingsResponse{
		settingsJSON:      settingsJSON{SyslogTarget: target, SyslogTargetDefault: s.opts.DefaultSyslogTarget},
		proxySettingsJSON: proxy,
	})
}

// syslogTargetInput reads {"syslog_target": "..."}; present is false when
// the member is missing or null.
func syslogTargetInput(members map[string]json.RawMessage) (target string, present bool, err error) {
	raw, ok := members["syslog_target"]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &target); err != nil {
		return "", true, errors.New("must be a string")
	}
	return strings.TrimSpace(target), true, nil
}

// putSettings changes the syslog target and/or the proxy for Mimecast
// connections; members left out are unchanged. An empty target goes back to
// the default; an empty proxy URL goes back to the environment's proxy.
// Nothing is saved unless every member is valid.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	members, ok := decodeObject(w, r, false)
	if !ok {
		return
	}
	fe := fieldErrors{}
	target, targetPresent, err := syslogTargetInput(members)
	if err != nil {
		fe.add("syslog_target", err.Error())
	} else if targetPresent && target != "" {
		if err := s.validateSyslogTarget(target); err != nil {
			fe.add("syslog_target", err.Error())
		}
	}
	proxyIn, proxyPresent := readProxyInput(members, fe)
	if !targetPresent && !proxyPresent && len(fe) == 0 {
		fe.add("syslog_target", "is required (an empty string restores the default)")
	}
	var plan proxyPlan
	if proxyPresent && len(fe) == 0 {
		if plan, err = s.planProxy(r.Context(), proxyIn, fe); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	if len(fe) > 0 {
		writeFieldErrors(w, fe)
		return
	}
	if targetPresent {
		if err := s.store.SetSetting(r.Context(), SettingSyslogTarget, target); err != nil {
			s.internalError(w, r, err)
			return
		}
		s.log.Info("syslog target changed", "syslog_target", redactTarget(target))
	}
	if proxyPresent {
		if err := s.applyProxy(r.Context(), plan); err != nil {
			s.internalError(w, r, err)
			return
		}
		s.log.Info("proxy for Mimecast changed", "proxy_url", plan.url, "proxy_user_set", plan.username != "")
	}
	s.getSettings(w, r)
}

// testSyslog sends one test event to the target in the body, if any, else
// to the target in effect.
func (s *Server) testSyslog(w http.ResponseWriter, r *http.Request) {
	members, ok := decodeObject(w, r, true)
	if !ok {
		return
	}
	target, present, err := syslogTargetInput(members)
	if err != nil {
		writeFieldErrors(w, fieldErrors{"syslog_target": err.Error()})
		return
	}
	if !present || target == "" {
		if target, err = s.SyslogTarget(r.Context()); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	if err := s.validateSyslogTarget(target); err != nil {
		writeFieldErrors(w, fieldErrors{"syslog_target": err.Error()})
		return
	}
	if s.opts.SendTestEvent == nil {
		writeError(w, http.StatusServiceUnavailable, "sending test events is not available in this build")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), syslogTestTimeout)
	defer cancel()
	if err := s.opts.SendTestEvent(ctx, target); err != nil {
		s.log.Warn("syslog test event failed", "syslog_target", redactTarget(target), "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf("the test event could not be sent to %s: %v", redactTarget(target), err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "syslog_target": target,
		"message": "test event sent to " + redactTarget(target)})
}

func (s *Server) validateSyslogTarget(target string) error {
	if s.opts.ValidateSyslogTarget != nil {
		return s.opts.ValidateSyslogTarget(target)
	}
	return basicSyslogTarget(target)
}

// basicSyslogTarget is the check used when the daemon supplies none:
// tcp://, tls:// or udp:// with host and port, or file:// with a path.
func basicSyslogTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return errors.New("must be a URL such as tcp://qradar.example.com:514")
	}
	switch u.Scheme {
	case "tcp", "tls", "udp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" {
			return errors.New("must name a host and port, e.g. " + u.Scheme + "://qradar.example.com:514")
		}
	case "file":
		if u.Path == "" {
			return errors.New("must name a file, e.g. file:///store/events.leef")
		}
	default:
		return errors.New("must start with tcp://, tls://, udp:// or file://")
	}
	return nil
}

// redactTarget drops any user information from a target before it is
// logged or shown.
func redactTarget(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.User == nil {
		return target
	}
	u.User = nil
	return u.String()
}
