package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lameduck/lameduck/config"
)

var update = flag.Bool("update", false, "rewrite the generated parts of the docs")

// TestConfigurationDoc keeps docs/configuration.md in step with the code:
// its reference tables and example file are generated from config's own
// definitions. Run `go test ./cmd/lameduck -run Doc -update` after changing
// an option.
func TestConfigurationDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "configuration.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ref, prof bytes.Buffer
	if err := config.WriteReference(&ref); err != nil {
		t.Fatal(err)
	}
	if err := config.WriteProfiles(&prof); err != nil {
		t.Fatal(err)
	}
	got := string(doc)
	for name, body := range map[string]string{
		"config.WriteReference":        ref.String(),
		"config.WriteProfiles":         prof.String(),
		"config/testdata/example.yaml": "```yaml\n" + string(example) + "```\n",
	} {
		re := regexp.MustCompile(`(?s)(<!-- BEGIN generated: ` + regexp.QuoteMeta(name) + ` -->\n).*?(<!-- END generated -->)`)
		if !re.MatchString(got) {
			t.Fatalf("%s: no generated section for %s", path, name)
		}
		body = strings.TrimSuffix(body, "\n") + "\n"
		got = re.ReplaceAllLiteralString(got, "<!-- BEGIN generated: "+name+" -->\n"+body+"<!-- END generated -->")
	}
	if got == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the code: run go test ./cmd/lameduck -run Doc -update", path)
}

// TestReadmeFlags: the README's flag table names every flag.
func TestReadmeFlags(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range config.Reference() {
		if o.Flag == "" || strings.HasPrefix(o.Flag, "arguments") {
			continue
		}
		if !bytes.Contains(readme, []byte(o.Flag)) {
			t.Errorf("README.md does not mention %s", o.Flag)
		}
	}
}
