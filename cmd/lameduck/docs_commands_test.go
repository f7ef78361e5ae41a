package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lameduck/lameduck/config"
)

// docCommand is a lameduck command line written in the docs.
type docCommand struct {
	env  map[string]string // assignments written before it
	args []string          // what follows "lameduck"
}

func (c docCommand) String() string { return "lameduck " + strings.Join(c.args, " ") }

// shellWords splits a command line like a shell: quotes group, a "#" that
// starts a word starts a comment, and the operators && || | ; & ( ) are
// words of their own. quoted reports, per word, whether a quote was used.
func shellWords(line string) (words []string, quoted []bool, err error) {
	var cur strings.Builder
	in, q := false, false
	flush := func() {
		if in {
			words, quoted = append(words, cur.String()), append(quoted, q)
			cur.Reset()
			in, q = false, false
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t':
			flush()
		case ch == '#' && !in:
			return words, quoted, nil
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(line[i+1:], ch)
			if end < 0 {
				return nil, nil, fmt.Errorf("unterminated %c in %q", ch, line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			in, q = true, true
		case ch == '\\' && i+1 < len(line):
			cur.WriteByte(line[i+1])
			i++
			in = true
		case strings.IndexByte("&|;()", ch) >= 0:
			flush()
			op := string(ch)
			if i+1 < len(line) && line[i+1] == ch && (ch == '&' || ch == '|') {
				op += op
				i++
			}
			words, quoted = append(words, op), append(quoted, false)
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	flush()
	return words, quoted, nil
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// operators end a command; after them (and after sudo) comes another.
var operators = map[string]bool{"&&": true, "||": true, "|": true, ";": true, "&": true, "(": true, ")": true}

// commandsInLine finds the lameduck command lines of one shell-like line:
// "lameduck" as a command word (at the start, after an operator, exec,
// env assignments or a Procfile's "web:"), or at the start of a quoted
// word such as a start command in a config file or an sh -c script.
func commandsInLine(line string) ([]docCommand, error) {
	line = strings.TrimPrefix(strings.TrimSpace(line), "$ ")
	words, quoted, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	var out []docCommand
	env := map[string]string{}
	commandStart := true
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case quoted[i] && (strings.HasPrefix(w, "lameduck ") || strings.HasPrefix(w, "exec lameduck ")):
			inner, err := commandsInLine(w)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
		case commandStart && assignment.MatchString(w):
			k, v, _ := strings.Cut(w, "=")
			env[k] = v
			continue
		case commandStart && (w == "exec" || strings.HasSuffix(w, ":")):
			continue
		case commandStart && w == "lameduck":
			c := docCommand{env: env}
			for i++; i < len(words) && (quoted[i] || !operators[words[i]]); i++ {
				c.args = append(c.args, os.Expand(words[i], expandPort))
			}
			out = append(out, c)
			env = map[string]string{}
			commandStart = true
			continue
		}
		commandStart = !quoted[i] && (operators[w] || w == "sudo")
		if !commandStart {
			env = map[string]string{}
		}
	}
	return out, nil
}

// expandPort expands $PORT, the one variable the docs' commands use, and
// leaves others as written.
func expandPort(name string) string {
	if name == "PORT" {
		return "8080"
	}
	return "$" + name
}

// commandsInTree finds lameduck commands in a YAML or JSON document: a
// string that starts with "lameduck ", a sequence that starts with
// "lameduck", or a mapping whose command or entrypoint is ["lameduck",
// ...] followed by its args or command.
func commandsInTree(n *yaml.Node) ([]docCommand, error) {
	var out []docCommand
	seq := func(n *yaml.Node) []string {
		if n == nil || n.Kind != yaml.SequenceNode {
			return nil
		}
		var s []string
		for _, c := range n.Content {
			s = append(s, c.Value)
		}
		return s
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return commandsInTree(n.Content[0])
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Value, "lameduck ") {
			return commandsInLine(n.Value)
		}
	case yaml.SequenceNode:
		if s := seq(n); len(s) > 0 && s[0] == "lameduck" {
			return []docCommand{{args: s[1:]}}, nil
		}
		for _, c := range n.Content {
			cs, err := commandsInTree(c)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	case yaml.MappingNode:
		keys := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[n.Content[i].Value] = n.Content[i+1]
		}
		if img := keys["image"]; img != nil && strings.Split(path.Base(img.Value), ":")[0] == "lameduck" {
			// The lameduck image, whose entrypoint is lameduck: its command
			// (Compose) or args (Kubernetes) are lameduck's arguments.
			for _, k := range []string{"command", "args"} {
				if s := seq(keys[k]); s != nil && keys["entrypoint"] == nil {
					out = append(out, docCommand{args: s})
					delete(keys, k)
				}
			}
		}
		for _, pair := range [][2]string{{"command", "args"}, {"entrypoint", "command"}, {"entryPoint", "command"}} {
			if first := seq(keys[pair[0]]); len(first) > 0 && first[0] == "lameduck" {
				args := append(first[1:], seq(keys[pair[1]])...)
				out = append(out, docCommand{args: args})
				delete(keys, pair[0])
				delete(keys, pair[1])
			}
		}
		for i := 1; i < len(n.Content); i += 2 {
			if _, kept := keys[n.Content[i-1].Value]; !kept {
				continue
			}
			cs, err := commandsInTree(n.Content[i])
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	}
	return out, nil
}

// blockCommands returns the lameduck commands of a block: by lines in
// shell-like blocks, from the tree in YAML and JSON, from ENTRYPOINT and
// CMD in a Dockerfile.
func blockCommands(b block) ([]docCommand, error) {
	switch strings.ToLower(b.lang) {
	case "sh", "bash", "console", "procfile", "ts", "toml":
		var out []docCommand
		logical := strings.ReplaceAll(b.body, "\\\n", " ")
		for _, line := range strings.Split(logical, "\n") {
			cs, err := commandsInLine(line)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		return out, nil
	case "yaml", "json":
		var out []docCommand
		dec := yaml.NewDecoder(strings.NewReader(b.body))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				if err.Error() == "EOF" {
					return out, nil
				}
				return nil, fmt.Errorf("%s block does not parse: %v", b.lang, err)
			}
			cs, err := commandsInTree(&doc)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	case "dockerfile":
		ins, err := parseDockerfile(b.body)
		if err != nil {
			return nil, err
		}
		final := finalStage(ins)
		ep, cmd := find(final, "ENTRYPOINT"), find(final, "CMD")
		if ep == nil || len(ep.exec) == 0 || ep.exec[0] != "lameduck" {
			return nil, nil
		}
		args := ep.exec[1:]
		if cmd != nil {
			if cmd.exec == nil {
				return nil, fmt.Errorf("CMD %s after ENTRYPOINT lameduck: want the exec form, or lameduck runs /bin/sh -c", cmd.args)
			}
			args = append(args, cmd.exec...)
		}
		return []docCommand{{args: args}}, nil
	}
	return nil, nil
}

// guideEnv is the environment of each platform, as the platform sets it,
// with the settings its guide tells users to make. The guide's commands
// must load there without a warning.
var guideEnv = map[string][]string{
	"docs/platforms/railway.md":    {"RAILWAY_ENVIRONMENT=production", "RAILWAY_SERVICE_ID=4f7c", "RAILWAY_DEPLOYMENT_DRAINING_SECONDS=45", "PORT=8080"},
	"docs/platforms/heroku.md":     {"DYNO=web.1", "PORT=8080"},
	"docs/platforms/fly.md":        {"FLY_APP_NAME=my-app"},
	"docs/platforms/render.md":     {"RENDER=true", "PORT=10000"},
	"docs/platforms/cloudrun.md":   {"K_SERVICE=my-service", "PORT=8080"},
	"docs/platforms/kubernetes.md": {"KUBERNETES_SERVICE_HOST=10.96.0.1"},
	"docs/platforms/ecs.md":        nil,
	"docs/platforms/docker.md":     nil,
}

// TestDocCommands loads every lameduck command line of the docs with
// lameduck's own configuration loader, so that a misspelt flag or a bad
// value in the docs fails here; in a platform guide, with that platform's
// environment, and without a warning.
func TestDocCommands(t *testing.T) {
	perFile := map[string]int{}
	noFile := func(string) ([]byte, error) { return nil, nil }
	for _, b := range docBlocks(t) {
		cs, err := blockCommands(b)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		for _, c := range cs {
			if len(c.args) > 0 && c.args[0] == "config" {
				continue // run by TestDocScripts
			}
			perFile[b.file]++
			// A user's shell has a home directory, where the TLS
			// storage goes by default.
			env := map[string]string{"HOME": "/home/user"}
			guide, isGuide := guideEnv[b.file]
			for _, kv := range guide {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := config.Load(c.args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, noFile)
			switch {
			case errors.Is(err, config.ErrHelp):
			case err != nil:
				t.Errorf("%s: %s: %v", b, c, err)
			case isGuide && len(cfg.Warnings) > 0:
				t.Errorf("%s: %s warns on its platform: %q", b, c, cfg.Warnings)
			}
		}
	}
	for file := range guideEnv {
		if perFile[file] == 0 {
			t.Errorf("%s has no lameduck command line (or does not exist)", file)
		}
	}
	if perFile["README.md"] == 0 {
		t.Error("found no lameduck command line in README.md")
	}
}

func TestCommandsInLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string // each command's args, joined by spaces
	}{
		{"lameduck --drain-timeout 28s -- node server.js   # comment", []string{"--drain-timeout 28s -- node server.js"}},
		{"$ PORT=3000 lameduck -- npm start", []string{"-- npm start"}},
		{"web: lameduck --stop-signal SIGINT -- node server.js", []string{"--stop-signal SIGINT -- node server.js"}},
		{`/bin/sh -c "exec lameduck --listen :$PORT -- node a.js"`, []string{"--listen :8080 -- node a.js"}},
		{`  start: "lameduck -- node index.js",`, []string{"-- node index.js,"}},
		{"go build -o lameduck ./cmd/lameduck && ./lameduck --version", nil},
		{"cat lameduck.yaml | lameduck config validate x", []string{"config validate x"}},
		{"echo lameduck --nope", nil},
	} {
		cs, err := commandsInLine(tc.line)
		if err != nil {
			t.Errorf("commandsInLine(%q): %v", tc.line, err)
			continue
		}
		var got []string
		for _, c := range cs {
			got = append(got, strings.Join(c.args, " "))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("commandsInLine(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// Output matching. Log lines are compared without their time, and without
// the values that change from run to run: process IDs, ports, addresses,
// durations in milliseconds, the version, a process ID in a message
// ("app group 812", "pid 812") whatever its length, and any other number of
// four or more digits.
var (
	logTime      = regexp.MustCompile(`^time=\S+ `)
	volatileKeys = regexp.MustCompile(`\b(pid|port|listen|upstream|admin|after|duration_ms|delay_ms|drain_ms|stop_ms|version|time_left)=("(?:[^"\\]|\\.)*"|\S+)`)
	pidInText    = regexp.MustCompile(`\b(group|pid) \d+\b`)
	longNumber   = regexp.MustCompile(`\b\d{4,}\b`)
)

func normalizeLine(s string) string {
	s = logTime.ReplaceAllString(strings.TrimRight(s, " \r"), "")
	s = volatileKeys.ReplaceAllString(s, "$1=…")
	s = pidInText.ReplaceAllString(s, "$1 N")
	return longNumber.ReplaceAllString(s, "N")
}

// matchLines checks that every line of want appears in got, in order,
// once both are normalized; it returns the first line that does not.
func matchLines(want, got string) error {
	gotLines := strings.Split(got, "\n")
	j := 0
	for _, w := range strings.Split(strings.TrimRight(want, "\n"), "\n") {
		nw := normalizeLine(w)
		for ; j < len(gotLines) && normalizeLine(gotLines[j]) != nw; j++ {
		}
		if j == len(gotLines) {
			return fmt.Errorf("line %q not found (in order) in the output:\n%s", w, got)
		}
		j++
	}
	return nil
}

func TestMatchLines(t *testing.T) {
	got := "time=2026-11-25T10:25:16.488Z level=INFO msg=\"app started\" pid=7772 port=33719 command=\"node server.js\"\n" +
		"level=WARN msg=\"app stopped\" duration_ms=2047 error=\"app group 8760 did not stop\"\nlast"
	if err := matchLines("level=INFO msg=\"app started\" pid=12 port=3000 command=\"node server.js\"\nlast\n", got); err != nil {
		t.Error(err)
	}
	if err := matchLines("level=WARN msg=\"app stopped\" duration_ms=5 error=\"app group 1234 did not stop\"\n", got); err != nil {
		t.Error(err)
	}
	// A process ID of fewer than four digits, as in a small container.
	short := "level=WARN msg=\"app stopped\" error=\"app group 87 did not stop on SIGTERM, sent SIGKILL: stop timeout 1s\"\n" +
		"level=ERROR msg=\"stop failed\" error=\"stop pid 7: send SIGTERM: no such process\""
	for _, want := range []string{
		"level=WARN msg=\"app stopped\" error=\"app group 14894 did not stop on SIGTERM, sent SIGKILL: stop timeout 1s\"",
		"level=ERROR msg=\"stop failed\" error=\"stop pid 31337: send SIGTERM: no such process\"",
	} {
		if err := matchLines(want, short); err != nil {
			t.Error(err)
		}
	}
	if want := "level=WARN msg=\"app stopped\" error=\"app group 87 did not stop on SIGINT, sent SIGKILL: stop timeout 1s\""; matchLines(want, short) == nil {
		t.Errorf("matchLines(%q) = nil, want an error", want)
	}
	for _, want := range []string{
		"level=INFO msg=\"app started\" pid=12 port=3000 command=\"npm start\"",        // a value that matters
		"last\nlevel=INFO msg=\"app started\" pid=1 port=2 command=\"node server.js\"", // order
	} {
		if err := matchLines(want, got); err == nil {
			t.Errorf("matchLines(%q) = nil, want an error", want)
		}
	}
}

// scriptEnv is the environment of the docs' scripts: this process's,
// without anything that would change lameduck's configuration.
func scriptEnv(extra ...string) []string {
	drop := map[string]bool{"PORT": true}
	for _, p := range config.Profiles() {
		for _, m := range p.Markers {
			drop[m] = true
		}
		drop[p.BudgetEnv] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] && !strings.HasPrefix(k, "LAMEDUCK") && !strings.HasPrefix(k, "GORACE") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// scratchDir makes the working directory of a docs script: the
// repository's top-level entries (so that go commands work), a small Node
// app as server.js with a package.json whose start script runs it, and
// bin/lameduck, first on PATH.
func scratchDir(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(repoRoot)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && e.Name() != "lameduck" && e.Name() != "node_modules" {
			if err := os.Symlink(filepath.Join(abs, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	app, err := os.ReadFile(testApp)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"server.js":    string(app),
		"package.json": `{"name": "app", "private": true, "scripts": {"start": "node server.js"}}` + "\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dir, "bin", "lameduck")); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
}

// TestDocScripts runs every block tagged "sh test" with bash, in a scratch
// directory, and checks the "text output" block after it, if any.
func TestDocScripts(t *testing.T) {
	blocks := docBlocks(t)
	ran := 0
	for i, b := range blocks {
		if b.lang == "text" && b.tag("output") && (i == 0 || !blocks[i-1].tag("test")) {
			t.Errorf("%s: a text output block that follows no sh test block", b)
		}
		if !b.tag("test") {
			continue
		}
		if b.lang != "sh" {
			t.Errorf("%s: only sh blocks can be tagged test", b)
			continue
		}
		var want *block
		if i+1 < len(blocks) && blocks[i+1].lang == "text" && blocks[i+1].tag("output") {
			want = &blocks[i+1]
		}
		ran++
		t.Run(strings.ReplaceAll(b.String(), "/", "_"), func(t *testing.T) {
			t.Parallel()
			dir, path := scratchDir(t)
			port := freeTestPort(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.body)
			cmd.Dir = dir
			cmd.Env = scriptEnv("PATH="+path, "PORT="+strconv.Itoa(port), "GORACE=atexit_sleep_ms=0")
			cmd.WaitDelay = time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: script failed: %v\n%s\n--- output:\n%s", b, err, b.body, out)
			}
			if want != nil {
				if err := matchLines(want.body, string(out)); err != nil {
					t.Errorf("%s: output does not match %s: %v", b, want, err)
				}
			}
		})
	}
	if ran < 5 {
		t.Errorf("ran %d docs scripts, want the docs to show more that run", ran)
	}
}
