package config

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WriteYAML writes c as a configuration file: every option the file can
// hold, with its effective value followed by a comment that says where the
// value came from (see Source), grouped in the file's sections; then, as
// comments, the file that was read, the warnings and the drain plan. Load
// reads the output back to the same values, so it is also a starting point
// for a file of one's own. The exception is a secret, such as the admin
// token: when set, it is written as <redacted>, which Load refuses until
// the real value is put back.
func (c *Config) WriteYAML(w io.Writer) error {
	type line struct{ text, src string }
	var lines []line
	done := map[string]bool{}
	for _, o := range options {
		if !o.yaml {
			continue
		}
		section, _, nested := strings.Cut(o.key, ".")
		if !nested {
			lines = append(lines, line{o.key + ": " + c.printValue(o), c.Source(o.key)})
			continue
		}
		if done[section] {
			continue
		}
		done[section] = true
		if section == "tls" && !c.TLS() && c.allDefault(section) {
			lines = append(lines, line{text: "# tls: off (no --tls-domain, --tls-on-demand or --tls-cert)"})
			continue
		}
		lines = append(lines, line{text: section + ":"})
		for _, so := range options {
			if s, name, ok := strings.Cut(so.key, "."); ok && s == section && so.yaml {
				lines = append(lines, line{"  " + name + ": " + c.printValue(so), c.Source(so.key)})
			}
		}
	}
	width := 0
	for _, l := range lines {
		if l.src != "" {
			width = max(width, len(l.text))
		}
	}
	var b strings.Builder
	b.WriteString("# lameduck's effective configuration. Precedence: flags, then LAMEDUCK_*\n")
	b.WriteString("# variables, then the file, then the platform profile, then defaults;\n")
	b.WriteString("# each comment says where the value came from.\n")
	for _, l := range lines {
		if l.src == "" {
			b.WriteString(l.text + "\n")
			continue
		}
		fmt.Fprintf(&b, "%-*s  # %s\n", width, l.text, l.src)
	}
	for _, o := range options {
		if !o.yaml && o.flag != "" && o.kind != kindBool && c.Source(o.key) != srcDefault {
			fmt.Fprintf(&b, "# %s %s (%s; not a key of the file)\n", o.flagName(), c.printValue(o), c.Source(o.key))
		}
	}
	for _, warning := range c.Warnings {
		b.WriteString("# warning: " + warning + "\n")
	}
	b.WriteString("# drain plan: " + c.Plan().String() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// redacted is what WriteYAML prints in place of a secret that is set.
const redacted = "<redacted>"

// printValue is the option's value as WriteYAML prints it: yamlValue, or
// redacted for a secret that is set.
func (c *Config) printValue(o *option) string {
	if p, ok := o.field(c).(*string); ok && o.secret && *p != "" {
		return redacted
	}
	return yamlValue(o.field(c))
}

// parseSecret refuses the placeholder WriteYAML prints for a secret, so
// that a printed file does not run with "<redacted>" as the token.
func parseSecret(s string) (any, error) {
	if s == redacted {
		return nil, errors.New(`"<redacted>" is what lameduck config print shows in place of the secret; put the real value back`)
	}
	return s, nil
}

// yamlValue formats a field for the file, in a form its decoder reads back
// to the same value.
func yamlValue(field any) string {
	switch v := field.(type) {
	case *string:
		return strconv.Quote(*v)
	case *time.Duration:
		if *v < 0 {
			return "none"
		}
		return formatDuration(*v)
	case *int:
		return strconv.Itoa(*v)
	case *bool:
		return strconv.FormatBool(*v)
	case *syscall.Signal:
		return signalName(*v)
	case *[]string:
		q := make([]string, len(*v))
		for i, s := range *v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	panic(fmt.Sprintf("config: no YAML form for %T", field))
}

// allDefault reports whether every key of a YAML section has its default.
func (c *Config) allDefault(section string) bool {
	for _, o := range options {
		if s, _, ok := strings.Cut(o.key, "."); ok && s == section && c.sources[o.key].kind != srcDefault {
			return false
		}
	}
	return true
}
