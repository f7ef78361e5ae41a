package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want section of testdata/*.txtar")

// TestGolden runs every testdata/*.txtar case. Each archive holds:
//
//	args           the command line, split like a shell (quotes, no expansion)
//	env            KEY=VALUE lines
//	<file>.yaml    files readFile can return (optional)
//	want           the effective configuration with sources, "help" and the
//	               usage text, or "error: " and the one-line error
//
// go test ./config -run Golden -update rewrites want.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			args, env, files := goldenInputs(t, ar)
			got := runLoad(t, args, env, files)
			want := section(ar, "want")
			if got == want {
				return
			}
			if *update {
				setSection(ar, "want", got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Errorf("Load(%q) =\n%s\nwant\n%s", args, got, want)
		})
	}
}

// goldenInputs returns the arguments, environment and files of a case.
func goldenInputs(t *testing.T, ar *txtar.Archive) ([]string, map[string]string, map[string][]byte) {
	t.Helper()
	args, err := splitWords(section(ar, "args"))
	if err != nil {
		t.Fatalf("args: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(section(ar, "env"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env line %q: want KEY=VALUE", line)
		}
		env[k] = v
	}
	files := map[string][]byte{}
	for _, f := range ar.Files {
		switch f.Name {
		case "args", "env", "want":
		default:
			files[f.Name] = f.Data
		}
	}
	return args, env, files
}

// runLoad calls Load with the given inputs and prints the result in the
// form of a golden file's want section.
func runLoad(t *testing.T, args []string, env map[string]string, files map[string][]byte) string {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	read := func(name string) ([]byte, error) {
		if data, ok := files[name]; ok {
			return data, nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	c, err := Load(args, lookup, read)
	if errors.Is(err, ErrHelp) {
		var b bytes.Buffer
		Usage(&b)
		return "help\n" + b.String()
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Load(%q) error %T, want *Error", args, err)
		}
		if c != nil {
			t.Errorf("Load(%q) returned a Config with error %v", args, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("Load(%q) error is not one line: %q", args, msg)
		}
		return "error: " + msg + "\n"
	}
	return dump(c)
}

// dump prints every option's effective value and source, then the
// warnings and the plan.
func dump(c *Config) string {
	var b strings.Builder
	for _, o := range options {
		fmt.Fprintf(&b, "%s = %s (%s)\n", o.key, formatField(o.field(c)), c.Source(o.key))
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	fmt.Fprintf(&b, "plan: %s\n", c.Plan())
	return b.String()
}

func formatField(p any) string {
	switch v := p.(type) {
	case *string:
		return fmt.Sprintf("%q", *v)
	case *time.Duration:
		if *v < 0 {
			return "none"
		}
		return formatDuration(*v)
	case *int:
		return fmt.Sprint(*v)
	case *bool:
		return fmt.Sprint(*v)
	case *syscall.Signal:
		return signalName(*v)
	case *[]string:
		return fmt.Sprintf("%q", *v)
	}
	panic(fmt.Sprintf("formatField: unsupported %T", p))
}

func section(ar *txtar.Archive, name string) string {
	for _, f := range ar.Files {
		if f.Name == name {
			return string(f.Data)
		}
	}
	return ""
}

func setSection(ar *txtar.Archive, name, data string) {
	for i := range ar.Files {
		if ar.Files[i].Name == name {
			ar.Files[i].Data = []byte(data)
			return
		}
	}
	ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(data)})
}

// splitWords splits s into words like a shell: blanks separate words,
// single and double quotes group (with no escapes inside), and "" is an
// empty word.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case ' ', '\t', '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\'', '"':
			end := strings.IndexByte(s[i+1:], ch)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c", ch)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
