package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBox_SealOpenRoundTrip(t *testing.T) {
	for _, uuid := range []string{"", "6b1c2d3e-0000-4000-8000-000000000001"} {
		dir := t.TempDir()
		b, err := Open(dir, uuid)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := b.Seal("s3cr3t-value", "account:1:client_secret")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, "s3cr3t") {
			t.Fatalf("sealed value contains the plaintext: %q", sealed)
		}
		// A second Open of the same store gives the same key.
		b2, err := Open(dir, uuid)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b2.OpenValue(sealed, "account:1:client_secret")
		if err != nil || got != "s3cr3t-value" {
			t.Fatalf("OpenValue = %q, %v", got, err)
		}
	}
}

func TestBox_NoncesDiffer(t *testing.T) {
	b, _ := Open(t.TempDir(), "")
	x, _ := b.Seal("same", "ad")
	y, _ := b.Seal("same", "ad")
	if x == y {
		t.Fatal("two seals of the same value are identical: nonce reused")
	}
}

func TestBox_AssociatedDataBindsPlace(t *testing.T) {
	b, _ := Open(t.TempDir(), "")
	sealed, _ := b.Seal("v", "account:1:app_key")
	if _, err := b.OpenValue(sealed, "account:2:app_key"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("opening under other associated data: err = %v, want ErrCorrupt", err)
	}
}

func TestBox_ChangedKeyDetected(t *testing.T) {
	dir := t.TempDir()
	b1, _ := Open(dir, "uuid-one")
	sealed, _ := b1.Seal("v", "ad")
	b2, _ := Open(dir, "uuid-two")
	if _, err := b2.OpenValue(sealed, "ad"); !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("err = %v, want ErrKeyChanged", err)
	}
	// Losing the key file is a key change too.
	d2 := t.TempDir()
	k1, _ := Open(d2, "")
	s2, _ := k1.Seal("v", "ad")
	os.Remove(filepath.Join(d2, keyFile))
	k2, _ := Open(d2, "")
	if _, err := k2.OpenValue(s2, "ad"); !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("err = %v, want ErrKeyChanged", err)
	}
}

func TestBox_TamperedValueRejected(t *testing.T) {
	b, _ := Open(t.TempDir(), "")
	sealed, _ := b.Seal("value", "ad")
	tampered := sealed[:len(sealed)-2] + "AA"
	if tampered == sealed {
		tampered = sealed[:len(sealed)-2] + "BB"
	}
	for _, v := range []string{tampered, "garbage", "v1:" + b.KeyID() + ":!!!", ""} {
		if _, err := b.OpenValue(v, "ad"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("OpenValue(%q) err = %v, want ErrCorrupt", v, err)
		}
	}
}

func TestOpen_KeyFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
}
