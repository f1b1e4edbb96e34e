package syslogrecv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = "<134>1 2026-11-22T10:00:04.123Z mimecast-acme-eu mimecast-qradar - - - " +
	"LEEF:2.0|Mimecast|Email Security|1.2.3|receipt|x09|devTime=1700000000000\tcat=Acc\tmcStream=siem\tSubject=a=b c"

func TestParse_ReadsHeaderLEEFAndAttributes(t *testing.T) {
	m, err := Parse(sample)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if m.Priority != 134 || m.Version != 1 || m.Hostname != "mimecast-acme-eu" || m.AppName != "mimecast-qradar" ||
		m.ProcID != "" || m.MsgID != "" || m.StructuredData != "" {
		t.Errorf("header = %+v", m)
	}
	if want := time.Date(2026, 11, 22, 10, 0, 4, 123e6, time.UTC); !m.Timestamp.Equal(want) {
		t.Errorf("Timestamp = %v, want %v", m.Timestamp, want)
	}
	if m.LEEF == nil {
		t.Fatal("LEEF = nil")
	}
	l := *m.LEEF
	if l.Version != "2.0" || l.Vendor != "Mimecast" || l.Product != "Email Security" || l.ProductVersion != "1.2.3" ||
		l.EventID != "receipt" || l.Delimiter != '\t' {
		t.Errorf("LEEF header = %+v", l)
	}
	want := map[string]string{"devTime": "1700000000000", "cat": "Acc", "mcStream": "siem", "Subject": "a=b c"}
	if !reflect.DeepEqual(l.Attrs, want) {
		t.Errorf("Attrs = %v, want %v", l.Attrs, want)
	}
	if got := strings.Join(l.Keys, ","); got != "devTime,cat,mcStream,Subject" {
		t.Errorf("Keys = %s", got)
	}
	if m.Attr("cat") != "Acc" {
		t.Errorf(`Attr("cat") = %q`, m.Attr("cat"))
	}
}

func TestParse_Variants(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		wantErr  bool
		wantSD   string
		wantBody string
		wantLEEF bool
		delim    byte
		attrs    int
	}{
		{name: "structured data and plain body", raw: `<13>1 - host app 12 ID7 [ex@1 a="x\]y"][b@1 c="d"] hello`,
			wantSD: `[ex@1 a="x\]y"][b@1 c="d"]`, wantBody: "hello"},
		{name: "no body", raw: "<13>1 - host app - - -", wantBody: ""},
		{name: "BOM before LEEF", raw: "<13>1 - h a - - - \uFEFFLEEF:1.0|V|P|1|E|k=v\tk2=v2", wantBody: "LEEF:1.0|V|P|1|E|k=v\tk2=v2",
			wantLEEF: true, delim: '\t', attrs: 2},
		{name: "LEEF 2.0 without delimiter field", raw: "<13>1 - h a - - - LEEF:2.0|V|P|1|E|k=v\tk2=v2", wantBody: "LEEF:2.0|V|P|1|E|k=v\tk2=v2",
			wantLEEF: true, delim: '\t', attrs: 2},
		{name: "LEEF 2.0 with caret delimiter", raw: "<13>1 - h a - - - LEEF:2.0|V|P|1|E|^|k=v^k2=v2", wantBody: "LEEF:2.0|V|P|1|E|^|k=v^k2=v2",
			wantLEEF: true, delim: '^', attrs: 2},
		{name: "LEEF 2.0 with 0x7C", raw: "<13>1 - h a - - - LEEF:2.0|V|P|1|E|0x7C|k=v|k2=v2", wantBody: "LEEF:2.0|V|P|1|E|0x7C|k=v|k2=v2",
			wantLEEF: true, delim: '|', attrs: 2},
		{name: "missing PRI", raw: "1 - h a - - - x", wantErr: true},
		{name: "PRI too large", raw: "<192>1 - h a - - - x", wantErr: true},
		{name: "short header", raw: "<13>1 - h a", wantErr: true},
		{name: "bad timestamp", raw: "<13>1 yesterday h a - - - x", wantErr: true},
		{name: "bad LEEF attribute", raw: "<13>1 - h a - - - LEEF:2.0|V|P|1|E|x09|novalue", wantErr: true},
		{name: "unknown LEEF version", raw: "<13>1 - h a - - - LEEF:3.0|V|P|1|E|k=v", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, wantErr %v", tt.raw, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if m.StructuredData != tt.wantSD || m.Body != tt.wantBody {
				t.Errorf("SD, Body = %q, %q; want %q, %q", m.StructuredData, m.Body, tt.wantSD, tt.wantBody)
			}
			if (m.LEEF != nil) != tt.wantLEEF {
				t.Fatalf("LEEF = %v, want present %v", m.LEEF, tt.wantLEEF)
			}
			if m.LEEF != nil && (m.LEEF.Delimiter != tt.delim || len(m.LEEF.Attrs) != tt.attrs || m.LEEF.Attrs["k2"] != "v2") {
				t.Errorf("LEEF = %+v", *m.LEEF)
			}
		})
	}
}

func listen(t *testing.T, opts Options) *Receiver {
	t.Helper()
	r, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func send(t *testing.T, addr string, data string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, r *Receiver, n int) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := r.WaitFor(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func waitForError(t *testing.T, r *Receiver) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.Errors()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no framing error reported")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReceiver_AcceptsLineAndOctetCountedFraming(t *testing.T) {
	msg2 := "<13>1 - h a - - - LEEF:2.0|V|P|1|two|x09|k=line\nbreak"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{name: "LF", data: sample + "\n" + "<13>1 - h a - - - two\n", want: []string{sample, "<13>1 - h a - - - two"}},
		{name: "CRLF", data: sample + "\r\n", want: []string{sample}},
		{name: "octet counted, LF inside a message", data: fmt.Sprintf("%d %s%d %s", len(sample), sample, len(msg2), msg2),
			want: []string{sample, msg2}},
		{name: "mixed per frame", data: fmt.Sprintf("%d %s%s\n", len(sample), sample, sample), want: []string{sample, sample}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := listen(t, Options{})
			send(t, r.Addr(), tt.data)
			msgs := waitFor(t, r, len(tt.want))
			var got []string
			for _, m := range msgs {
				got = append(got, m.Raw)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages = %q, want %q", got, tt.want)
			}
			if errs := r.Errors(); len(errs) != 0 {
				t.Errorf("Errors = %v", errs)
			}
		})
	}
}

func TestReceiver_PartialFrameIsAnErrorNotAMessage(t *testing.T) {
	tests := []struct{ name, data string }{
		{"line without LF", sample + "\n<13>1 - h a - - - cut"},
		{"short octet frame", fmt.Sprintf("%d %s500 <13>1 - h", len(sample), sample)},
		{"bad octet count", sample + "\n12x <13>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := listen(t, Options{})
			send(t, r.Addr(), tt.data)
			waitFor(t, r, 1)
			waitForError(t, r)
			if n := r.Count(); n != 1 {
				t.Errorf("Count = %d, want 1", n)
			}
		})
	}
}

func TestReceiver_StopRefusesAndStartReusesThePort(t *testing.T) {
	r := listen(t, Options{})
	addr := r.Addr()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(sample + "\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, 1)

	if err := r.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("dial succeeded while stopped")
	}
	// The open connection was closed by Stop: reading sees EOF or reset.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read on a stopped receiver's connection: %v", err)
	}

	if err := r.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if r.Addr() != addr {
		t.Fatalf("Addr after restart = %s, want %s", r.Addr(), addr)
	}
	send(t, addr, sample+"\n")
	msgs := waitFor(t, r, 2)
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2 (kept across restart)", len(msgs))
	}
	if got := r.Target(); got != "tcp://"+addr {
		t.Errorf("Target = %s", got)
	}
}

func TestReceiver_DiscardCountsWithoutKeeping(t *testing.T) {
	r := listen(t, Options{Discard: true})
	send(t, r.Addr(), strings.Repeat(sample+"\n", 100))
	waitFor(t, r, 100)
	if n := len(r.Messages()); n != 0 {
		t.Errorf("kept %d messages", n)
	}
	if got, want := r.Bytes(), int64(100*len(sample)); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
	r.Reset()
	if r.Count() != 0 || r.Bytes() != 0 {
		t.Errorf("after Reset: Count %d Bytes %d", r.Count(), r.Bytes())
	}
}

func TestReceiver_WaitForEndsWithContext(t *testing.T) {
	r := listen(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.WaitFor(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor = %v, want deadline exceeded", err)
	}
}

func TestReceiver_RejectsOversizedFrame(t *testing.T) {
	r := listen(t, Options{MaxMessageSize: 64})
	send(t, r.Addr(), strings.Repeat("x", 200)+"\n")
	waitForError(t, r)
	if r.Count() != 0 {
		t.Errorf("Count = %d, want 0", r.Count())
	}
}

func TestReceiver_ServesTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	r := listen(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if !strings.HasPrefix(r.Target(), "tls://") {
		t.Errorf("Target = %s", r.Target())
	}
	c, err := tls.Dial("tcp", r.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(sample + "\n")); err != nil {
		t.Fatal(err)
	}
	msgs := waitFor(t, r, 1)
	if msgs[0].Attr("mcStream") != "siem" {
		t.Errorf("message = %+v", msgs[0])
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "syslogrecv test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestReceiver_WaitIdleReturnsAfterClosedConnectionsAreRead(t *testing.T) {
	r := listen(t, Options{})
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(strings.Repeat(sample+"\n", 50))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, 1)
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.WaitIdle(short); err == nil {
		t.Fatal("WaitIdle returned while a connection was open")
	}
	c.Close()
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := r.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r.Count(); n != 50 {
		t.Errorf("Count after WaitIdle = %d, want 50", n)
	}
}
