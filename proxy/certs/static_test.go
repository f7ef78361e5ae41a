package certs

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// serial is the serial number of the certificate m serves now.
func serial(t *testing.T, m *Manager) int64 {
	t.Helper()
	c, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: "app.test"})
	if err != nil || c == nil {
		t.Fatalf("GetCertificate() = %v, %v", c, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

// TestStaticReload: a certificate from files is served at once and ready;
// a new pair is picked up by the first handshake a second or more after
// the last check, with no goroutine; a bad pair is logged once and the
// previous certificate stays.
func TestStaticReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writePair(t, dir, "app.test", 1)
		rec := newRecorder()
		m, err := New(Options{
			CertFile: filepath.Join(dir, "cert.pem"),
			KeyFile:  filepath.Join(dir, "key.pem"),
			Logger:   slog.New(rec),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if !m.Ready() {
			t.Fatal("Ready() = false with certificate files, want true")
		}
		if st := m.Status(); len(st) != 1 || st[0].Name != "app.test" || !st[0].Ready || st[0].NotAfter.IsZero() {
			t.Fatalf("Status() = %+v, want app.test ready with its expiry", st)
		}
		if got := serial(t, m); got != 1 {
			t.Fatalf("serial = %d, want 1", got)
		}

		writePair(t, dir, "app.test", 2)
		if got := serial(t, m); got != 1 {
			t.Fatalf("serial within a second of the last check = %d, want 1 still", got)
		}
		time.Sleep(reloadEvery)
		if got := serial(t, m); got != 2 {
			t.Fatalf("serial a second later = %d, want the new 2", got)
		}
		if recs, _ := rec.find("certificate reloaded"); len(recs) != 1 {
			t.Fatalf("%d %q lines, want 1", len(recs), "certificate reloaded")
		}
		if st := m.Status(); st[0].NotAfter != time.Date(2100, 1, 1, 2, 0, 0, 0, time.UTC) {
			t.Fatalf("Status().NotAfter = %v, want the new certificate's", st[0].NotAfter)
		}

		// A key that does not match: the certificate written first.
		other := t.TempDir()
		writePair(t, other, "app.test", 3)
		data, err := os.ReadFile(filepath.Join(other, "cert.pem"))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "cert.pem"), data)
		for range 3 {
			time.Sleep(reloadEvery)
			if got := serial(t, m); got != 2 {
				t.Fatalf("serial with a mismatched key = %d, want the previous 2", got)
			}
		}
		if recs, _ := rec.find("certificate reload failed; serving the previous one"); len(recs) != 1 {
			t.Fatalf("%d reload failure lines, want 1 for the same error", len(recs))
		}
		// The key follows: the pair is good again.
		data, err = os.ReadFile(filepath.Join(other, "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "key.pem"), data)
		time.Sleep(reloadEvery)
		if got := serial(t, m); got != 3 {
			t.Fatalf("serial once the key follows = %d, want 3", got)
		}
	})
}

// TestStaticBadFiles: files that cannot be loaded are an error at New.
func TestStaticBadFiles(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "app.test", 1)
	junk := filepath.Join(dir, "junk.pem")
	write(t, junk, []byte("not PEM"))
	for _, tc := range []struct {
		name      string
		cert, key string
		want      string
	}{
		{"missing", filepath.Join(dir, "nope.pem"), filepath.Join(dir, "key.pem"), "no such file"},
		{"not PEM", junk, filepath.Join(dir, "key.pem"), "failed to find any PEM data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{CertFile: tc.cert, KeyFile: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%s, %s) error = %v, want one saying %q", tc.cert, tc.key, err, tc.want)
			}
		})
	}
}
