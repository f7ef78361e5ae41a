package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoadYAML checks that no file makes Load panic, and that every error
// it reports is one line, an *Error, and names the file when it is about
// the file. The seed corpus is in testdata/fuzz/FuzzLoadYAML.
func FuzzLoadYAML(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(string) ([]byte, error) { return data, nil }
		c, err := Load([]string{"--config", "f.yaml", "--upstream", "http://127.0.0.1:3000"}, noEnv, read)
		if err == nil {
			if c == nil {
				t.Fatal("Load returned neither a Config nor an error")
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Load error %T %q, want *Error", err, err)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("Load error is not one line: %q", msg)
		}
		if e.Source == "file" && !strings.HasPrefix(msg, "f.yaml") {
			t.Fatalf("Load error %q does not start with the file name", msg)
		}
		if c != nil {
			t.Fatalf("Load returned a Config with error %q", msg)
		}
	})
}
