// Command lameduck is a reverse-proxy sidecar that drains connections: it
// sits in front of an app, and on SIGTERM fails readiness, stops accepting,
// lets in-flight requests, streams and WebSockets finish, and only then
// stops the app. Run "lameduck --help" for its flags, and see the docs/
// directory of its repository.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 16)
	// An explicit list: a catch-all would relay SIGCHLD and SIGURG. SIGPIPE
	// is caught so that a closed stdout or stderr pipe cannot kill the
	// process mid-drain.
	signal.Notify(sigs,
		syscall.SIGTERM, syscall.SIGINT,
		syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT, syscall.SIGWINCH,
		syscall.SIGCHLD, syscall.SIGPIPE)
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr, sigs))
}
