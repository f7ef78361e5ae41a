package proc

import (
	"context"
	"fmt"
	"syscall"
)

// escalate finishes a stop once sig has been sent: it waits until the
// target is gone, and when ctx is done first sends SIGKILL and waits at most
// killWait more. The error names the target (such as "pid 123") and wraps
// context.Cause(ctx).
func escalate(ctx context.Context, target string, sig syscall.Signal, kill func(syscall.Signal) error, gone func(context.Context) bool) error {
	if gone(ctx) {
		return nil
	}
	_ = kill(syscall.SIGKILL)
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killWait)
	defer cancel()
	if !gone(kctx) {
		return fmt.Errorf("%s still running %v after SIGKILL", target, killWait)
	}
	return fmt.Errorf("%s did not stop on %s, sent SIGKILL: %w", target, SignalName(sig), context.Cause(ctx))
}
