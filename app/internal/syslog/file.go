package syslog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// sharedFile is one open file shared by every Sender writing to its path,
// so that their messages never interleave: each write of whole messages
// happens under mu in one call.
type sharedFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	refs int // guarded by openFiles.mu
}

// openFiles maps a cleaned path to its shared handle. It is process state,
// not configuration: Senders in different goroutines must find the same
// handle.
var openFiles = struct {
	sync.Mutex
	m map[string]*sharedFile
}{m: map[string]*sharedFile{}}

func openShared(path string) (*sharedFile, error) {
	openFiles.Lock()
	defer openFiles.Unlock()
	if sf, ok := openFiles.m[path]; ok {
		sf.refs++
		return sf, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("opening syslog file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening syslog file: %w", err)
	}
	sf := &sharedFile{path: path, f: f, refs: 1}
	openFiles.m[path] = sf
	return sf, nil
}

func (sf *sharedFile) write(b []byte) error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	_, err := sf.f.Write(b)
	return err
}

func (sf *sharedFile) sync() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return sf.f.Sync()
}

// release drops one reference and closes the file with the last.
func (sf *sharedFile) release() error {
	openFiles.Lock()
	defer openFiles.Unlock()
	if sf.refs--; sf.refs > 0 {
		return nil
	}
	delete(openFiles.m, sf.path)
	return sf.f.Close()
}
