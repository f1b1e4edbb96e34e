package syslog

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Framing is how messages are delimited on a TCP or TLS stream.
type Framing int

const (
	// FramingLF ends each message with LF, QRadar's default.
	FramingLF Framing = iota
	// FramingOctet prefixes each message with its length (RFC 6587
	// octet counting), chosen with ?framing=octet.
	FramingOctet
)

// Schemes of a target.
const (
	SchemeTCP  = "tcp"
	SchemeTLS  = "tls"
	SchemeUDP  = "udp"
	SchemeFile = "file"
)

// Default ports when a network target names none.
const (
	DefaultPort    = 514  // tcp and udp
	DefaultTLSPort = 6514 // QRadar's TLS Syslog default
)

// Limits of ?maxlen=: RFC 5426 requires receivers to take 480 bytes.
const (
	MinMaxLen = 480
	MaxMaxLen = 1 << 20
)

// Target is a parsed syslog target.
type Target struct {
	Scheme  string  // SchemeTCP, SchemeTLS, SchemeUDP or SchemeFile
	Host    string  // network targets: host name or IP address
	Port    int     // network targets
	Path    string  // file targets: absolute, cleaned
	Framing Framing // tcp and tls only
	MaxLen  int     // from ?maxlen=; 0 when not given
}

// Address returns host:port of a network target.
func (t Target) Address() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String returns the target in the form ParseTarget reads.
func (t Target) String() string {
	var b strings.Builder
	b.WriteString(t.Scheme + "://")
	if t.Scheme == SchemeFile {
		b.WriteString(t.Path)
	} else {
		b.WriteString(t.Address())
	}
	sep := "?"
	if t.Framing == FramingOctet {
		b.WriteString(sep + "framing=octet")
		sep = "&"
	}
	if t.MaxLen > 0 {
		b.WriteString(sep + "maxlen=" + strconv.Itoa(t.MaxLen))
	}
	return b.String()
}

// ParseTarget validates a syslog target: tcp://host[:port],
// tls://host[:port], udp://host[:port] or file:///absolute/path, with the
// options framing=lf|octet (tcp and tls) and maxlen=<bytes>. The errors are
// written for the panel.
func ParseTarget(target string) (Target, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return Target{}, errors.New("syslog target is empty: use tcp://host:514, tls://host:6514, udp://host:514 or file:///path/events.leef")
	}
	u, err := url.Parse(target)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return Target{}, fmt.Errorf("syslog target %q is not valid: %v", target, err)
	}
	if u.Scheme == "" || u.Opaque != "" {
		return Target{}, fmt.Errorf("syslog target %q is not a URL such as tcp://host:514, tls://host:6514, udp://host:514 or file:///path/events.leef", target)
	}
	t := Target{Scheme: strings.ToLower(u.Scheme)}
	switch t.Scheme {
	case SchemeTCP, SchemeTLS, SchemeUDP:
		if u.User != nil {
			return Target{}, fmt.Errorf("syslog target %s must not contain a user name or password", u.Redacted())
		}
		if u.Path != "" && u.Path != "/" {
			return Target{}, fmt.Errorf("syslog target %s must not have a path: use %s://host:port", target, t.Scheme)
		}
		if t.Host = u.Hostname(); t.Host == "" {
			return Target{}, fmt.Errorf("syslog target %s has no host name", target)
		}
		t.Port = DefaultPort
		if t.Scheme == SchemeTLS {
			t.Port = DefaultTLSPort
		}
		if p := u.Port(); p != "" {
			if t.Port, err = strconv.Atoi(p); err != nil || t.Port < 1 || t.Port > 65535 {
				return Target{}, fmt.Errorf("syslog target %s: port must be a number from 1 to 65535", target)
			}
		} else if strings.HasSuffix(u.Host, ":") {
			return Target{}, fmt.Errorf("syslog target %s: port is empty", target)
		}
	case SchemeFile:
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return Target{}, fmt.Errorf("syslog target %s: a file target needs an absolute path, e.g. file:///opt/app-root/store/events.leef (three slashes)", target)
		}
		t.Path = filepath.Clean(u.Path)
	default:
		return Target{}, fmt.Errorf("syslog target scheme %q is not supported: use tcp, tls, udp or file", u.Scheme)
	}
	if u.Fragment != "" {
		return Target{}, fmt.Errorf("syslog target %s must not have a #fragment", target)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Target{}, fmt.Errorf("syslog target %s: malformed options: %v", target, err)
	}
	for key, values := range query {
		v := values[len(values)-1]
		switch key {
		case "framing":
			if t.Scheme != SchemeTCP && t.Scheme != SchemeTLS {
				return Target{}, fmt.Errorf("syslog target %s: framing applies to tcp and tls targets only", target)
			}
			switch strings.ToLower(v) {
			case "lf":
				t.Framing = FramingLF
			case "octet":
				t.Framing = FramingOctet
			default:
				return Target{}, fmt.Errorf("syslog target %s: framing must be lf or octet", target)
			}
		case "maxlen":
			if t.MaxLen, err = strconv.Atoi(v); err != nil || t.MaxLen < MinMaxLen || t.MaxLen > MaxMaxLen {
				return Target{}, fmt.Errorf("syslog target %s: maxlen must be a number of bytes from %d to %d", target, MinMaxLen, MaxMaxLen)
			}
		default:
			return Target{}, fmt.Errorf("syslog target %s: unknown option %q (known: framing, maxlen)", target, key)
		}
	}
	return t, nil
}
