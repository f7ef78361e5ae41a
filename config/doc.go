// Package config owns lameduck's settings: the Config type, the built-in
// defaults, platform profiles, the precedence between the sources, strict
// YAML decoding, validation, the drain plan, and the reference from which
// the help text and docs/configuration.md are generated.
//
// Typical use, in the command's wiring:
//
//	c, err := config.Load(os.Args[1:], os.LookupEnv, os.ReadFile)
//	if errors.Is(err, config.ErrHelp) {
//		config.Usage(stdout)
//		return 0
//	}
//	if err != nil {
//		fmt.Fprintf(stderr, "lameduck: %v\n", err) // one line
//		return 2
//	}
//	for _, w := range c.Warnings {
//		logger.Warn(w)
//	}
//	logger.Info("plan", "plan", c.Plan().String())
//
// # Sources
//
// Every option is a flag (-name or --name), an environment variable
// LAMEDUCK_NAME (upper case, dashes as underscores) and a dotted YAML key,
// all from one table of definitions. Precedence, highest first: flag,
// environment, YAML file, platform profile, built-in default. The exceptions:
// the app command is the command line's positional arguments or app.command
// (no variable); --config (LAMEDUCK_CONFIG) names the file and is not in it;
// --version is a flag only. LAMEDUCK_* variables that are not options are
// ignored, since Kubernetes injects some (LAMEDUCK_PORT=tcp://...) for a
// Service named lameduck.
//
// Values mean the same from every source: durations in Go syntax, never
// negative; booleans true, false, 1 or 0; "" is a value, and turns off the
// health path, the admin listener and the HTTP listener of TLS. A list
// (--tls-domain) is a repeated flag, a comma-separated variable, or a YAML
// list.
//
// # YAML
//
// The file holds one mapping, with sections upstream, app, drain, server
// and tls (see testdata/example.yaml). Unknown keys, duplicate keys, values of the
// wrong type, several documents and anchors merged with "<<" are errors
// naming the file, line and dotted key. An empty file sets nothing. A
// section with nothing under it is empty. A null option value ("admin:" or
// "admin: ~") is an error rather than a guess between "off" and "default":
// write "" to turn an option off, or remove the key for the default.
//
// # Platforms
//
// With --platform auto (the default) the platform is detected from the
// environment (see Profiles), and its profile supplies the shutdown delay,
// drain timeout, stop timeout and kill budget, below the file in
// precedence. When the kill budget is known and delay + drain + stop +
// KillMargin exceeds it, Load shrinks the drain timeout to fit and says so
// in Config.Warnings.
package config
