package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The docs are tested: README.md and every Markdown file under docs/ and
// deploy/ are read here, and their fenced blocks checked or run according
// to the block's info string. docs/README.md states the rules for writers.

// block is one fenced code block of a Markdown file.
type block struct {
	file string // relative to the repository root
	line int    // of the opening fence, from 1
	lang string // first word of the info string: "sh", "yaml", "text"...
	tags map[string]string
	body string
}

// tag reports whether the info string has the word (such as "test" in
// "sh test") or key=value with that key.
func (b block) tag(name string) bool { _, ok := b.tags[name]; return ok }

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var fence = regexp.MustCompile("^(\\s*)(```+)(.*)$")

// parseBlocks returns the fenced blocks of a Markdown text.
func parseBlocks(file, text string) ([]block, error) {
	var out []block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, ticks, info := m[1], m[2], strings.TrimSpace(m[3])
		b := block{file: file, line: i + 1, tags: map[string]string{}}
		words := strings.Fields(info)
		if len(words) > 0 {
			b.lang = words[0]
			for _, w := range words[1:] {
				k, v, _ := strings.Cut(w, "=")
				b.tags[k] = v
			}
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == ticks {
				closed = true
				break
			}
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: code block never closed", file, b.line)
		}
		b.body = strings.Join(body, "\n")
		if len(body) > 0 {
			b.body += "\n"
		}
		out = append(out, b)
	}
	return out, nil
}

// repoRoot is the repository, from the package directory.
var repoRoot = filepath.Join("..", "..")

// docFiles returns README.md and the Markdown files under docs/ and
// deploy/, relative to the repository root.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	for _, dir := range []string{"docs", "deploy"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".md") {
				rel, _ := filepath.Rel(repoRoot, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// docBlocks returns the fenced blocks of every doc file.
func docBlocks(t *testing.T) []block {
	t.Helper()
	var all []block
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := parseBlocks(f, string(data))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, bs...)
	}
	return all
}

func TestParseBlocks(t *testing.T) {
	text := "x\n```sh test\nlameduck --version\n```\n\n- item\n\n  ```text output\n  lameduck v1\n  ```\n```\nnever closed\n"
	_, err := parseBlocks("a.md", text)
	if err == nil || !strings.Contains(err.Error(), "a.md:11: code block never closed") {
		t.Fatalf("parseBlocks = %v, want a.md:11 never closed", err)
	}
	bs, err := parseBlocks("a.md", strings.TrimSuffix(text, "```\nnever closed\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 {
		t.Fatalf("parseBlocks found %d blocks, want 2", len(bs))
	}
	if b := bs[0]; b.lang != "sh" || !b.tag("test") || b.body != "lameduck --version\n" || b.line != 2 {
		t.Errorf("block 1 = %+v", b)
	}
	if b := bs[1]; b.lang != "text" || !b.tag("output") || b.body != "lameduck v1\n" {
		t.Errorf("block 2 = %+v, want the list item's indentation removed", b)
	}
}

// unwrittenPages are pages the docs link to before they exist.
var unwrittenPages = map[string]bool{"docs/benchmarks.md": true}

// TestDocLinks: every relative link of the docs points at a file that
// exists.
func TestDocLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p := filepath.Join(repoRoot, filepath.Dir(f), target)
			rel, _ := filepath.Rel(repoRoot, p)
			if _, err := os.Stat(p); err != nil && !unwrittenPages[filepath.ToSlash(rel)] {
				t.Errorf("%s links to %s, which does not exist", f, target)
			}
		}
	}
}
