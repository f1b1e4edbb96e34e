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

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	target, err := s.SyslogTarget(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, settingsJSON{SyslogTarget: target, SyslogTargetDefault: s.opts.DefaultSyslogTarget})
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

// putSettings changes the syslog target. An empty target goes back to the
// default.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	members, ok := decodeObject(w, r, false)
	if !ok {
		return
	}
	target, present, err := syslogTargetInput(members)
	switch {
	case err != nil:
		writeFieldErrors(w, fieldErrors{"syslog_target": err.Error()})
		return
	case !present:
		writeFieldErrors(w, fieldErrors{"syslog_target": "is required (an empty string restores the default)"})
		return
	}
	if target != "" {
		if err := s.validateSyslogTarget(target); err != nil {
			writeFieldErrors(w, fieldErrors{"syslog_target": err.Error()})
			return
		}
	}
	if err := s.store.SetSetting(r.Context(), SettingSyslogTarget, target); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("syslog target changed", "syslog_target", redactTarget(target))
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
