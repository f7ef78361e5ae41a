package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/lameduck/lameduck/drain/proc"
)

// TestExitCodeFailure: when lameduck itself failed, it exits 1 even though
// the app it stopped exited 0, so that platforms restart it.
func TestExitCodeFailure(t *testing.T) {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	r := &proc.Reaper{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, sigchld) }()
	defer func() { cancel(); <-done }()
	g, err := r.Start(proc.Command{Args: []string{"sh", "-c", "exit 0"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.Exited():
	case <-time.After(wait):
		t.Fatal("app did not exit")
	}
	l := &lifecycle{app: g, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct {
		failed bool
		want   int
	}{{false, 0}, {true, exitFailure}} {
		if got := l.exitCode(tc.failed); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.failed, got, tc.want)
		}
	}
}
