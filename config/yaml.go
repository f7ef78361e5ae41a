package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML file is decoded into a yaml.Node tree and walked against the
// option table, rather than unmarshalled into a struct, so that every
// problem can name the file, the line and the dotted key: unknown keys,
// duplicate keys, values of the wrong type, and bad values.
//
// Null values: a section written with nothing under it ("drain:" with all
// its keys commented out) is an empty section. A null option value
// ("admin:", "admin: null", "admin: ~") is an error, because it is
// ambiguous between "off" and "default": write "" for off, where the
// option allows it, or remove the key for the default.

// fileDecoder walks one file.
type fileDecoder struct {
	name     string
	settings layer
}

// decodeFile returns the settings in a YAML file. An empty file, or one
// holding only comments, has none.
func decodeFile(name string, data []byte) (l layer, err error) {
	defer func() {
		// The YAML parser reports errors by panicking internally and
		// recovering; should an input ever escape that, it is still a
		// one-line error, not a crash.
		if r := recover(); r != nil {
			l, err = nil, &Error{Source: "file", File: name, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(name, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(name, err)
		}
		return nil, &Error{Source: "file", File: name, Line: next.Line, Msg: "more than one YAML document; put every setting in one"}
	}
	d := &fileDecoder{name: name}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	root = deref(root)
	switch {
	case isNull(root):
		return nil, nil
	case root.Kind != yaml.MappingNode:
		return nil, d.errorf(root, "", "want a mapping of settings at the top level, got %s", describe(root))
	}
	if err := d.mapping(root, ""); err != nil {
		return nil, err
	}
	return d.settings, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error into an Error with its line.
func syntaxError(name string, err error) *Error {
	msg := oneLine(err.Error())
	e := &Error{Source: "file", File: name}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	e.Msg = "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	return e
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what a node is, for "want ..., got ..." messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

func (d *fileDecoder) errorf(n *yaml.Node, key, format string, args ...any) *Error {
	return &Error{Source: "file", File: d.name, Line: n.Line, Name: key, Msg: fmt.Sprintf(format, args...)}
}

// mapping walks the keys of n, a mapping at the top level (prefix "") or a
// section such as "drain.".
func (d *fileDecoder) mapping(n *yaml.Node, prefix string) error {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return d.errorf(k, "", "want a key name, got %s", describe(k))
		}
		if k.Value == "<<" {
			return d.errorf(k, "", `merge keys ("<<") are not supported; write the settings out`)
		}
		full := prefix + k.Value
		if first, dup := seen[k.Value]; dup {
			return d.errorf(k, "", "duplicate key %q (first at line %d)", full, first)
		}
		seen[k.Value] = k.Line
		if o := yamlOption(full); o != nil && !strings.Contains(k.Value, ".") {
			if err := d.value(o, k, v); err != nil {
				return err
			}
			continue
		}
		if prefix == "" && isSection(full) {
			switch {
			case isNull(v):
			case v.Kind == yaml.MappingNode:
				if err := d.mapping(v, full+"."); err != nil {
					return err
				}
			default:
				return d.errorf(v, full, "want a mapping (keys %s), got %s", strings.Join(sectionKeys(full), ", "), describe(v))
			}
			continue
		}
		return d.errorf(k, "", "%s", unknownKey(full, prefix))
	}
	return nil
}

// unknownKey words the error for a key that is not an option.
func unknownKey(full, prefix string) string {
	msg := fmt.Sprintf("unknown key %q", full)
	if section, leaf, ok := strings.Cut(full, "."); ok && prefix == "" && yamlOption(full) != nil {
		// "drain.timeout: 20s" at the top level: keys are nested.
		return msg + fmt.Sprintf(" (write %q under %q)", leaf, section+":")
	}
	if o := lookup(full); o != nil && prefix == "" && !o.yaml {
		return msg + fmt.Sprintf(" (%s is not read from the file)", o.flagName())
	}
	if s := suggest(full, yamlKeys()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// value decodes the value node v of option o, whose key node is k.
func (d *fileDecoder) value(o *option, k, v *yaml.Node) error {
	if isNull(v) {
		hint := "remove the key for the default"
		if o.offEmpty {
			hint = `write "" to turn it off, or remove the key for the default`
		}
		return d.errorf(v, o.key, "want %s, got null (%s)", o.kind.want(), hint)
	}
	if o.kind == kindList {
		return d.list(o, k, v)
	}
	if v.Kind != yaml.ScalarNode {
		return d.errorf(v, o.key, "want %s, got %s", o.kind.want(), describe(v))
	}
	val, err := o.parseValue(v.Value)
	if err != nil {
		return d.errorf(v, o.key, "%v", err)
	}
	d.settings = append(d.settings, setting{opt: o, val: val, src: source{kind: srcFile, name: d.name, line: k.Line}})
	return nil
}

// list decodes a list of strings, such as app.command or tls.domains.
func (d *fileDecoder) list(o *option, k, v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		msg := fmt.Sprintf("want %s, got %s", o.kind.want(), describe(v))
		if v.Kind == yaml.ScalarNode {
			if f := strings.Fields(v.Value); len(f) > 0 {
				q := make([]string, len(f))
				for i, s := range f {
					q[i] = strconv.Quote(s)
				}
				msg += " (write [" + strings.Join(q, ", ") + "])"
			}
		}
		return d.errorf(v, o.key, "%s", msg)
	}
	items := make([]string, 0, len(v.Content))
	for i, item := range v.Content {
		item = deref(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			return d.errorf(item, fmt.Sprintf("%s[%d]", o.key, i), "want a string, got %s", describe(item))
		}
		if o.parse == nil {
			items = append(items, item.Value)
			continue
		}
		// Items are checked one by one, so that an error points at its line.
		val, err := o.parse(item.Value)
		if err != nil {
			return d.errorf(item, fmt.Sprintf("%s[%d]", o.key, i), "%v", err)
		}
		items = append(items, val.([]string)...)
	}
	if len(items) == 0 {
		items = nil
	}
	d.settings = append(d.settings, setting{opt: o, val: items, src: source{kind: srcFile, name: d.name, line: k.Line}})
	return nil
}

// yamlOption returns the option with YAML key key, or nil.
func yamlOption(key string) *option {
	for _, o := range options {
		if o.yaml && o.key == key {
			return o
		}
	}
	return nil
}

// isSection reports whether name is a section such as "drain".
func isSection(name string) bool { return len(sectionKeys(name)) > 0 }

// sectionKeys returns the keys under section name, without the prefix.
func sectionKeys(name string) []string {
	var keys []string
	for _, o := range options {
		if leaf, ok := strings.CutPrefix(o.key, name+"."); ok && o.yaml {
			keys = append(keys, leaf)
		}
	}
	return keys
}

// yamlKeys returns every dotted key and section name, for suggestions.
func yamlKeys() []string {
	var keys []string
	seen := map[string]bool{}
	for _, o := range options {
		if !o.yaml {
			continue
		}
		keys = append(keys, o.key)
		if section, _, ok := strings.Cut(o.key, "."); ok && !seen[section] {
			seen[section] = true
			keys = append(keys, section)
		}
	}
	return keys
}
