package config

import (
	"flag"
	"strconv"
	"strings"
)

// ErrHelp is returned by Load when the command line asks for help (-h,
// -help or --help). The caller prints Usage to standard output and exits 0.
var ErrHelp = flag.ErrHelp

// Error is a configuration error: a bad value, an unknown key or flag, a
// malformed YAML file, or a rule that several options break together. Every
// error Load returns, except ErrHelp, is an *Error.
//
// Its message is one line that says where the problem is, in the words the
// user wrote it: the flag, the environment variable, or the file, line and
// dotted YAML key.
type Error struct {
	// Source is where the offending value came from: "flag", "env" or
	// "file". It is empty for rules across options and for usage errors
	// that belong to no single value.
	Source string

	// Name is the flag (with its dashes, "--drain-timeout"), the
	// environment variable, or the dotted YAML key the message is about. It
	// is empty when Msg names it itself, as for unknown keys and flags.
	Name string

	// File is the YAML file, for errors from it; empty otherwise.
	File string

	// Line is the line in File, counting from 1; zero when the file error
	// has no line (such as a file that cannot be read).
	Line int

	// Msg says what is wrong, such as `invalid duration "30" (did you mean
	// 30s?)`.
	Msg string
}

// Error returns the one-line form: `file:line: name: msg`, leaving out the
// parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Name != "" {
		b.WriteString(e.Name + ": ")
	}
	b.WriteString(e.Msg)
	return oneLine(b.String())
}

// oneLine replaces line breaks, so that whatever a user or a parser put in
// a message, the caller prints a single line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}
