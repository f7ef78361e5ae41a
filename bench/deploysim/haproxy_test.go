package deploysim

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Health checking of the load balancer: HAProxy probes every server every
// checkInter and takes it out after checkFall failed probes in a row, back
// in after checkRise good ones. A server that fails readiness is therefore
// still sent requests for up to checkInter × checkFall (plus the duration
// of a probe): lameduck's shutdown delay must cover that.
const (
	checkInter = 200 * time.Millisecond
	checkFall  = 2
	checkRise  = 2
)

// haproxyConfig is a plain HTTP load balancer as a platform would run it:
// keep-alive on both sides, round robin, HTTP health checks, the default
// retries (on connection failures, to the same server) and no redispatch.
var haproxyConfig = template.Must(template.New("haproxy").Parse(`global
	maxconn 4096
	stats socket {{.Socket}} mode 600 level admin

defaults
	mode http
	option http-keep-alive
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 60s
	timeout tunnel 60s

frontend web
	bind {{.Listen}}
	default_backend app

backend app
	balance roundrobin
	option httpchk
	http-check send meth GET uri {{.CheckPath}} ver HTTP/1.1 hdr Host deploysim
	http-check expect status 200
	default-server inter {{.Inter}} fall {{.Fall}} rise {{.Rise}}
{{- range .Servers}}
	server {{.Name}} {{.Addr}} check
{{- end}}
`))

type haServer struct{ Name, Addr string }

// haproxy is a running HAProxy.
type haproxy struct {
	addr   string // the frontend, host:port
	socket string // the stats socket
	cmd    *exec.Cmd
	exited chan struct{}
	log    string // where its output goes
}

// startHAProxy runs HAProxy in the foreground in front of servers.
func startHAProxy(t *testing.T, bin, dir, checkPath string, servers []haServer) *haproxy {
	t.Helper()
	listen := freeAddr(t)
	h := &haproxy{addr: listen, socket: filepath.Join(dir, "haproxy.sock"), exited: make(chan struct{}), log: filepath.Join(dir, "haproxy.log")}
	cfg := filepath.Join(dir, "haproxy.cfg")
	f, err := os.Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = haproxyConfig.Execute(f, map[string]any{
		"Socket": h.socket, "Listen": listen, "CheckPath": checkPath,
		"Inter": checkInter.String(), "Fall": checkFall, "Rise": checkRise, "Servers": servers,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(h.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	h.cmd = exec.Command(bin, "-db", "-f", cfg)
	h.cmd.Stdout, h.cmd.Stderr = out, out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(10 * time.Second):
			h.cmd.Process.Kill()
			<-h.exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(h.log)
			t.Logf("haproxy output:\n%s", b)
		}
	})
	return h
}

// states returns the health state of each server of the backend, such as
// "UP", "DOWN" or "UP 1/2", by asking the stats socket.
func (h *haproxy) states(ctx context.Context) (map[string]string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", h.socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReader(c))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("haproxy show stat: empty answer")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) <= col["status"] || row[col["pxname"]] != "app" {
			continue
		}
		if sv := row[col["svname"]]; sv != "BACKEND" {
			out[sv] = row[col["status"]]
		}
	}
	return out, nil
}

// waitState waits until HAProxy reports server name in state want ("UP" or
// "DOWN"). HAProxy offers no event for it, so this polls the stats socket
// at a fraction of the check interval.
func (h *haproxy) waitState(ctx context.Context, name, want string) error {
	for {
		st, err := h.states(ctx)
		if err == nil && st[name] == want {
			return nil
		}
		t := time.NewTimer(checkInter / 4)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("haproxy server %s not %s (state %q, err %v): %w", name, want, st[name], err, ctx.Err())
		case <-t.C:
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
