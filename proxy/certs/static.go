package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// reloadEvery is how often, at most, the files of a static certificate are
// checked for changes.
const reloadEvery = time.Second

// staticCert serves a certificate from a pair of PEM files and reloads it
// when either file changes, with no goroutine of its own: a handshake
// checks the files, at most once every reloadEvery, by stat (path,
// modification time, size and inode, so that an atomic rename or a
// Kubernetes Secret's symlink swap counts as a change). A pair that fails
// to load, such as a certificate written before its key, is logged and the
// previous certificate is kept; the files are checked again a second
// later.
type staticCert struct {
	certFile, keyFile string
	logger            *slog.Logger

	cert    atomic.Pointer[tls.Certificate]
	checked atomic.Int64 // last check, Unix nanoseconds

	mu      sync.Mutex // held while checking
	stamps  [2]os.FileInfo
	lastErr string
}

// newStatic loads the pair of files, or returns why it cannot.
func newStatic(certFile, keyFile string, logger *slog.Logger) (*staticCert, error) {
	s := &staticCert{certFile: certFile, keyFile: keyFile, logger: logger}
	stamps, err := s.stat()
	if err != nil {
		return nil, err
	}
	if err := s.load(stamps); err != nil {
		return nil, err
	}
	s.checked.Store(time.Now().UnixNano())
	return s, nil
}

// getCertificate is the tls.Config hook: the current certificate, after
// a check of the files when the last one is a second old or more.
func (s *staticCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now()
	if now.UnixNano()-s.checked.Load() >= int64(reloadEvery) && s.mu.TryLock() {
		// One handshake checks; the others serve the current certificate.
		s.check(now)
		s.mu.Unlock()
	}
	return s.cert.Load(), nil
}

// check reloads the pair if a file changed since the last load. s.mu is
// held.
func (s *staticCert) check(now time.Time) {
	s.checked.Store(now.UnixNano())
	stamps, err := s.stat()
	if err == nil {
		if unchanged(s.stamps[0], stamps[0]) && unchanged(s.stamps[1], stamps[1]) {
			return
		}
		err = s.load(stamps)
	}
	if err != nil {
		if msg := err.Error(); msg != s.lastErr {
			s.lastErr = msg
			s.logger.Warn("certificate reload failed; serving the previous one", "cert", s.certFile, "err", err)
		}
		return
	}
	s.lastErr = ""
	leaf := s.cert.Load().Leaf
	s.logger.Info("certificate reloaded", "name", certName(leaf, s.certFile), "not_after", leaf.NotAfter)
}

// stat returns the file information of the certificate and key files.
func (s *staticCert) stat() ([2]os.FileInfo, error) {
	var out [2]os.FileInfo
	for i, name := range []string{s.certFile, s.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return out, err
		}
		out[i] = fi
	}
	return out, nil
}

// load reads the pair and, if it is good, serves it from now on. s.mu is
// held, or s is not shared yet.
func (s *staticCert) load(stamps [2]os.FileInfo) error {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s and key %s: %w", s.certFile, s.keyFile, err)
	}
	// LoadX509KeyPair fills Leaf since Go 1.23.
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("parse certificate %s: %w", s.certFile, err)
		}
	}
	s.stamps = stamps
	s.cert.Store(&cert)
	return nil
}

// status describes the certificate served.
func (s *staticCert) status() Status {
	leaf := s.cert.Load().Leaf
	return Status{Name: certName(leaf, s.certFile), Ready: true, NotAfter: leaf.NotAfter}
}

// unchanged reports whether b describes the same file as a, unmodified.
func unchanged(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// certName names a certificate by its first DNS name, else its common
// name, else its file.
func certName(leaf *x509.Certificate, file string) string {
	switch {
	case len(leaf.DNSNames) > 0:
		return leaf.DNSNames[0]
	case leaf.Subject.CommonName != "":
		return leaf.Subject.CommonName
	}
	return filepath.Base(file)
}
