package syslog

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mimecast-qradar/app/internal/leef"
	"mimecast-qradar/app/internal/model"
)

// discardListener accepts connections on loopback and reads everything.
func discardListener(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkSenderTCP sends 1 KiB messages to a real loopback listener,
// flushing every 1000 (as the collector does per page). One op is one
// message; MB/s counts message bytes.
func BenchmarkSenderTCP(b *testing.B) {
	s, err := Dial(context.Background(), "tcp://"+discardListener(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msg := []byte(event("bench", 1, 1024))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.Write(msg); err != nil {
			b.Fatal(err)
		}
		if n++; n%1000 == 0 {
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFormatAndSendTCP formats the real API 2.0 SIEM samples as LEEF
// and sends them over loopback TCP, flushing every 1000: the collector's
// per-event cost after decoding. One op is one event; MB/s counts the
// records' JSON bytes.
func BenchmarkFormatAndSendTCP(b *testing.B) {
	paths, err := filepath.Glob("../leef/testdata/samples/siem-v2-*.jsonl")
	if err != nil || len(paths) == 0 {
		b.Fatalf("no samples: %v", err)
	}
	var recs []model.Record
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		// siem-v2-internal-email-protect.jsonl holds internal_email_protect records.
		logType := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "siem-v2-"), ".jsonl"), "-", "_")
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			recs = append(recs, model.Record{Stream: model.StreamSIEM, LogType: logType, Raw: bytes.Clone(sc.Bytes()), Time: time.Now()})
		}
	}
	s, err := Dial(context.Background(), "tcp://"+discardListener(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f := &leef.Formatter{AppVersion: "bench", MaxLen: s.MaxMessageSize()}
	acct := leef.Account{Name: "Bench", LogSourceIdentifier: "mimecast-bench"}
	total := 0
	for _, r := range recs {
		total += len(r.Raw)
	}
	b.SetBytes(int64(total / len(recs)))
	b.ReportAllocs()
	buf := make([]byte, 0, 8192)
	i, n := 0, 0
	for b.Loop() {
		buf, err = f.AppendRecord(buf[:0], acct, &recs[i])
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Write(buf); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(recs) {
			i = 0
		}
		if n++; n%1000 == 0 {
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}
