package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toolPath finds an installed program the test needs, or skips the test
// (fails it when LAMEDUCK_REQUIRE_TOOLS=1).
func toolPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	requireTool(t, err == nil, name)
	return path
}

// kustomizeBuild returns a command that renders a Kustomize directory: the
// kustomize program (.ci/run installs it with go install), else kubectl's
// embedded kustomize.
func kustomizeBuild(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	if path, err := exec.LookPath("kustomize"); err == nil {
		return exec.Command(path, "build", dir)
	}
	if gobin, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		path := filepath.Join(strings.TrimSpace(string(gobin)), "bin", "kustomize")
		if _, err := exec.LookPath(path); err == nil {
			return exec.Command(path, "build", dir)
		}
	}
	return exec.Command(toolPath(t, "kubectl"), "kustomize", dir)
}
