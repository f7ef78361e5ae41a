package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Option describes one setting, for the generated configuration reference.
type Option struct {
	// Key is the option's name for Config.Source: its YAML key, or its
	// flag name when it cannot be set in the file.
	Key string

	// Flag is the command-line flag with its dashes ("--drain-timeout").
	// Empty for the app command, which is the arguments after the flags.
	Flag string

	// Env is the environment variable. Empty when there is none.
	Env string

	// YAML is the dotted key in the YAML file. Empty when the option
	// cannot be set there.
	YAML string

	// Default is the built-in default, as text.
	Default string

	// Meaning says what the option does.
	Meaning string
}

// Reference returns every option in the order of the help text.
func Reference() []Option {
	out := make([]Option, 0, len(options))
	for _, o := range options {
		r := Option{Key: o.key, Flag: o.flagName(), Env: o.envName(), Default: o.defaultText(), Meaning: o.usage}
		if o.yaml {
			r.YAML = o.key
		}
		out = append(out, r)
	}
	return out
}

// defaultText is the default as the help text and reference show it.
func (o *option) defaultText() string {
	if o.doc != "" {
		return o.doc
	}
	if o.kind == kindString {
		return strconv.Quote(o.def)
	}
	return o.def
}

// WriteReference writes every option as a Markdown table with the columns
// flag, environment variable, YAML key, default and meaning.
func WriteReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| Flag | Environment | YAML key | Default | Meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for i, r := range Reference() {
		flagCell := code(r.Flag)
		if r.Flag == "" {
			flagCell = "arguments after the flags"
		}
		def := mdEscape(r.Default)
		if options[i].doc == "" {
			def = code(r.Default) // a value, not a description
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", flagCell, code(r.Env), code(r.YAML), def, mdEscape(r.Meaning))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// code formats s as inline code, or a dash when it is empty.
func code(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// mdEscape makes s safe inside a Markdown table cell.
func mdEscape(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
