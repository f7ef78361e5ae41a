// Package proc owns the app process that lameduck supervises, and the
// sidecar-mode ways to stop an app that lameduck did not start.
//
// A [Reaper] is the one owner of wait4 in the process. It reaps every child
// on each SIGCHLD: the app's main process, whose status it hands to the
// app's [Group], and orphans adopted as PID 1 or as a child subreaper (see
// [SetSubreaper]), which it discards. Go's exec.Cmd.Wait must not be used
// next to it: a blind wait4(-1) loop and Wait race, and one of them loses
// the exit status (ramr/go-reaper #2, #11).
//
// [Reaper.Start] runs the app in its own process group, so that a
// terminal's Ctrl-C, or an init that signals its whole group, does not
// reach the app before the drain, and so that the stop signal reaches every
// process of an `npm start` or `sh -c` wrapper (npm/cli #6547). [Group.Stop]
// waits until the whole group is gone, not only the main process (tini #180,
// dumb-init #212), and [Status.ExitCode] reports 128+n for a death by signal
// n, where Go's ProcessState.ExitCode returns -1.
//
// [PID], [PIDFile] and [URL] stop an app that runs beside lameduck (a
// shared PID namespace, or an app with a quit endpoint). They, and *[Group],
// have the method Stop(ctx) error, which is what the drain sequence calls.
//
// Typical use, in the command that owns signal.Notify:
//
//	if !proc.IsPID1() {
//		if err := proc.SetSubreaper(); err != nil {
//			logger.Warn("orphans of the app will not be reaped", "err", err)
//		}
//	}
//	sigchld := make(chan os.Signal, 1)
//	signal.Notify(sigchld, syscall.SIGCHLD)
//
//	r := &proc.Reaper{Logger: logger}
//	eg.Go(func() error { return r.Run(ctx, sigchld) }) // ctx ends after the app is stopped
//
//	g, err := r.Start(proc.Command{
//		Args:       argv,
//		Env:        append(os.Environ(), "PORT=3001"),
//		StopSignal: syscall.SIGTERM,
//	})
//	if errors.Is(err, exec.ErrNotFound) {
//		return 127
//	}
//	...
//	g.Signal(syscall.SIGHUP)         // forward a signal to the whole group
//	<-g.Exited()                     // the app exited by itself, or:
//	err = g.Stop(stopCtx)            // the drain is over: stop the group
//	return g.Status().ExitCode()     // 128+n when killed by signal n
//
// The package targets Linux.
package proc
