// Package drain runs the shutdown sequence of a draining proxy and owns its
// timing: the shutdown delay, closing the listeners, waiting for in-flight
// work, cutting what remains, and stopping the app.
//
// The package knows nothing about HTTP or processes. It drives the serving
// side through [Traffic] and the supervised app through [App], so the whole
// sequence can be tested in fake time.
//
// A drain reacts to events rather than polling: the wait for in-flight work
// ends the moment the channel returned by [Traffic.Close] is closed, and the
// only periodic timer is the once-per-second progress log line.
//
// Typical use:
//
//	seq := &drain.Sequence{
//		Delay:       5 * time.Second,
//		Timeout:     30 * time.Second,
//		StopTimeout: 10 * time.Second,
//		Traffic:     traffic, // the proxy
//		App:         app,     // the supervised process group
//		Logger:      logger,
//	}
//
//	// Readiness fails as soon as the drain starts.
//	ready := func() bool { return seq.Phase() == drain.Serving }
//
//	// An admin request that asked for a drain answers once the traffic
//	// is gone, without waiting for the app to stop.
//	<-seq.Drained()
//
//	// On the first SIGTERM; ctx is cancelled with the cause
//	// "second signal" when the user presses Ctrl-C again.
//	report := seq.Run(ctx, "SIGTERM")
//
// Cancelling the context passed to [Sequence.Run] skips every remaining
// wait, but the actions still happen in order: the listeners are closed,
// what remains is cut, and the app is stopped with a context that is already
// done, so it is forced down at once. Callers cancel with
// [context.WithCancelCause] so that the [Report] says why.
package drain
