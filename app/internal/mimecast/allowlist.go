package mimecast

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultBaseURL is the global API 2.0 host.
const DefaultBaseURL = "https://api.services.mimecast.com"

// DiscoveryBaseURL is the global API 1.0 host that answers
// discover-authentication.
const DiscoveryBaseURL = "https://api.mimecast.com"

// KnownHosts are the Mimecast API hosts of reference §1.4 (API 1.0 regions)
// and §6.1 (API 2.0), for the panel's region choice. Any https host under
// mimecast.com is accepted as well.
var KnownHosts = []string{
	"api.services.mimecast.com",
	"uk-api.services.mimecast.com",
	"us-api.services.mimecast.com",
	"eu-api.mimecast.com",
	"de-api.mimecast.com",
	"us-api.mimecast.com",
	"usb-api.mimecast.com",
	"ca-api.mimecast.com",
	"za-api.mimecast.com",
	"au-api.mimecast.com",
	"je-api.mimecast.com",
	"jer-api.mimecast.com",
	"uspcom-api.mimecast-pscom-us.com",
	"api.mimecast.com",
}

// NormalizeOrigin parses an exact origin "scheme://host[:port]" (http or
// https, no path, query or credentials) and returns it in canonical form:
// lower case, default port dropped.
func NormalizeOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("origin %q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("origin %q must start with http:// or https://", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("origin %q has no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("origin %q must be scheme://host[:port] only", raw)
	}
	return originOf(u), nil
}

// originOf returns the canonical origin of u.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// isMimecastHost reports whether host (lower case, no port) is an official
// Mimecast API host: any name under mimecast.com or one of KnownHosts.
func isMimecastHost(host string) bool {
	if strings.HasSuffix(host, ".mimecast.com") && len(host) > len(".mimecast.com") {
		return true
	}
	for _, h := range KnownHosts {
		if host == h {
			return true
		}
	}
	return false
}

// ValidateBaseURL checks that raw may be used as a Mimecast API base URL: an
// https URL of an official Mimecast host (§1.4, §6.1, any *.mimecast.com),
// or exactly one of extraOrigins (scheme://host[:port], for simulators and
// tests). The URL must not carry a path, query or credentials.
func ValidateBaseURL(raw string, extraOrigins []string) error {
	_, err := checkBaseURL(raw, extraOrigins)
	return err
}

// checkBaseURL validates raw like ValidateBaseURL and returns its origin.
func checkBaseURL(raw string, extraOrigins []string) (string, error) {
	if raw == "" {
		return "", errors.New("base URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", errors.New("base URL must be an absolute URL such as " + DefaultBaseURL)
	}
	if u.User != nil {
		return "", errors.New("base URL must not contain a user name or password")
	}
	if u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", errors.New("base URL must not have a path, query or fragment")
	}
	origin := originOf(u)
	for _, extra := range extraOrigins {
		if o, err := NormalizeOrigin(extra); err == nil && o == origin {
			return origin, nil
		}
	}
	if strings.ToLower(u.Scheme) != "https" {
		return "", errors.New("base URL must use https")
	}
	if p := u.Port(); p != "" && p != "443" {
		return "", errors.New("base URL must not name a port")
	}
	if !isMimecastHost(strings.ToLower(u.Hostname())) {
		return "", fmt.Errorf("base URL host %q is not a Mimecast API host", u.Hostname())
	}
	return origin, nil
}

// checkFileURL validates a pre-signed SIEM file URL: https to any host, or a
// URL under one of the allowed extra origins.
func checkFileURL(raw string, extraOrigins []string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("file URL is not an absolute URL")
	}
	if u.User != nil {
		return nil, errors.New("file URL must not contain credentials")
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && blockedAddr(ip) {
		return nil, fmt.Errorf("%w (%s)", errBlockedAddress, ip)
	}
	if strings.ToLower(u.Scheme) == "https" {
		return u, nil
	}
	origin := originOf(u)
	for _, extra := range extraOrigins {
		if o, err := NormalizeOrigin(extra); err == nil && o == origin {
			return u, nil
		}
	}
	return nil, fmt.Errorf("file URL %s is neither https nor under an allowed origin", redactURL(u))
}

// redactURL renders u without its query and fragment: pre-signed URLs carry
// their signature in the query, and it must not reach logs or errors.
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	c.RawFragment = ""
	c.User = nil
	return c.String()
}

// redactRawURL is redactURL for a string.
func redactRawURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return redactURL(u)
}

// blockedPrefixes are the address ranges never dialled: link-local (where
// cloud metadata services live) and well-known metadata addresses outside it.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS IMDS over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
}

// errBlockedAddress is returned by the dial guard.
var errBlockedAddress = errors.New("refusing to connect to a link-local or metadata address")

// blockedAddr reports whether ip must never be dialled.
func blockedAddr(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("") // a zoned address matches no prefix
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast()
}

// guardControl is a net.Dialer Control function refusing blocked addresses.
// It runs after name resolution, on the address actually dialled, so a
// host name that resolves to a metadata address is refused as well.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparseable address %q", errBlockedAddress, address)
	}
	if blockedAddr(ap.Addr()) {
		return fmt.Errorf("%w (%s)", errBlockedAddress, ap.Addr())
	}
	return nil
}

// NewHTTPClient returns the HTTP client the Mimecast client uses by default:
// proxy from the environment (HTTPS_PROXY, NO_PROXY), a dialer that refuses
// link-local and metadata addresses, and connection time-outs. Use it for
// DiscoverRegion too.
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{
		Timeout:   15 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   guardControl,
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}
}

// errRedirect is returned when a redirect to another host is refused.
var errRedirect = errors.New("refusing redirect to another host")

// sameHostRedirects follows at most 5 redirects, and only to the origin of
// the first request: pre-signed URLs and API calls have no business
// elsewhere, and following would hand the request to an unvetted host.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if originOf(req.URL) != originOf(via[0].URL) {
		return fmt.Errorf("%w (%s)", errRedirect, redactURL(req.URL))
	}
	return nil
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
