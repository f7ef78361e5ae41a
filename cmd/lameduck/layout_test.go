package main

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/lameduck/lameduck"

// TestImportDirection enforces the dependency direction of the packages:
// cmd → everything; proxy/admin → drain; config and drain import no
// lameduck package; proxy never imports drain; proxy/certs imports
// neither config, drain nor cmd; drain imports neither net/http nor
// os/exec.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string][]string{
		module + "/config":        {module + "/"},
		module + "/drain":         {module + "/", "net/http", "os/exec"},
		module + "/drain/proc":    {module + "/proxy", module + "/config", module + "/drain"},
		module + "/proxy":         {module + "/drain", module + "/config"},
		module + "/proxy/wsframe": {module + "/"},
		module + "/proxy/admin":   {module + "/proxy", module + "/config", module + "/drain/proc"},
		module + "/proxy/certs":   {module + "/config", module + "/drain", module + "/drain/", module + "/cmd/"},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
			Name       string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		for _, bad := range []string{"util", "common", "helpers", "types", "misc"} {
			if p.Name == bad {
				t.Errorf("package %s is named %q: name packages for what they own", p.ImportPath, bad)
			}
		}
		for _, imp := range p.Imports {
			for _, f := range forbidden[p.ImportPath] {
				if imp == f || strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f) {
					t.Errorf("%s imports %s", p.ImportPath, imp)
				}
			}
		}
	}
	if seen < 7 {
		t.Fatalf("go list found %d packages, want every package of the module", seen)
	}
}

// TestSourceRules checks rules no linter does: non-test files stay under
// 800 lines; os.Exit and signal.Notify live only in main.go (and in the
// main.go of each benchmark program); no time.Sleep
// in non-test code (the drain reacts to events); main.go stays thin.
func TestSourceRules(t *testing.T) {
	root := filepath.Join("..", "..")
	sleep := regexp.MustCompile(`\btime\.Sleep\(`)
	exit := regexp.MustCompile(`\bos\.Exit\(|\blog\.Fatal`)
	notify := regexp.MustCompile(`\bsignal\.Notify\(`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		isMain := rel == filepath.Join("cmd", "lameduck", "main.go")
		// The benchmark programs under bench/ are commands of their own,
		// with a main.go as their one exit point.
		benchMain := strings.HasPrefix(rel, "bench"+string(filepath.Separator)) && filepath.Base(rel) == "main.go"
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			n++
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			switch {
			case sleep.MatchString(line):
				t.Errorf("%s:%d: time.Sleep outside tests", rel, n)
			case exit.MatchString(line) && !isMain && !benchMain:
				t.Errorf("%s:%d: os.Exit or log.Fatal outside cmd/lameduck/main.go", rel, n)
			case notify.MatchString(line) && !isMain && !benchMain:
				t.Errorf("%s:%d: signal.Notify outside cmd/lameduck/main.go", rel, n)
			}
		}
		if n > 800 {
			t.Errorf("%s has %d lines, want at most 800", rel, n)
		}
		if isMain && n > 60 {
			t.Errorf("%s has %d lines, want a thin main of at most 60", rel, n)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
