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

// WriteYAML shows the effective configuration as a file, with where each
// value came from: what "lameduck config print" prints.
func ExampleConfig_WriteYAML() {
	env := map[string]string{"PORT": "8080", "LAMEDUCK_ADMIN": ":9901", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := config.Load([]string{"--kill-budget", "40s", "--", "node", "server.js"}, lookup, os.ReadFile)
	if err != nil {
		fmt.Printf("lameduck: %v\n", err)
		return
	}
	c.WriteYAML(os.Stdout)
	// Output:
	// # lameduck's effective configuration. Precedence: flags, then LAMEDUCK_*
	// # variables, then the file, then the platform profile, then defaults;
	// # each comment says where the value came from.
	// listen: ":8080"                   # env PORT
	// upstream:
	//   url: ""                         # default
	//   wait: 60s                       # default
	//   timeout: 0s                     # default
	// app:
	//   port: 0                         # default
	//   command: ["node", "server.js"]  # args
	//   stop_signal: SIGTERM            # default
	//   stop_timeout: 5s                # platform kubernetes
	//   stop_pid: 0                     # default
	//   stop_pidfile: ""                # default
	//   stop_url: ""                    # default
	// drain:
	//   shutdown_delay: 5s              # platform kubernetes
	//   timeout: 25s                    # platform kubernetes
	//   kill_budget: 40s                # flag
	//   ws_close_code: 1001             # default
	// server:
	//   idle_timeout: 120s              # default
	//   read_header_timeout: 10s        # default
	//   h2c: false                      # default
	//   trusted_proxies: ""             # default
	//   max_header_bytes: 65536         # default
	// health_path: "/__lameduck/ready"  # default
	// admin: ":9901"                    # env LAMEDUCK_ADMIN
	// log_format: "text"                # default
	// platform: "kubernetes"            # env KUBERNETES_SERVICE_HOST
	// # tls: off (no --tls-domain, --tls-on-demand or --tls-cert)
	// admin_token: ""                   # default
	// # drain plan: platform=kubernetes kill_budget=40s delay=5s drain=25s stop=5s
}
