package main

// Exit statuses. Besides these, lameduck exits with the app's own status,
// or 128+n when the app died of signal n. docs/exit-status.md lists them.
const (
	exitOK = 0
	// exitFailure: lameduck itself could not run, such as a listen address
	// in use.
	exitFailure = 1
	// exitUsage: bad flags, environment or configuration file; nothing was
	// started.
	exitUsage = 2
	// exitCannotExecute: the app command exists but is not executable, as
	// shells report it.
	exitCannotExecute = 126
	// exitNotFound: the app command was not found, as shells report it.
	exitNotFound = 127
)
