package syslog

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// testOptions keep reconnection short so failing cases end quickly; the
// timeout is generous because nothing in the tests waits for it on success,
// and a loaded machine must not fail a handshake.
var testOptions = Options{Timeout: 20 * time.Second, ReconnectTimeout: 300 * time.Millisecond}

// event returns a recognisable test message of about size bytes.
func event(batch string, i, size int) string {
	head := fmt.Sprintf("<14>1 2024-05-01T10:00:00.000Z mimecast-acme LEEF:2.0|Mimecast|Email Security|1.0|receipt|x09|batch=%s\tn=%d\tpad=", batch, i)
	return head + strings.Repeat("x", max(size-len(head), 0))
}

func events(batch string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = event(batch, i, size)
	}
	return out
}

func writeAll(t *testing.T, s *Sender, msgs []string) {
	t.Helper()
	for _, m := range msgs {
		if err := s.Write([]byte(m)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
}

func dial(t *testing.T, target string, opts Options) *Sender {
	t.Helper()
	s, err := Dial(context.Background(), target, opts)
	if err != nil {
		t.Fatalf("Dial(%s): %v", target, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestParseTarget(t *testing.T) {
	valid := []struct {
		in   string
		want Target
	}{
		{"tcp://qradar.example.com:514", Target{Scheme: "tcp", Host: "qradar.example.com", Port: 514}},
		{"tcp://192.0.2.1", Target{Scheme: "tcp", Host: "192.0.2.1", Port: 514}},
		{"TCP://[2001:db8::1]:1514?framing=octet", Target{Scheme: "tcp", Host: "2001:db8::1", Port: 1514, Framing: FramingOctet}},
		{"tls://qradar:6514?framing=lf&maxlen=8192", Target{Scheme: "tls", Host: "qradar", Port: 6514, MaxLen: 8192}},
		{"tls://qradar", Target{Scheme: "tls", Host: "qradar", Port: 6514}},
		{"udp://10.0.0.1:514/", Target{Scheme: "udp", Host: "10.0.0.1", Port: 514}},
		{"udp://10.0.0.1?maxlen=2048", Target{Scheme: "udp", Host: "10.0.0.1", Port: 514, MaxLen: 2048}},
		{" file:///opt/app-root/store/../store/events.leef ", Target{Scheme: "file", Path: "/opt/app-root/store/events.leef"}},
	}
	for _, tc := range valid {
		got, err := ParseTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if again, err := ParseTarget(got.String()); err != nil || again != got {
			t.Errorf("ParseTarget(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
		}
	}
	invalid := []struct{ in, mention string }{
		{"", "empty"},
		{"qradar:514", "not a URL"},
		{"http://qradar:514", "not supported"},
		{"tcp://:514", "no host"},
		{"tcp://qradar:0", "port"},
		{"tcp://qradar:70000", "port"},
		{"tcp://qradar:abc", "port"},
		{"tcp://qradar:", "port"},
		{"tcp://user:secret@qradar:514", "user name"},
		{"tcp://qradar:514/path", "path"},
		{"udp://qradar:514?framing=octet", "tcp and tls"},
		{"tcp://qradar:514?framing=rfc", "lf or octet"},
		{"tcp://qradar:514?maxlen=100", "maxlen"},
		{"tcp://qradar:514?timeout=5", "unknown option"},
		{"file://relative/events.leef", "absolute path"},
		{"file:events.leef", "not a URL"},
		{"tcp://qradar:514#x", "fragment"},
	}
	for _, tc := range invalid {
		_, err := ParseTarget(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseTarget(%q) error = %v, want one mentioning %q", tc.in, err, tc.mention)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseTarget(%q) error reveals the password: %v", tc.in, err)
		}
	}
}

func TestSender_TCPDeliversFlushedMessagesInOrder(t *testing.T) {
	for _, framing := range []struct {
		name  string
		query string
		f     Framing
	}{{"LF", "", FramingLF}, {"octet counting", "?framing=octet", FramingOctet}} {
		t.Run(framing.name, func(t *testing.T) {
			r := startReceiver(t, "127.0.0.1:0", framing.f, nil)
			s := dial(t, "tcp://"+r.addr()+framing.query, testOptions)
			// Enough to pass the write threshold several times.
			msgs := events("a", 3000, 300)
			msgs[7] = "line one\nline two"
			writeAll(t, s, msgs)
			if err := s.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			got := r.waitFor(len(msgs))
			if framing.f == FramingLF {
				msgs[7] = "line one line two" // an LF would split the message
			}
			if !slices.Equal(got, msgs) {
				t.Errorf("received %d messages differing from the %d sent", len(got), len(msgs))
			}
		})
	}
}

func TestSender_ReconnectsAfterListenerRestartWithoutLosingFlushedEvents(t *testing.T) {
	r1 := startReceiver(t, "127.0.0.1:0", FramingLF, nil)
	addr := r1.addr()
	s := dial(t, "tcp://"+addr, testOptions)

	first := events("first", 100, 200)
	writeAll(t, s, first)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush before the restart: %v", err)
	}
	r1.waitFor(len(first))
	r1.stop()
	r2 := startReceiver(t, addr, FramingLF, nil)

	// Large enough that Write itself sends, before Flush.
	second := events("second", 1000, 200)
	writeAll(t, s, second)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after the restart: %v", err)
	}
	if got := r1.messages(); !slices.Equal(got, first) {
		t.Errorf("first receiver got %d messages, want the %d of the first batch", len(got), len(first))
	}
	if got := r2.waitFor(len(second)); !slices.Equal(got, second) {
		t.Errorf("restarted receiver got %d messages, want the %d of the second batch", len(got), len(second))
	}
}

func TestSender_FlushFailsWhileTheReceiverIsGoneAndTheRetrySucceeds(t *testing.T) {
	r1 := startReceiver(t, "127.0.0.1:0", FramingLF, nil)
	addr := r1.addr()
	s := dial(t, "tcp://"+addr, testOptions)
	writeAll(t, s, events("first", 10, 100))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	r1.waitFor(10)
	r1.stop()

	batch := events("second", 50, 100)
	for _, m := range batch {
		if err := s.Write([]byte(m)); err != nil {
			break // an early error is allowed; Flush must report it
		}
	}
	err := s.Flush()
	if err == nil {
		t.Fatal("Flush succeeded with no receiver")
	}
	if !strings.Contains(err.Error(), "not delivered") {
		t.Errorf("Flush error %q does not say the messages were not delivered", err)
	}

	// The caller re-sends from its checkpoint once the receiver is back.
	r2 := startReceiver(t, addr, FramingLF, nil)
	writeAll(t, s, batch)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after the receiver came back: %v", err)
	}
	if got := r2.waitFor(len(batch)); !slices.Equal(got, batch) {
		t.Errorf("receiver got %d messages, want the %d re-sent", len(got), len(batch))
	}
}

func TestSender_FlushFailsWhenTheReceiverClosedAfterDataWasSent(t *testing.T) {
	r := startReceiver(t, "127.0.0.1:0", FramingLF, nil)
	s := dial(t, "tcp://"+r.addr(), testOptions)
	// More than the write threshold: Write sends part of it already.
	msgs := events("a", 400, 300)
	writeAll(t, s, msgs)
	// Let the write in flight finish before looking at the connection.
	if err := s.wait(); err != nil {
		t.Fatalf("write before Flush: %v", err)
	}
	if !s.wrote {
		t.Fatal("nothing was sent before Flush; the test needs more data")
	}
	r.wait("a connection", func(_ []string, conns int) bool { return conns == 1 })
	r.closeConns()
	// Wait until this side has seen the close, as it would before a later
	// Flush in production.
	for deadline := time.Now().Add(10 * time.Second); peek(s.raw) != peerClosed; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the close never reached the sender")
		}
	}
	if err := s.Flush(); err == nil || !strings.Contains(err.Error(), "not delivered") {
		t.Fatalf("Flush = %v, want an error saying the messages sent to the closed connection were not delivered", err)
	}
	// The next batch goes over a new connection.
	writeAll(t, s, []string{"after"})
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush on a new connection: %v", err)
	}
	r.wait("the message after reconnecting", func(m []string, _ int) bool { return slices.Contains(m, "after") })
}

func TestSender_DialReportsARefusingTargetAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), "tcp://"+addr, testOptions); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("Dial to a closed port: %v", err)
	}
}

func TestSender_ReconnectStopsWhenTheContextIsCancelled(t *testing.T) {
	r := startReceiver(t, "127.0.0.1:0", FramingLF, nil)
	ctx, cancel := context.WithCancel(context.Background())
	opts := testOptions
	opts.ReconnectTimeout = time.Minute
	s, err := Dial(ctx, "tcp://"+r.addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.stop()
	cancel()
	writeAll(t, s, []string{"m"})
	if err := s.Flush(); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush = %v, want context.Canceled", err)
	}
}

func TestSender_CutsLongMessagesKeepingTheStart(t *testing.T) {
	r := startReceiver(t, "127.0.0.1:0", FramingLF, nil)
	s := dial(t, "tcp://"+r.addr()+"?maxlen=600", testOptions)
	if s.MaxMessageSize() != 600 {
		t.Fatalf("MaxMessageSize = %d, want 600", s.MaxMessageSize())
	}
	long := event("a", 1, 200) + strings.Repeat("é", 1000)
	marked := event("b", 1, 200) + "\tmcTruncated=true\t" + strings.Repeat("z", 1000)
	exact := event("c", 1, 600)
	writeAll(t, s, []string{long, marked, exact})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got := r.waitFor(3)
	if len(got[0]) > 600 || !strings.HasSuffix(got[0], "\tmcTruncated=true") || !strings.HasPrefix(long, strings.TrimSuffix(got[0], "\tmcTruncated=true")) || !utf8.ValidString(got[0]) {
		t.Errorf("cut message (%d bytes) = %q…", len(got[0]), got[0][:min(len(got[0]), 120)])
	}
	if len(got[1]) != 600 || strings.Count(got[1], "mcTruncated=true") != 1 {
		t.Errorf("an already marked message was marked again or not cut to 600: %d bytes", len(got[1]))
	}
	if got[2] != exact {
		t.Errorf("a message of exactly the maximum was changed")
	}
}

func TestSender_MaxMessageSizeDefaults(t *testing.T) {
	r := startReceiver(t, "127.0.0.1:0", FramingLF, nil)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	dir := t.TempDir()
	cases := []struct {
		target string
		opts   Options
		want   int
	}{
		{"tcp://" + r.addr(), Options{}, DefaultMaxSize},
		{"udp://" + udp.LocalAddr().String(), Options{}, DefaultUDPMaxSize},
		{"file://" + filepath.Join(dir, "a.leef"), Options{}, DefaultMaxSize},
		{"tcp://" + r.addr(), Options{MaxMessageSize: 8192}, 8192},
		{"udp://" + udp.LocalAddr().String() + "?maxlen=4000", Options{MaxMessageSize: 8192}, 4000},
	}
	for _, tc := range cases {
		s := dial(t, tc.target, tc.opts)
		if got := s.MaxMessageSize(); got != tc.want {
			t.Errorf("%s with %+v: MaxMessageSize = %d, want %d", tc.target, tc.opts, got, tc.want)
		}
	}
}

func TestSender_UDPSendsOneDatagramPerMessage(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := dial(t, "udp://"+pc.LocalAddr().String(), testOptions)
	msgs := []string{event("a", 1, 100), event("a", 2, 3000), event("a", 3, 1024)}
	writeAll(t, s, msgs)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for i, want := range msgs {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reading datagram %d: %v", i, err)
		}
		got := string(buf[:n])
		switch {
		case len(want) <= DefaultUDPMaxSize && got != want:
			t.Errorf("datagram %d = %q, want %q", i, got, want)
		case len(want) > DefaultUDPMaxSize && (n > DefaultUDPMaxSize || !strings.HasSuffix(got, "\tmcTruncated=true") || !strings.HasPrefix(want, strings.TrimSuffix(got, "\tmcTruncated=true"))):
			t.Errorf("datagram %d (%d bytes) was not cut to %d with the header kept and marked", i, n, DefaultUDPMaxSize)
		}
	}
}

func TestSender_UDPReportsARefusingPort(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	s := dial(t, "udp://"+addr, testOptions)
	// The refusal (ICMP port unreachable) surfaces on a later send.
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		werr = s.Write([]byte("m"))
	}
	if werr == nil {
		t.Fatal("no Write reported the refused port")
	}
	if err := s.Flush(); err == nil {
		t.Error("Flush succeeded after a failed send")
	}
}

func TestSender_FileSendersShareOneFileWithoutInterleaving(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store", "events.leef")
	const senders, perSender = 4, 1500
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Go(func() {
			s, err := Dial(context.Background(), "file://"+path, Options{})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for i := range perSender {
				// Sizes vary so buffers fill at different moments.
				if err := s.Write([]byte(event(fmt.Sprint(g), i, 50+(i*37)%3000))); err != nil {
					errs <- err
					return
				}
				if i%100 == 99 {
					if err := s.Flush(); err != nil {
						errs <- err
						return
					}
				}
			}
			if err := s.Flush(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var batch string
		var n int
		if _, err := fmt.Sscanf(line[strings.Index(line, "batch="):], "batch=%s", &batch); err != nil {
			t.Fatalf("malformed line %.80q", line)
		}
		fields := strings.Split(line, "\t")
		fmt.Sscanf(fields[len(fields)-2], "n=%d", &n)
		if want := event(batch, n, 50+(n*37)%3000); line != want {
			t.Fatalf("line for sender %s message %d is not whole: %d bytes, want %d", batch, n, len(line), len(want))
		}
		if seen[line] {
			t.Fatalf("line written twice: sender %s message %d", batch, n)
		}
		seen[line] = true
	}
	if len(seen) != senders*perSender {
		t.Errorf("file holds %d messages, want %d", len(seen), senders*perSender)
	}
	openFiles.Lock()
	defer openFiles.Unlock()
	if len(openFiles.m) != 0 {
		t.Errorf("%d files still open after every sender closed", len(openFiles.m))
	}
}

func TestSender_WriteAndFlushAfterCloseFail(t *testing.T) {
	s, err := Dial(context.Background(), "file://"+filepath.Join(t.TempDir(), "e.leef"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]byte("m")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Write([]byte("m")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	if err := s.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
	data, err := os.ReadFile(s.target.Path)
	if err != nil || string(data) != "m\n" {
		t.Errorf("Close did not flush: %q, %v", data, err)
	}
}

// testPKI is a throwaway CA and a server certificate for 127.0.0.1 it signed.
type testPKI struct {
	caPEM  []byte
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "qradar"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

func TestSender_TLSTrustsTheCABundleAndTheCertDirectory(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca-bundle.pem")
	if err := os.WriteFile(bundle, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certDir, "qradar.crt"), pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certDir, "notes.txt"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startReceiver(t, "127.0.0.1:0", FramingLF, &tls.Config{Certificates: []tls.Certificate{pki.server}})
	target := "tls://" + r.addr()

	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"CA bundle (REQUESTS_CA_BUNDLE)", Options{CABundle: bundle}},
		{"certificate directory", Options{CertDir: certDir, CABundle: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Timeout, opts.ReconnectTimeout = testOptions.Timeout, testOptions.ReconnectTimeout
			s := dial(t, target, opts)
			msgs := events(tc.name, 500, 300)
			writeAll(t, s, msgs)
			if err := s.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			// A second batch after the server's session tickets arrived.
			more := events(tc.name+" more", 5, 100)
			writeAll(t, s, more)
			if err := s.Flush(); err != nil {
				t.Fatalf("second Flush: %v", err)
			}
			r.wait("both batches", func(m []string, _ int) bool {
				return slices.Contains(m, msgs[len(msgs)-1]) && slices.Contains(m, more[len(more)-1])
			})
		})
	}

	if _, err := Dial(context.Background(), target, testOptions); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Dial without the test CA = %v, want a certificate error", err)
	}
	if _, err := Dial(context.Background(), target, Options{CABundle: filepath.Join(dir, "missing.pem")}); err == nil || !strings.Contains(err.Error(), "CA bundle") {
		t.Errorf("Dial with a missing CA bundle = %v", err)
	}
	if _, err := Dial(context.Background(), target, Options{CABundle: filepath.Join(certDir, "notes.txt")}); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Errorf("Dial with a CA bundle holding no certificate = %v", err)
	}
}
