package main

import (
	"os"
	"os/exec"
	"testing"
)

// requireTool returns the path of an installed program the test needs. When
// it is missing the test is skipped, or fails under LAMEDUCK_REQUIRE_TOOLS=1
// (CI, where .ci/run installs every tool).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("LAMEDUCK_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is not installed, and LAMEDUCK_REQUIRE_TOOLS=1", name)
	}
	t.Skipf("needs %s (not installed)", name)
	return ""
}
