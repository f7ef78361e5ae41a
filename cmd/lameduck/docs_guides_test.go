package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lameduck/lameduck/config"
)

// markdownTables returns the tables of a Markdown text, each as rows of
// cells, the header first, without the separator row.
func markdownTables(text string) [][][]string {
	var tables [][][]string
	var cur [][]string
	for _, line := range strings.Split(text+"\n", "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if len(cur) > 0 {
				tables = append(tables, cur)
				cur = nil
			}
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
			continue // the separator row
		}
		cur = append(cur, cells)
	}
	return tables
}

var firstDuration = regexp.MustCompile(`\b\d+(\.\d+)?(ms|s|m)\b`)

// TestGuideTables: in every platform guide, the table of recommended
// values adds up on every row, delay + drain + stop + margin within the
// kill budget, and the row of a detected platform's profile is the
// profile.
func TestGuideTables(t *testing.T) {
	guides, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "platforms", "*.md"))
	if len(guides) < 8 {
		t.Fatalf("%d platform guides, want 8", len(guides))
	}
	profiles := map[string]config.Profile{}
	for _, p := range config.Profiles() {
		profiles[p.Name] = p
	}
	for _, g := range guides {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(g), ".md")
		rows := 0
		profileRow := false
		for _, table := range markdownTables(string(data)) {
			col := map[string]int{}
			for i, h := range table[0] {
				col[h] = i
			}
			_, b := col["`--kill-budget`"]
			_, d := col["`--shutdown-delay`"]
			_, w := col["`--drain-timeout`"]
			_, s := col["`--stop-timeout`"]
			if !b || !d || !w || !s {
				continue
			}
			for _, row := range table[1:] {
				rows++
				get := func(h string) time.Duration {
					v, err := time.ParseDuration(firstDuration.FindString(row[col[h]]))
					if err != nil {
						t.Errorf("%s: row %q: %s %q is not a duration", name, row[0], h, row[col[h]])
					}
					return v
				}
				budget, delay, drain, stop := get("`--kill-budget`"), get("`--shutdown-delay`"), get("`--drain-timeout`"), get("`--stop-timeout`")
				if sum := delay + drain + stop + config.KillMargin; sum > budget {
					t.Errorf("%s: row %q: delay %v + drain %v + stop %v + %v = %v > kill budget %v", name, row[0], delay, drain, stop, config.KillMargin, sum, budget)
				}
				if p, ok := profiles[name]; ok && delay == p.Delay && drain == p.Drain && stop == p.Stop {
					profileRow = true
				}
			}
		}
		if rows == 0 {
			t.Errorf("%s: no table of recommended values", name)
		}
		if _, ok := profiles[name]; ok && !profileRow {
			t.Errorf("%s: no row with the %s profile's values", name, name)
		}
	}
}

// TestKustomizeOverlayDoc builds the overlay that the Kubernetes guide
// shows, on the base in this repository, and checks the pod it makes.
func TestKustomizeOverlayDoc(t *testing.T) {
	b := taggedBlock(t, "kustomize-overlay")
	base, err := filepath.Abs(filepath.Join(repoRoot, "deploy", "kubernetes", "wrapper"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, base) // Kustomize refuses absolute paths
	if err != nil {
		t.Fatal(err)
	}
	overlay := regexp.MustCompile(`(?m)^  - \S+/deploy/kubernetes/wrapper$`).ReplaceAllString(b.body, "  - "+filepath.ToSlash(rel))
	if overlay == b.body {
		t.Fatalf("%s: no resource .../deploy/kubernetes/wrapper", b)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := kustomizeBuild(t, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build of %s: %v\n%s", b, err, out)
	}
	var deployment string
	for _, doc := range strings.Split(string(out), "\n---\n") {
		if strings.Contains(doc, "\nkind: Deployment\n") {
			deployment = doc
		}
	}
	if !strings.Contains(deployment, "image: registry.example.com/shop/web:1.4.2") {
		t.Errorf("overlay did not set the image:\n%s", deployment)
	}
	if msgs := manifestErrors(deployment); msgs != "" {
		t.Errorf("the pod of the overlay in %s: %s", b, msgs)
	}
	if !strings.Contains(deployment, "--shutdown-delay=20s") {
		t.Errorf("overlay did not replace the args:\n%s", deployment)
	}
}

// TestDocsCopyFromImage: the docs copy lameduck out of the image from
// where the Dockerfile puts it.
func TestDocsCopyFromImage(t *testing.T) {
	b := dockerfileBuild(t)
	n := 0
	for _, blk := range docBlocks(t) {
		if !strings.EqualFold(blk.lang, "dockerfile") {
			continue
		}
		ins, err := parseDockerfile(blk.body)
		if err != nil {
			t.Errorf("%s: %v", blk, err)
			continue
		}
		for _, in := range ins {
			f := strings.Fields(in.args)
			if in.cmd == "COPY" && len(f) == 3 && strings.HasPrefix(f[0], "--from=lameduck") {
				n++
				if f[1] != b.dest {
					t.Errorf("%s: COPY %s, want the binary from %s, where the Dockerfile puts it", blk, f[1], b.dest)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no doc shows COPY --from=lameduck")
	}
}

// TestReadmeDemo: README.md starts with two commands, the demo and the
// tests. The test command is .ci/test's, which runs these tests; the demo
// is run here, with the binary built for the tests standing in for go run:
// it serves, and Ctrl-C drains it.
func TestReadmeDemo(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseBlocks("README.md", string(data))
	if err != nil || len(blocks) == 0 {
		t.Fatalf("README.md: no code block (%v)", err)
	}
	var cmds [][]string
	for _, line := range strings.Split(strings.TrimSpace(blocks[0].body), "\n") {
		words, _, err := shellWords(line)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, words)
	}
	if len(cmds) != 2 || strings.Join(cmds[1], " ") != "go test -race ./..." || len(cmds[0]) < 4 || strings.Join(cmds[0][:3], " ") != "go run ./cmd/lameduck" {
		t.Fatalf("README.md's first block = %q, want the demo (go run ./cmd/lameduck ...) and the tests (go test -race ./...)", blocks[0].body)
	}
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "test"))
	if err != nil || !strings.Contains(string(ci), "go test -race") || !strings.Contains(string(ci), "./...") {
		t.Errorf(".ci/test does not run the README's test command (go test -race ./...)")
	}
	args := cmds[0][3:]
	for _, a := range args {
		if strings.HasPrefix(a, "examples/") {
			if _, err := os.Stat(filepath.Join(repoRoot, a)); err != nil {
				t.Skipf("the demo needs %s, which is not in this tree", a)
			}
		}
	}
	in := startTextIn(t, repoRoot, nil, args...)
	waitText(t, in, `msg="upstream ready"`)
	mustGet(t, httpClient(t), in.url("/"), 200)
	in.signal(syscall.SIGINT) // Ctrl-C
	in.wait()
	waitText(t, in, `msg="drain report"`)
}
