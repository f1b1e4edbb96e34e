// Package secrets seals account credentials at rest with AES-256-GCM.
//
// The key is derived from QRADAR_APP_UUID when QRadar provides it (IBM's own
// guidance for app secrets), otherwise it is a random key kept in a 0600 file
// in the store. Each sealed value carries the identifier of the key that
// sealed it, so a changed key is recognised as such ("re-enter credentials")
// rather than reported as corruption.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrKeyChanged means a value was sealed with a key other than the current
// one: the administrator must enter the credentials again.
var ErrKeyChanged = errors.New("sealed with a different key")

// ErrCorrupt means a sealed value could not be authenticated or parsed.
var ErrCorrupt = errors.New("sealed value is corrupt")

const (
	formatVersion  = "v1"
	saltFile       = "seal.salt"
	keyFile        = "seal.key"
	pbkdf2Rounds   = 210_000
	keyLen         = 32
	keyIDByteCount = 8
)

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead  cipher.AEAD
	keyID string
}

// Open returns the Box for a store directory. With a non-empty appUUID the
// key is PBKDF2-SHA256(appUUID, salt) with a random salt kept in the store;
// otherwise a random key is created once in <storeDir>/seal.key (mode 0600).
func Open(storeDir, appUUID string) (*Box, error) {
	var key []byte
	if appUUID != "" {
		salt, err := readOrCreate(filepath.Join(storeDir, saltFile), 16)
		if err != nil {
			return nil, fmt.Errorf("reading seal salt: %w", err)
		}
		key, err = pbkdf2.Key(sha256.New, appUUID, salt, pbkdf2Rounds, keyLen)
		if err != nil {
			return nil, fmt.Errorf("deriving seal key: %w", err)
		}
	} else {
		var err error
		key, err = readOrCreate(filepath.Join(storeDir, keyFile), keyLen)
		if err != nil {
			return nil, fmt.Errorf("reading seal key: %w", err)
		}
	}
	return newBox(key)
}

func newBox(key []byte) (*Box, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating GCM: %w", err)
	}
	// The key id is a hash of the key under a distinct label: it identifies
	// the key without revealing anything usable about it.
	sum := sha256.Sum256(append([]byte("mimecast-qradar key id\x00"), key...))
	return &Box{aead: aead, keyID: hex.EncodeToString(sum[:keyIDByteCount])}, nil
}

// readOrCreate returns the file's content, creating it with n random bytes
// (mode 0600) when it does not exist.
func readOrCreate(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != n {
			return nil, fmt.Errorf("%s has %d bytes, want %d", path, len(b), n)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			return readOrCreate(path, n)
		}
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return b, f.Close()
}

// KeyID identifies the current key.
func (b *Box) KeyID() string { return b.keyID }

// Seal encrypts plaintext. The associated data binds the ciphertext to its
// place (for example "account:5:client_secret"), so a sealed value copied to
// another account or field does not open.
func (b *Box) Seal(plaintext, associatedData string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("generating nonce: %w", err)
	}
	ct := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(associatedData))
	return formatVersion + ":" + b.keyID + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// OpenValue decrypts a value made by Seal with the same associated data.
func (b *Box) OpenValue(sealed, associatedData string) (string, error) {
	version, rest, ok1 := strings.Cut(sealed, ":")
	keyID, payload, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || version != formatVersion {
		return "", ErrCorrupt
	}
	if keyID != b.keyID {
		return "", ErrKeyChanged
	}
	raw, err := base64.RawStdEncoding.DecodeString(payload)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrCorrupt
	}
	nonce, ct := raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():]
	pt, err := b.aead.Open(nil, nonce, ct, []byte(associatedData))
	if err != nil {
		return "", ErrCorrupt
	}
	return string(pt), nil
}
