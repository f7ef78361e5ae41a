package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/coder/websocket"
)

// requireTool skips a test that needs something installed, unless CI asked
// for every test to run (LAMEDUCK_REQUIRE_TOOLS=1), where it fails.
func requireTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("LAMEDUCK_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is missing (LAMEDUCK_REQUIRE_TOOLS=1)", what)
	}
	t.Skipf("%s is missing; .ci/run installs it", what)
}

// TestDemo runs the README's demo: a slow request in flight when Ctrl-C
// comes is answered, then the app is stopped.
func TestDemo(t *testing.T) {
	t.Parallel()
	demo, _ := filepath.Abs("../../examples/demo/server.js")
	in := start(t, nil, "--", "node", demo).ready()
	slow := get(t, httpClient(t), in.url("/slow?s=1"))
	in.waitOutput("demo: GET /slow?s=1")
	in.signal(syscall.SIGINT) // Ctrl-C
	if r := recv(t, slow); r.err != nil || r.code != 200 {
		t.Fatalf("slow request in flight at Ctrl-C = %d %v, want 200", r.code, r.err)
	}
	in.waitOutput("demo: closed, bye")
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestExpressWebSocket runs the Express example with the ws library: a
// WebSocket open at SIGTERM is closed with 1001 and the app sees it.
func TestExpressWebSocket(t *testing.T) {
	t.Parallel()
	dir, _ := filepath.Abs("../../examples/express")
	_, err := os.Stat(filepath.Join(dir, "node_modules", "ws"))
	requireTool(t, err == nil, "examples/express/node_modules (npm ci --prefix examples/express)")
	in := start(t, nil, "--", "node", filepath.Join(dir, "server.js")).ready()
	ctx := testContext(t)
	ws := dialWS(t, ctx, in)
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "hi" {
		t.Fatalf("echo = %q %v", msg, err)
	}
	in.signal(syscall.SIGTERM)
	_, _, err = ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("WebSocket after SIGTERM: %v, want close 1001", err)
	}
	in.waitOutput("express: ws closed code=1001")
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}
