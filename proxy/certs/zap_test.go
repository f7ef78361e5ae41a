package certs

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestZapBridge: certmagic's zap lines come out of the slog handler, with
// the logger name, the fields in order, "error" renamed "err", and Info
// demoted to Debug.
func TestZapBridge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		level   slog.Level // the handler's
		log     func(*zap.Logger)
		want    map[string]any // nil: no line
		wantKey []string       // keys in order, after time, level and msg
	}{
		{
			name:  "error with fields",
			level: slog.LevelInfo,
			log: func(l *zap.Logger) {
				l.Named("obtain").With(zap.String("identifier", "example.com")).
					Error("could not get certificate from issuer", zap.Error(errors.New("boom")), zap.Duration("after", 2*time.Second))
			},
			want: map[string]any{"level": "ERROR", "msg": "could not get certificate from issuer",
				"logger": "certmagic.obtain", "identifier": "example.com", "err": "boom", "after": float64(2 * time.Second)},
			wantKey: []string{"identifier", "logger", "err", "after"},
		},
		{
			name:  "warning",
			level: slog.LevelInfo,
			log:   func(l *zap.Logger) { l.Warn("stapling OCSP", zap.Strings("identifiers", []string{"a", "b"})) },
			want:  map[string]any{"level": "WARN", "msg": "stapling OCSP", "logger": "certmagic", "identifiers": []any{"a", "b"}},
		},
		{
			name:  "info is debug",
			level: slog.LevelInfo,
			log:   func(l *zap.Logger) { l.Info("acquiring lock") },
			want:  nil,
		},
		{
			name:  "info shown at debug",
			level: slog.LevelDebug,
			log:   func(l *zap.Logger) { l.Info("acquiring lock") },
			want:  map[string]any{"level": "DEBUG", "msg": "acquiring lock", "logger": "certmagic"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tc.level})
			tc.log(newZap(h))
			if tc.want == nil {
				if buf.Len() != 0 {
					t.Fatalf("logged %s, want nothing", buf.Bytes())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("line %q: %v", buf.Bytes(), err)
			}
			delete(got, "time")
			if !equalJSON(got, tc.want) {
				t.Fatalf("line = %v, want %v", got, tc.want)
			}
			if tc.wantKey != nil {
				if order := keyOrder(t, buf.Bytes()); !equalJSON(order[3:], tc.wantKey) {
					t.Fatalf("keys = %q, want time, level, msg, then %q", order, tc.wantKey)
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// keyOrder returns the top-level keys of a JSON object in order.
func keyOrder(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.Token() // {
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
