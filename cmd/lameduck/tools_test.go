package main

import (
	"os/exec"
	"testing"
)

// toolPath returns the path of an installed program the test needs; see
// requireTool for what happens when it is missing.
func toolPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	requireTool(t, err == nil, name)
	return path
}
