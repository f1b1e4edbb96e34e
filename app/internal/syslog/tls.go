package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// tlsConfig trusts the system roots, the CAs in bundle and the certificate
// files in certDir. Go caches the system pool and ignores
// REQUESTS_CA_BUNDLE, so both extra sources are read here on every Dial.
func tlsConfig(serverName, bundle, certDir string, log *slog.Logger) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if bundle != "" {
		pem, err := os.ReadFile(bundle)
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading CA bundle %s: no PEM certificates in it", bundle)
		}
	}
	if certDir != "" {
		entries, err := os.ReadDir(certDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading certificate directory: %w", err)
		}
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.IsDir() || (ext != ".pem" && ext != ".crt" && ext != ".cer") {
				continue
			}
			path := filepath.Join(certDir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("reading certificate: %w", err)
			}
			if pool.AppendCertsFromPEM(data) {
				continue
			}
			cert, err := x509.ParseCertificate(data) // a DER .cer file
			if err != nil {
				log.Warn("ignoring a file that holds no certificate", "path", path)
				continue
			}
			pool.AddCert(cert)
		}
	}
	return &tls.Config{ServerName: serverName, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
