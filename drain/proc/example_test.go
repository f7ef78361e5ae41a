package proc_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lameduck/lameduck/drain/proc"
)

func Example() {
	// The command owns signal.Notify and hands the reaper its channel.
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)

	var r proc.Reaper
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, sigchld) }()
	defer func() { cancel(); <-done }()

	g, err := r.Start(proc.Command{
		Args: []string{"sh", "-c", `exit "$((PORT - 2998))"`},
		Env:  append(os.Environ(), "PORT=3001"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-g.Exited()
	fmt.Println(g.Status(), g.Status().ExitCode())

	g, err = r.Start(proc.Command{Args: []string{"sleep", "30"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	stopCtx, stopCancel := context.WithTimeout(ctx, 10*time.Second)
	defer stopCancel()
	if err := g.Stop(stopCtx); err != nil {
		fmt.Println(err)
	}
	fmt.Println(g.Status(), g.Status().ExitCode())

	_, err = r.Start(proc.Command{Args: []string{"nodee", "app.js"}})
	fmt.Println(err)
	// Output:
	// exit status 3 3
	// killed by SIGTERM 143
	// start app "nodee": exec: "nodee": executable file not found in $PATH
}
