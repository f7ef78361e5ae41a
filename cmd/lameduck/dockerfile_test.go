package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// No Docker engine runs where the tests run, so the image is tested in
// parts: the Dockerfile parses, its build command makes a static binary,
// and that binary runs as the image's entrypoint in a root file system
// that holds nothing else.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int      // where it starts, from 1
	cmd  string   // upper case: FROM, RUN, COPY...
	args string   // the rest of the line
	exec []string // the JSON array of an exec form (CMD, ENTRYPOINT, RUN, SHELL), else nil
}

// dockerInstructions are the instructions the Dockerfile reference defines.
var dockerInstructions = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true, "ENV": true, "ADD": true,
	"COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true,
	"ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true, "MAINTAINER": true,
}

// parseDockerfile splits a Dockerfile into instructions and checks what a
// builder would reject or, worse, silently misread: an unknown instruction,
// an exec form that is not a JSON array of strings (Docker then runs it
// through /bin/sh, which a distroless image does not have), an instruction
// before the first FROM other than ARG, a COPY --from naming a later stage,
// a line continued at the end of the file. An image in COPY --from is
// written with a tag or a registry (lameduck:latest), so that a misspelt
// stage name is not taken for an image.
func parseDockerfile(text string) ([]instruction, error) {
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || line == "" {
			continue // comments, parser directives, blank lines, also inside a continuation
		}
		cont := strings.HasSuffix(line, `\`)
		line = strings.TrimSuffix(line, `\`)
		if cur == nil {
			word, rest, _ := strings.Cut(line, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(word), args: strings.TrimSpace(rest)}
		} else if line != "" {
			cur.args += " " + line
		}
		if cont {
			continue
		}
		out = append(out, *cur)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: %s continues past the end of the file", cur.line, cur.cmd)
	}
	stages := map[string]bool{}
	for i := range out {
		in := &out[i]
		if !dockerInstructions[in.cmd] {
			return nil, fmt.Errorf("line %d: unknown instruction %q", in.line, in.cmd)
		}
		if len(stages) == 0 && in.cmd != "FROM" && in.cmd != "ARG" {
			return nil, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		}
		switch in.cmd {
		case "FROM":
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			switch {
			case len(f) == 1:
				stages[fmt.Sprint(len(stages))] = true
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				stages[strings.ToLower(f[2])] = true
			default:
				return nil, fmt.Errorf("line %d: want FROM [--platform=...] IMAGE [AS NAME], got %q", in.line, in.args)
			}
		case "CMD", "ENTRYPOINT", "RUN", "SHELL":
			if !strings.HasPrefix(in.args, "[") {
				if in.cmd == "SHELL" {
					return nil, fmt.Errorf("line %d: SHELL needs a JSON array", in.line)
				}
				continue
			}
			if err := json.Unmarshal([]byte(in.args), &in.exec); err != nil {
				return nil, fmt.Errorf("line %d: %s %s is not a JSON array of strings, so it would run through /bin/sh: %v", in.line, in.cmd, in.args, err)
			}
		case "COPY":
			for _, f := range strings.Fields(in.args) {
				from, ok := strings.CutPrefix(f, "--from=")
				if ok && !strings.ContainsAny(from, "/:.") && !stages[strings.ToLower(from)] {
					return nil, fmt.Errorf("line %d: COPY --from=%s names no earlier stage", in.line, from)
				}
			}
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return out, nil
}

// finalStage returns the instructions of the last stage, from its FROM.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

// find returns the last instruction cmd of ins, or nil.
func find(ins []instruction, cmd string) *instruction {
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].cmd == cmd {
			return &ins[i]
		}
	}
	return nil
}

func TestParseDockerfileRejects(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"unknown instruction", "FROM scratch\nCOPPY a b\n", `unknown instruction "COPPY"`},
		{"exec form with single quotes", "FROM scratch\nENTRYPOINT ['lameduck', '--']\n", "not a JSON array"},
		{"exec form with a trailing comma", "FROM scratch\nCMD [\"node\",]\n", "not a JSON array"},
		{"before FROM", "COPY a b\nFROM scratch\n", "COPY before the first FROM"},
		{"unknown stage", "FROM golang AS build\nFROM scratch\nCOPY --from=bulid /a /a\n", "COPY --from=bulid names no earlier stage"},
		{"continued at the end", "FROM scratch\nRUN a \\\n", "continues past the end"},
		{"no FROM", "ARG X=1\n", "no FROM"},
		{"bad FROM", "FROM a b c d\n", "want FROM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDockerfile(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseDockerfile(%q) = %v, want an error with %q", tc.text, err, tc.want)
			}
		})
	}
	ins, err := parseDockerfile("# syntax=docker/dockerfile:1\nARG V=1\nFROM a AS b\nRUN x \\\n  # comment\n  && y\nFROM scratch\nCOPY --from=b /x /y\nENTRYPOINT [\"lameduck\", \"--\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := find(ins, "RUN").args; got != "x && y" {
		t.Errorf("RUN joined = %q, want %q", got, "x && y")
	}
	if got := find(ins, "ENTRYPOINT").exec; strings.Join(got, " ") != "lameduck --" {
		t.Errorf("ENTRYPOINT exec = %q", got)
	}
}

// repoDockerfile parses the repository's Dockerfile.
func repoDockerfile(t *testing.T) []instruction {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return ins
}

// imageBuild is what the Dockerfile says about the binary: the build
// command, where it writes the binary, and where the image holds it.
type imageBuild struct {
	run        string   // the RUN line with go build
	out        string   // its -o
	dest       string   // the final stage's COPY --from destination
	entrypoint []string // the final stage's ENTRYPOINT
}

func dockerfileBuild(t *testing.T) imageBuild {
	t.Helper()
	ins := repoDockerfile(t)
	var b imageBuild
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			b.run = in.args
		}
	}
	if m := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(b.run); m != nil {
		b.out = m[1]
	}
	final := finalStage(ins)
	from := strings.Fields(final[0].args)
	if base := from[len(from)-1]; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final stage FROM %s, want a distroless static base (CA certificates, no libc) or scratch", base)
	}
	if cp := find(final, "COPY"); cp != nil {
		f := strings.Fields(cp.args)
		if len(f) == 3 && f[1] == b.out {
			b.dest = f[2]
		}
	}
	if ep := find(final, "ENTRYPOINT"); ep != nil {
		b.entrypoint = ep.exec
	}
	switch {
	case b.run == "" || b.out == "":
		t.Fatal("Dockerfile: no RUN ... go build ... -o FILE")
	case !strings.Contains(b.run, "CGO_ENABLED=0"):
		t.Errorf("Dockerfile: the build %q does not set CGO_ENABLED=0", b.run)
	case b.dest == "":
		t.Fatalf("Dockerfile: the final stage does not COPY --from the build's %s", b.out)
	case len(b.entrypoint) == 0:
		t.Fatal("Dockerfile: the final stage has no exec-form ENTRYPOINT")
	}
	return b
}

// defaultPath is the PATH of distroless images, and the one Docker and
// containerd give a container whose image sets none.
var defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TestDockerfile: the image's entrypoint is lameduck, found on the default
// PATH where the build's binary is copied, and stays PID 1 (exec form); the
// ENTRYPOINT and CMD are those docs/container.md shows.
func TestDockerfile(t *testing.T) {
	b := dockerfileBuild(t)
	if b.entrypoint[0] != path.Base(b.dest) || !strings.Contains(":"+defaultPath+":", ":"+path.Dir(b.dest)+":") {
		t.Errorf("ENTRYPOINT %q does not name %s on the default PATH", b.entrypoint, b.dest)
	}
	var cmd []string
	if c := find(finalStage(repoDockerfile(t)), "CMD"); c != nil {
		cmd = c.exec
	}
	doc := readFile(t, filepath.Join(repoRoot, "docs", "container.md"))
	wantEntry, wantCmd := docImageCommand(t, doc)
	if !slices.Equal(b.entrypoint, wantEntry) {
		t.Errorf("Dockerfile: ENTRYPOINT %q, but docs/container.md shows %q", b.entrypoint, wantEntry)
	}
	if !slices.Equal(cmd, wantCmd) {
		t.Errorf("Dockerfile: CMD %q, but docs/container.md shows %q", cmd, wantCmd)
	}
}

// docImageCommand returns the ENTRYPOINT and CMD that the opening of
// docs/container.md, before its first section, shows for the repository's
// image, as exec forms in code spans; no CMD span means none.
func docImageCommand(t *testing.T, doc string) (entrypoint, cmd []string) {
	t.Helper()
	intro, _, _ := strings.Cut(doc, "\n## ")
	form := func(word string) []string {
		m := regexp.MustCompile("`" + word + ` (\[[^\]` + "`" + `]*\])` + "`").FindStringSubmatch(intro)
		if m == nil {
			return nil
		}
		var exec []string
		if err := json.Unmarshal([]byte(m[1]), &exec); err != nil || len(exec) == 0 {
			t.Fatalf("docs/container.md: %s %s: want a JSON array of strings", word, m[1])
		}
		return exec
	}
	if entrypoint = form("ENTRYPOINT"); entrypoint == nil {
		t.Fatal("docs/container.md does not show the image's ENTRYPOINT before its first section")
	}
	return entrypoint, form("CMD")
}

func TestDocImageCommand(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		entry []string
		cmd   []string
	}{
		{"# C\n\nIts entrypoint is `ENTRYPOINT [\"lameduck\"]`, with no `CMD`.\n", []string{"lameduck"}, nil},
		{"# C\n\n`ENTRYPOINT [\"lameduck\", \"--\"]` and `CMD [\"node\", \"server.js\"]`\n\n## Later\n`CMD [\"x\"]`", []string{"lameduck", "--"}, []string{"node", "server.js"}},
		{"# C\n\n`ENTRYPOINT [\"lameduck\"]`\n\n## Later\n`CMD [\"npm\", \"start\"]`", []string{"lameduck"}, nil},
	} {
		entry, cmd := docImageCommand(t, tc.doc)
		if !slices.Equal(entry, tc.entry) || !slices.Equal(cmd, tc.cmd) {
			t.Errorf("docImageCommand(%q) = %q, %q, want %q, %q", tc.doc, entry, cmd, tc.entry, tc.cmd)
		}
	}
}

// TestImageBinary builds the binary with the Dockerfile's own build command,
// checks that it is static, and runs it as the image would: as the
// entrypoint, found on PATH, in a root file system that holds only the
// binary, serving in sidecar mode and draining on SIGTERM.
func TestImageBinary(t *testing.T) {
	t.Parallel()
	fileTool := toolPath(t, "file")
	lddTool := toolPath(t, "ldd")
	b := dockerfileBuild(t)
	root := t.TempDir()
	bin := filepath.Join(root, filepath.FromSlash(b.dest))
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	script := strings.Replace(b.run, b.out, bin, 1)
	build := exec.Command("sh", "-c", script)
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH, "VERSION=v0.0.0-image-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	out, err := exec.Command(fileTool, bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "statically linked") {
		t.Errorf("file %s = %q (%v), want statically linked", bin, out, err)
	}
	out, _ = exec.Command(lddTool, bin).CombinedOutput()
	if !strings.Contains(string(out), "not a dynamic executable") {
		t.Errorf("ldd %s = %q, want not a dynamic executable", bin, out)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to chroot into a root file system that holds only the binary")
	}
	chroot := toolPath(t, "chroot")
	// chroot looks the entrypoint up on PATH inside the new root, as the
	// container runtime does.
	entry := append([]string{root}, b.entrypoint...)
	version := exec.Command(chroot, append(entry, "--version")...)
	version.Env = []string{"PATH=" + defaultPath}
	if out, err := version.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "lameduck v0.0.0-image-test" {
		t.Fatalf("chroot %s --version = %q (%v)", strings.Join(entry, " "), out, err)
	}
	up := goUpstream(t)
	in := startProgram(t, []string{"PATH=" + defaultPath}, chroot, append(entry,
		"--log-format", "json", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", up.URL)...)
	m := in.waitLog("msg", "lameduck starting")
	in.addr = fmt.Sprint(m["listen"])
	in.ready()
	if body := mustGet(t, httpClient(t), in.url("/x"), 200); body != "sidecar /x" {
		t.Fatalf("GET /x = %q", body)
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	in.waitLog("msg", "drain report")
}
