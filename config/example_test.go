package config_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/lameduck/lameduck/config"
)

// The wiring passes os.Args[1:], os.LookupEnv and os.ReadFile; here the
// environment is that of a Railway deployment.
func ExampleLoad() {
	env := map[string]string{
		"PORT":                                "8080",
		"RAILWAY_SERVICE_ID":                  "4f7c",
		"RAILWAY_DEPLOYMENT_DRAINING_SECONDS": "30",
		"LAMEDUCK_STOP_TIMEOUT":               "3s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	args := []string{"--shutdown-delay=2s", "--", "node", "server.js"}

	c, err := config.Load(args, lookup, os.ReadFile)
	if err != nil {
		fmt.Printf("lameduck: %v\n", err)
		return
	}
	fmt.Println("command:", c.Command)
	fmt.Println("listen:", c.Listen, "from", c.Source("listen"))
	fmt.Println("delay:", c.ShutdownDelay, "from", c.Source("drain.shutdown_delay"))
	fmt.Println("stop:", c.StopTimeout, "from", c.Source("app.stop_timeout"))
	fmt.Println("drain:", c.DrainTimeout, "from", c.Source("drain.timeout"))
	for _, w := range c.Warnings {
		fmt.Println("warning:", w)
	}
	fmt.Println(c.Plan())
	// Output:
	// command: [node server.js]
	// listen: :8080 from env PORT
	// delay: 2s from flag
	// stop: 3s from env LAMEDUCK_STOP_TIMEOUT
	// drain: 23s from platform railway, shrunk to fit the kill budget
	// warning: kill budget 30s is shorter than delay 2s + drain 28s + stop 3s + 2s margin: drain timeout shrunk to 23s; raise RAILWAY_DEPLOYMENT_DRAINING_SECONDS or lower the delay
	// platform=railway kill_budget=30s delay=2s drain=23s stop=3s
}

// Errors are one line, for the caller to print after "lameduck: " before
// exiting with status 2.
func ExampleError() {
	noEnv := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{
		{"--drain-timeout", "30", "--", "node", "server.js"},
		{"--stop-signal", "SIGFOO", "--", "node", "server.js"},
		{},
	} {
		_, err := config.Load(args, noEnv, os.ReadFile)
		var e *config.Error
		if errors.As(err, &e) {
			fmt.Printf("lameduck: %v\n", e)
		}
	}
	// Output:
	// lameduck: --drain-timeout: invalid duration "30" (did you mean 30s?)
	// lameduck: --stop-signal: unknown signal "SIGFOO"
	// lameduck: --upstream is required when no app command is given
}
