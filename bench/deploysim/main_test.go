package deploysim

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	flagMode = flag.String("mode", "lameduck", `what runs in each instance: "lameduck" (lameduck -- node app.js); `+
		`"app" (node app.js alone, server.close() on SIGTERM) or "app-die" (node app.js alone, no SIGTERM handler), the contrasts`)
	flagDelay        = flag.Duration("shutdown-delay", time.Second, "lameduck's --shutdown-delay")
	flagReplacements = flag.Int("replacements", 20, "instance replacements in the rolling deploy")
	flagReport       = flag.String("report", "", "write the counts as JSON to this file")
	flagLogs         = flag.String("logs", "", "keep the instances' and HAProxy's logs in this directory")
	flagRow          = flag.String("row", "", "append the counts as a Markdown table row to this file, with this label after a tab: FILE\tLABEL")
)

var (
	binary  string // the lameduck binary under test
	testApp string // absolute path of the Node test app
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "lameduck-deploysim-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "lameduck")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/lameduck/lameduck/cmd/lameduck")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lameduck:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	testApp, _ = filepath.Abs(filepath.Join("..", "..", "cmd", "lameduck", "testdata", "app.js"))
	code := 0
	func() {
		defer os.RemoveAll(dir)
		goleak.VerifyTestMain(exitCatcher{m, &code})
	}()
	os.Exit(code)
}

// exitCatcher lets TestMain clean up after goleak.VerifyTestMain, which
// calls os.Exit itself.
type exitCatcher struct {
	m    *testing.M
	code *int
}

func (e exitCatcher) Run() int { *e.code = e.m.Run(); return *e.code }

// needTool skips the test when name is not installed, unless
// LAMEDUCK_REQUIRE_TOOLS=1 makes a missing tool a failure (CI).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("LAMEDUCK_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required (LAMEDUCK_REQUIRE_TOOLS=1) but not installed: %v", name, err)
	}
	t.Skipf("%s not installed (apt-get install %s); skipping", name, name)
	return ""
}
