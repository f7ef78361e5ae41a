package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Log lines shown in the docs come from the real binary: a block tagged
// "text scenario=NAME" holds lines that lameduck prints, in that order,
// when it runs the scenario NAME below (times left out; process IDs,
// ports and millisecond durations may differ).

// logScenarios run lameduck, with its default text log, in a situation
// the docs describe, and return once it has exited.
var logScenarios = map[string]func(t *testing.T) *instance{
	// Railway without RAILWAY_DEPLOYMENT_DRAINING_SECONDS.
	"railway-unset": func(t *testing.T) *instance {
		return startAndInterrupt(t, []string{"RAILWAY_ENVIRONMENT=production"})
	},
	// Fly.io, kill_timeout left at its default.
	"fly-default": func(t *testing.T) *instance {
		return startAndInterrupt(t, []string{"FLY_APP_NAME=my-app"})
	},
	// Kubernetes without --kill-budget.
	"kubernetes-no-budget": func(t *testing.T) *instance {
		return startAndInterrupt(t, []string{"KUBERNETES_SERVICE_HOST=10.96.0.1"}, "--admin", ":0")
	},
	// An app that ignores the stop signal.
	"app-ignores-stop-signal": func(t *testing.T) *instance {
		in := startText(t, []string{"APP_ON_SIGTERM=ignore"}, "--stop-timeout", "1s", "--", "node", "server.js")
		waitText(t, in, `msg="upstream ready"`)
		in.signal(syscall.SIGTERM)
		in.wait()
		return in
	},
	// A request that arrives during the shutdown delay, then a SIGINT that
	// ends the delay.
	"request-after-sigterm": func(t *testing.T) *instance {
		in := startText(t, nil, "--shutdown-delay", "5s", "--", "node", "server.js")
		waitText(t, in, `msg="upstream ready"`)
		in.signal(syscall.SIGTERM)
		waitText(t, in, `msg="drain started"`)
		mustGet(t, httpClient(t), in.url("/"), 200)
		in.signal(syscall.SIGINT) // the rest of the delay is of no interest
		in.wait()
		return in
	},
	// The upstream stops accepting connections.
	"upstream-gone": func(t *testing.T) *instance {
		up := goUpstream(t)
		in := startText(t, nil, "--upstream", "http://"+up.Listener.Addr().String())
		waitText(t, in, `msg="upstream ready"`)
		c := httpClient(t)
		mustGet(t, c, in.url("/"), 200)
		up.Close()
		c.CloseIdleConnections()
		mustGet(t, c, in.url("/"), 502)
		in.signal(syscall.SIGTERM)
		in.wait()
		return in
	},
	// A WebSocket open at SIGTERM, with a client that answers the close.
	"websocket": func(t *testing.T) *instance {
		in := startText(t, nil, "--", "node", "server.js")
		waitText(t, in, `msg="upstream ready"`)
		ctx := testContext(t)
		ws := dialWS(t, ctx, in)
		defer ws.CloseNow()
		// One message there and back: the connection is a WebSocket at
		// lameduck, no longer a request being upgraded.
		if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "hi" {
			t.Fatalf("echo = %q, %v", msg, err)
		}
		in.signal(syscall.SIGTERM)
		// The client answers the close frame only when it reads: not
		// before the line the docs show it open on.
		waitText(t, in, `msg="listeners closed"`)
		_, _, err := ws.Read(ctx) // answers the close frame
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("WebSocket read at drain: %v, want close 1001", err)
		}
		in.wait()
		return in
	},
	// Heroku: SIGTERM to every process of the dyno, twice to lameduck, with
	// the app of the Heroku guide, which leaves the drain to lameduck.
	"heroku": func(t *testing.T) *instance {
		dir, _ := scratchDir(t)
		recipe := taggedBlock(t, "heroku-recipe")
		if err := os.WriteFile(filepath.Join(dir, "server.js"), []byte(recipe.body), 0o644); err != nil {
			t.Fatal(err)
		}
		in := startTextIn(t, dir, []string{"DYNO=web.1"}, "--stop-signal", "SIGINT", "--", "node", "server.js")
		waitText(t, in, `msg="upstream ready"`)
		c := httpClient(t)
		slow := get(t, c, in.url("/"))
		waitInFlight(t, c, in, 1)
		pid, _ := strconv.Atoi(appPID.FindStringSubmatch(waitText(t, in, `msg="app started"`))[1])
		syscall.Kill(-pid, syscall.SIGTERM)
		in.signal(syscall.SIGTERM)
		waitText(t, in, `msg="signal received"`)
		in.signal(syscall.SIGTERM)
		waitText(t, in, `msg="signal received again`)
		if r := recv(t, slow); r.err != nil || r.code != 200 {
			t.Errorf("request in flight at SIGTERM: %d %q %v, want 200", r.code, r.body, r.err)
		}
		if code := in.wait(); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
		return in
	},
	// npm start, which does not forward signals to node.
	"npm-start": func(t *testing.T) *instance {
		toolPath(t, "npm")
		in := startText(t, nil, "--", "npm", "start")
		waitText(t, in, `msg="upstream ready"`)
		in.signal(syscall.SIGTERM)
		in.wait()
		in.waitApp("signal", 1) // node itself got the signal
		return in
	},
}

// startText runs lameduck in a scratch directory (see scratchDir), where
// the test app is server.js, as in the docs.
func startText(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	dir, _ := scratchDir(t)
	return startTextIn(t, dir, env, args...)
}

var (
	listenAddr = regexp.MustCompile(`msg="lameduck starting" .*listen=(\S+)`)
	adminAddr  = regexp.MustCompile(`msg="lameduck starting" .*admin=(\S+)`)
)

// startTextIn runs lameduck in dir with its default text log, on free
// loopback ports, and waits until it has started.
func startTextIn(t *testing.T, dir string, env []string, args ...string) *instance {
	t.Helper()
	// Defaults first, so that a scenario's own flags win.
	args = append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, args...)
	in := startProgramIn(t, dir, env, args...)
	t.Cleanup(func() { killTextApp(in) })
	line := waitText(t, in, `msg="lameduck starting"`)
	if m := listenAddr.FindStringSubmatch(line); m != nil {
		in.addr = m[1]
	}
	if m := adminAddr.FindStringSubmatch(line); m != nil {
		in.admin = m[1]
	}
	return in
}

// startProgramIn is startProgram for lameduck in the working directory dir.
func startProgramIn(t *testing.T, dir string, env []string, args ...string) *instance {
	t.Helper()
	wd, _ := filepath.Abs(dir)
	sh := toolPath(t, "sh")
	return startProgram(t, env, sh, append([]string{"-c", `cd "$0" && exec "$@"`, wd, binary}, args...)...)
}

var appPID = regexp.MustCompile(`msg="app started" pid=(\d+)`)

// killTextApp stops what is left of the app of a text-log instance.
func killTextApp(in *instance) {
	in.logs.mu.Lock()
	defer in.logs.mu.Unlock()
	for _, r := range in.logs.raw {
		if m := appPID.FindStringSubmatch(r); m != nil {
			pid, _ := strconv.Atoi(m[1])
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// startAndInterrupt starts lameduck in front of the test app with env,
// then stops it at once with two SIGINTs (the second skips the waits).
func startAndInterrupt(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	in := startText(t, env, append(args, "--", "node", "server.js")...)
	waitText(t, in, `msg="upstream ready"`)
	in.signal(syscall.SIGINT)
	waitText(t, in, `msg="drain started"`)
	in.signal(syscall.SIGINT)
	in.wait()
	return in
}

// waitText waits for a line of lameduck's stderr that contains substr and
// returns it.
func waitText(t *testing.T, in *instance, substr string) string {
	t.Helper()
	deadline := time.After(wait)
	for {
		in.logs.mu.Lock()
		i := slices.IndexFunc(in.logs.raw, func(r string) bool { return strings.Contains(r, substr) })
		var line string
		if i >= 0 {
			line = in.logs.raw[i]
		}
		changed := in.logs.changed
		in.logs.mu.Unlock()
		if i >= 0 {
			return line
		}
		select {
		case <-changed:
		case <-in.logs.done:
			if line := lastChance(in, substr); line != "" {
				return line
			}
			t.Fatalf("lameduck never printed %q:\n%s", substr, in.logs)
		case <-deadline:
			t.Fatalf("timed out waiting for %q:\n%s", substr, in.logs)
		}
	}
}

func lastChance(in *instance, substr string) string {
	in.logs.mu.Lock()
	defer in.logs.mu.Unlock()
	for _, r := range in.logs.raw {
		if strings.Contains(r, substr) {
			return r
		}
	}
	return ""
}

// taggedBlock returns the one doc block whose info string has tag.
func taggedBlock(t *testing.T, tag string) block {
	t.Helper()
	var found []block
	for _, b := range docBlocks(t) {
		if b.tag(tag) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d doc blocks tagged %s, want 1", len(found), tag)
	}
	return found[0]
}

// waitInFlight waits until lameduck's metrics count n requests in flight.
// The proxy offers no event for it, so this polls, every 10ms.
func waitInFlight(t *testing.T, c *http.Client, in *instance, n int) {
	t.Helper()
	want := fmt.Sprintf("lameduck_requests_in_flight %d\n", n)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for !strings.Contains(mustGet(t, c, in.adminURL("/metrics"), 200), want) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("never %d requests in flight", n)
		}
	}
}

// TestDocLogs runs every scenario that the docs show log lines of, and
// checks the lines.
func TestDocLogs(t *testing.T) {
	shown := map[string][]block{}
	for _, b := range docBlocks(t) {
		if name, ok := b.tags["scenario"]; ok {
			if _, known := logScenarios[name]; !known {
				t.Errorf("%s: unknown scenario %q", b, name)
				continue
			}
			shown[name] = append(shown[name], b)
		}
	}
	for name, run := range logScenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := run(t)
			t.Logf("lameduck's log (go test -run TestDocLogs -v shows it):\n%s", in.logs)
			blocks := shown[name]
			if len(blocks) == 0 {
				t.Errorf("no doc block shows scenario %q", name)
			}
			for _, b := range blocks {
				if err := matchLines(b.body, in.logs.String()); err != nil {
					t.Errorf("%s: %v", b, err)
				}
			}
		})
	}
}
