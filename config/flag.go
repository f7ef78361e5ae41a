package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// flagValue is the flag.Value of one option: it parses with the option's
// parser and records the setting, or the one-line error, in its parser.
type flagValue struct {
	opt *option
	p   *flagParser
}

func (v flagValue) String() string   { return "" }
func (v flagValue) IsBoolFlag() bool { return v.opt.kind == kindBool }

func (v flagValue) Set(s string) error {
	val, err := v.opt.parseValue(s)
	if err != nil {
		// The flag package wraps this error in its own wording; keep ours.
		v.p.err = &Error{Source: "flag", Name: v.opt.flagName(), Msg: err.Error()}
		return v.p.err
	}
	if v.opt.kind == kindList {
		// A list flag is repeated to give several values.
		if prev, ok := v.p.settings.find(v.opt.key); ok {
			val = append(slices.Clone(prev.val.([]string)), val.([]string)...)
		}
	}
	v.p.settings = append(v.p.settings, setting{opt: v.opt, val: val, src: source{kind: srcFlag}})
	return nil
}

type flagParser struct {
	settings layer
	err      *Error
}

// parseFlags parses the command line: flags (as -flag or --flag, with the
// value after "=" or as the next argument), then the app command, which
// starts at the first argument that is not a flag or after "--".
func parseFlags(args []string) (layer, []string, error) {
	p := &flagParser{}
	fs := flag.NewFlagSet("lameduck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, o := range options {
		if o.flag != "" {
			fs.Var(flagValue{opt: o, p: p}, o.flag, o.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, ErrHelp
		}
		if p.err != nil {
			return nil, nil, p.err
		}
		return nil, nil, flagError(err)
	}
	return p.settings, fs.Args(), nil
}

// flagError rewrites the flag package's own errors in lameduck's words.
func flagError(err error) *Error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		m := "unknown flag --" + name
		if s := suggest(name, flagNames()); s != "" {
			m += fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return &Error{Msg: m}
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return &Error{Source: "flag", Name: "--" + strings.TrimLeft(name, "-"), Msg: "missing value"}
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return &Error{Msg: "bad flag syntax " + arg}
	}
	return &Error{Msg: msg}
}

func flagNames() []string {
	var names []string
	for _, o := range options {
		if o.flag != "" {
			names = append(names, o.flag)
		}
	}
	return names
}

// Usage writes the help text for the command line, generated from the same
// definitions Load uses.
func Usage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`Usage: lameduck [flags] [--] [APP [ARGS...]]
       lameduck config print|validate FILE|reference  (lameduck config --help)

lameduck is a reverse proxy that drains connections on SIGTERM. Given APP,
it starts it with PORT set and proxies to it (supervisor mode); without
APP, it proxies to --upstream (sidecar mode). On SIGTERM it fails
readiness, waits --shutdown-delay, closes its listeners, waits up to
--drain-timeout for in-flight requests, streams and WebSockets, then stops
the app and exits with its status.

Each flag can also be set with the environment variable shown, or in the
YAML file named by --config. Precedence: flag, environment, file, platform
profile, default. Durations use Go syntax (500ms, 20s, 1m30s).

Flags:
`)
	for _, o := range options {
		if o.flag == "" {
			continue
		}
		b.WriteString("  " + o.flagName())
		if o.meta != "" {
			b.WriteString(" " + o.meta)
		}
		if e := o.envName(); e != "" {
			b.WriteString("  [" + e + "]")
		}
		text := o.usage
		if o.kind != kindBool {
			text += "; default " + o.defaultText()
		}
		b.WriteString("\n" + wrap(text, "        ", 78) + "\n")
	}
	b.WriteString(`
Boolean flags take no value (--h2c), or one after "=" (--h2c=false).
`)
	io.WriteString(w, b.String())
}

// wrap breaks text into lines of at most width columns, each starting with
// indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}
