package drain

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden reports the dependencies drain may not have: anything outside
// the standard library, and in it net/http and os/exec, because drain knows
// nothing about HTTP or processes. deps maps each import path to whether it
// is in the standard library.
func forbidden(self string, deps map[string]bool) []string {
	var bad []string
	for path, std := range deps {
		switch {
		case path == self:
		case path == "net/http", strings.HasPrefix(path, "net/http/"),
			path == "os/exec", strings.HasPrefix(path, "os/exec/"):
			bad = append(bad, path)
		case strings.HasPrefix(path, "github.com/lameduck/"), !std:
			bad = append(bad, path)
		}
	}
	return bad
}

func TestForbidden(t *testing.T) {
	const self = "github.com/lameduck/lameduck/drain"
	tests := []struct {
		name string
		deps map[string]bool
		want int
	}{
		{"standard library", map[string]bool{self: false, "context": true, "log/slog": true}, 0},
		{"net/http", map[string]bool{self: false, "net/http": true}, 1},
		{"net/http/httptrace", map[string]bool{self: false, "net/http/httptrace": true}, 1},
		{"os/exec", map[string]bool{self: false, "os/exec": true}, 1},
		{"lameduck package", map[string]bool{self: false, "github.com/lameduck/lameduck/proxy": false}, 1},
		{"third party", map[string]bool{self: false, "golang.org/x/sync/errgroup": false}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forbidden(self, tt.deps); len(got) != tt.want {
				t.Errorf("forbidden(%v) = %q, want %d paths", tt.deps, got, tt.want)
			}
		})
	}
}

// TestImports enforces that drain imports only the standard library, and
// neither net/http nor os/exec, directly or through another package.
func TestImports(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps",
		"-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	self, err := exec.CommandContext(t.Context(), "go", "list", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := make(map[string]bool)
	for line := range strings.Lines(string(out)) {
		path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
		deps[path] = std == "true"
	}
	if len(deps) < 2 {
		t.Fatalf("go list -deps listed %d packages, want the package and its dependencies", len(deps))
	}
	if bad := forbidden(strings.TrimSpace(string(self)), deps); len(bad) > 0 {
		t.Errorf("drain depends on %q, want the standard library only, without net/http or os/exec", bad)
	}
}
