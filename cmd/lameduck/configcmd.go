package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lameduck/lameduck/config"
)

// configUsage is the help text of "lameduck config".
const configUsage = `Usage: lameduck config COMMAND [ARGS...]

Commands that check settings without starting anything:

  print [flags] [--] [APP [ARGS...]]
        print the effective configuration, after flags, LAMEDUCK_* variables,
        the YAML file and the platform profile, as a YAML file with the source
        of each value in a comment (a secret shows as <redacted>), then the
        warnings and the drain plan
  validate FILE [flags] [--] [APP [ARGS...]]
        load FILE as "lameduck --config FILE [flags] [APP...]" would, with this
        environment; print "FILE: ok" and the warnings, or the error and exit 2
  reference
        print every option and the platform profiles as Markdown tables, as in
        docs/configuration.md

An app command named "config" runs with "lameduck -- config".
`

// configCommand runs "lameduck config ...", args being what follows
// "config", and returns the exit status.
func configCommand(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return exitUsage
	}
	env := lookupEnv(environ)
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return exitOK
	case "print":
		cfg, code := loadForConfig(rest, env, stdout, stderr)
		if cfg == nil {
			return code
		}
		if err := cfg.WriteYAML(stdout); err != nil {
			fmt.Fprintf(stderr, "lameduck: %v\n", err)
			return exitFailure
		}
		return exitOK
	case "validate":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintln(stderr, "lameduck: config validate: want a FILE first (lameduck config validate FILE [flags] [-- APP...])")
			return exitUsage
		}
		cfg, code := loadForConfig(append([]string{"--config", rest[0]}, rest[1:]...), env, stdout, stderr)
		if cfg == nil {
			return code
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stderr, "lameduck: warning: %s\n", w)
		}
		fmt.Fprintf(stdout, "%s: ok (drain plan: %s)\n", rest[0], cfg.Plan())
		return exitOK
	case "reference":
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "lameduck: config reference: unexpected argument %q\n", rest[0])
			return exitUsage
		}
		if err := writeReference(stdout); err != nil {
			fmt.Fprintf(stderr, "lameduck: %v\n", err)
			return exitFailure
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "lameduck: config: unknown command %q (want print, validate or reference)\n", cmd)
		return exitUsage
	}
}

// loadForConfig loads the configuration for a config command; a nil Config
// comes with the exit status, the error or the help already printed.
func loadForConfig(args []string, env func(string) (string, bool), stdout, stderr io.Writer) (*config.Config, int) {
	cfg, err := config.Load(args, env, os.ReadFile)
	switch {
	case errors.Is(err, config.ErrHelp):
		config.Usage(stdout)
		return nil, exitOK
	case err != nil:
		fmt.Fprintf(stderr, "lameduck: %v\n", err)
		return nil, exitUsage
	}
	return cfg, exitOK
}

// writeReference writes the option reference and the platform profiles.
func writeReference(w io.Writer) error {
	if _, err := io.WriteString(w, "# lameduck configuration reference\n\n## Options\n\n"); err != nil {
		return err
	}
	if err := config.WriteReference(w); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n## Platform profiles\n\n"); err != nil {
		return err
	}
	return config.WriteProfiles(w)
}
