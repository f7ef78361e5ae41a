// Package deploysim reproduces a rolling deploy on one machine and counts
// what the clients lose: a real HAProxy with HTTP health checks sits in
// front of two slots of lameduck + Node app instances; a load generator
// sends a steady mix of short requests, uploads, slow requests, streaming
// responses and WebSocket sessions through it; a deployer replaces the
// instances one by one (start the new one, wait until HAProxy routes to it,
// SIGTERM the old one).
//
// The package holds only tests. TestRollingDeploy runs a bounded
// simulation (20 replacements, about half a minute) as part of the test
// suite and fails on any failed or reset request or any WebSocket session
// cut without a close frame. It needs haproxy and node; without them it
// skips, unless LAMEDUCK_REQUIRE_TOOLS=1.
//
// Typical use, for longer runs and the figures of docs/reliability.md
// (bench/rolling-deploy.sh runs four of them):
//
//	go test ./bench/deploysim -run TestRollingDeploy -count=1 -v \
//		-args -replacements=100 -report=/tmp/lameduck.json
//	go test ./bench/deploysim -run TestRollingDeploy -count=1 -v \
//		-args -mode=app -replacements=20 -report=/tmp/app.json
//
// Flags after -args: -mode=lameduck (default), app (the app alone, with
// its own server.close() on SIGTERM) or app-die (the app alone, with no
// SIGTERM handler); -replacements; -shutdown-delay (lameduck's, default
// 1s); -report (the counts as JSON); -row (a Markdown row, for the
// script); -logs (keep every instance's and HAProxy's log in a directory).
// The contrasts, and shutdown delays shorter than recommended, are
// measured, not judged: the test then only reports.
package deploysim
