package config

import (
	"fmt"
	"io/fs"
	"strings"
)

// setting is one value from one source, already parsed.
type setting struct {
	opt *option
	val any
	src source
}

// layer is the settings from one source, in the order they were given; a
// later setting of the same option wins.
type layer []setting

func (l layer) find(key string) (setting, bool) {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].opt.key == key {
			return l[i], true
		}
	}
	return setting{}, false
}

// Load builds the effective configuration from the command line (args,
// without the program name), the environment (env, such as os.LookupEnv),
// and the YAML file named by --config or LAMEDUCK_CONFIG (read with
// readFile, such as os.ReadFile). It has no other inputs and no side
// effects.
//
// Precedence, highest first: flag, environment, file, platform profile,
// built-in default. A bad LAMEDUCK_ variable or file value is an error
// even where a higher source overrides it; PORT, the platform's own
// variables, and XDG_DATA_HOME and HOME (for the default --tls-storage)
// are read only when they are used. Every error is an *Error whose
// message is one line, except ErrHelp for -h and --help. Warnings go to
// Config.Warnings.
//
// With --version, Load returns at once with Version set, reading neither
// the environment nor the file.
func Load(args []string, env func(string) (string, bool), readFile func(string) ([]byte, error)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	if readFile == nil {
		readFile = func(name string) ([]byte, error) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
	}
	flags, command, err := parseFlags(args)
	if err != nil {
		return nil, err
	}
	c := &Config{sources: make(map[string]source, len(options))}
	if v, ok := flags.find(keyVersion); ok && v.val.(bool) {
		c.apply(defaults())
		c.apply(flags)
		return c, nil
	}

	envs, warnings, err := fromEnv(env)
	if err != nil {
		return nil, err
	}
	c.Warnings = warnings

	var file layer
	if s, ok := highest(keyConfig, flags, envs); ok && s.val.(string) != "" {
		name := s.val.(string)
		data, err := readFile(name)
		if err != nil {
			return nil, &Error{Source: s.src.kind, Name: s.src.display(s.opt), Msg: oneLine(err.Error())}
		}
		if file, err = decodeFile(name, data); err != nil {
			return nil, err
		}
	}

	base := defaults()
	if _, ok := highest(keyListen, flags, envs, file); !ok {
		s, err := listenFromPort(env)
		if err != nil {
			return nil, err
		}
		if s.opt != nil {
			base = append(base, s)
		}
	}
	platform, resolved, psrc, err := platformLayer(env, flags, envs, file)
	if err != nil {
		return nil, err
	}
	c.apply(base)
	c.apply(platform)
	c.apply(file)
	c.apply(envs)
	c.apply(flags)
	if len(command) > 0 {
		c.apply(layer{{opt: lookup(keyCommand), val: command, src: source{kind: srcArgs}}})
	}
	if c.Platform == "auto" {
		c.Platform, c.sources[keyPlatform] = resolved, psrc
	}

	c.tlsListen()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.tlsStorage(env); err != nil {
		return nil, err
	}
	c.fit()
	return c, nil
}

// apply stores every setting of l in c.
func (c *Config) apply(l layer) {
	for _, s := range l {
		s.opt.set(c, s.val)
		c.sources[s.opt.key] = s.src
	}
}

// highest returns the setting for key from the first layer that has one.
func highest(key string, layers ...layer) (setting, bool) {
	for _, l := range layers {
		if s, ok := l.find(key); ok {
			return s, true
		}
	}
	return setting{}, false
}

// defaults is the built-in default of every option, parsed from the same
// text the reference shows.
func defaults() layer {
	l := make(layer, 0, len(options))
	for _, o := range options {
		var v any = []string(nil)
		if o.kind != kindList {
			var err error
			if v, err = o.parseValue(o.def); err != nil {
				panic("config: bad default for " + o.key + ": " + err.Error())
			}
		}
		l = append(l, setting{opt: o, val: v, src: source{kind: srcDefault}})
	}
	return l
}

// listenFromPort returns the listen address ":$PORT" when PORT is set, as
// the platforms that route to $PORT expect. It returns an empty setting
// when PORT is unset or empty.
func listenFromPort(env func(string) (string, bool)) (setting, error) {
	v, ok := env("PORT")
	if !ok || v == "" {
		return setting{}, nil
	}
	if n, err := parseInt(v); err != nil || !isDigits(v) || n > 65535 {
		return setting{}, &Error{Source: "env", Name: "PORT", Msg: fmt.Sprintf("invalid port %q (used for the default --listen)", v)}
	}
	return setting{opt: lookup(keyListen), val: ":" + v, src: source{kind: srcEnv, name: "PORT"}}, nil
}

// fromEnv reads every option's LAMEDUCK_ variable. Variables lameduck does
// not define are never looked at, so the ones Kubernetes injects for a
// Service named lameduck (LAMEDUCK_PORT, LAMEDUCK_SERVICE_HOST...) are
// ignored.
func fromEnv(env func(string) (string, bool)) (layer, []string, error) {
	var l layer
	var warnings []string
	for _, o := range options {
		name := o.envName()
		if name == "" {
			continue
		}
		v, ok := env(name)
		if !ok {
			continue
		}
		if o.kind == kindInt && isServiceLink(v) {
			// A Service named "lameduck-app" makes Kubernetes inject
			// LAMEDUCK_APP_PORT=tcp://10.0.0.1:80 into every pod of the
			// namespace (Docker-style service links).
			svc := strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(name, "_PORT"), "_", "-"))
			warnings = append(warnings, fmt.Sprintf("ignored %s=%q: it is a Kubernetes service link for a Service named %q, not a setting; set enableServiceLinks: false in the pod spec or rename the Service", name, v, svc))
			continue
		}
		val, err := o.parseValue(v)
		if err != nil {
			msg := err.Error()
			if v == "" {
				msg += " (unset the variable for the default)"
			}
			return nil, nil, &Error{Source: "env", Name: name, Msg: msg}
		}
		l = append(l, setting{opt: o, val: val, src: source{kind: srcEnv, name: name}})
	}
	return l, warnings, nil
}

func isServiceLink(v string) bool {
	return strings.HasPrefix(v, "tcp://") || strings.HasPrefix(v, "udp://") || strings.HasPrefix(v, "sctp://")
}

// platformLayer resolves --platform, detecting the platform from env when
// it is auto, and returns the profile's settings together with the
// resolved name ("none" when no profile applies) and where an "auto" came
// to mean it.
func platformLayer(env func(string) (string, bool), layers ...layer) (layer, string, source, error) {
	name, src := "auto", source{kind: srcDefault}
	if s, ok := highest(keyPlatform, layers...); ok {
		name, src = s.val.(string), s.src
	}
	var p *Profile
	switch name {
	case "none":
		return nil, "none", src, nil
	case "auto":
		var marker string
		if p, marker = detect(env); p == nil {
			return nil, "none", src, nil
		}
		src = source{kind: srcEnv, name: marker}
	default:
		p = profileByName(name)
	}
	psrc := source{kind: srcPlatform, name: p.Name}
	l := layer{
		{opt: lookup(keyShutdownDelay), val: p.Delay, src: psrc},
		{opt: lookup(keyDrainTimeout), val: p.Drain, src: psrc},
		{opt: lookup(keyStopTimeout), val: p.Stop, src: psrc},
	}
	if _, ok := highest(keyKillBudget, layers...); !ok {
		budget, bsrc, known, err := p.budget(env)
		if err != nil {
			return nil, "", source{}, err
		}
		if known {
			l = append(l, setting{opt: lookup(keyKillBudget), val: budget, src: bsrc})
		}
	}
	return l, p.Name, src, nil
}
