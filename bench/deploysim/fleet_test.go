package deploysim

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The settings lameduck runs with in the simulation: the recommended ones
// for a load balancer that checks every checkInter and needs checkFall
// failures. The shutdown delay covers checkInter × (checkFall + 1): one
// interval for the probe that may have just passed, then checkFall failed
// probes; the rest is margin for the probes' own time on a busy machine.
func lameduckArgs() []string {
	return []string{
		"--shutdown-delay", flagDelay.String(),
		"--drain-timeout", "10s",
		"--stop-timeout", "5s",
	}
}

// killAfter is the platform's kill budget: an instance still running this
// long after SIGTERM gets SIGKILL.
const killAfter = 30 * time.Second

// instance is one lameduck + app, or one app alone.
type instance struct {
	name   string // the HAProxy server it stands behind
	addr   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	status int
	termAt time.Time
	exitAt time.Time
}

// fleet runs the instances behind HAProxy: two slots, each with two
// servers (a and b) that take turns, as blue and green do.
type fleet struct {
	t     *testing.T
	dir   string
	mode  string
	ha    *haproxy
	addrs [2][2]string
	cur   [2]*instance
	color [2]int
	prev  [2][2]*instance // the last instance on each server
	all   []*instance
	seq   int
}

func serverName(slot, color int) string { return fmt.Sprintf("s%d%c", slot, 'a'+color) }

func (f *fleet) servers() []haServer {
	var s []haServer
	for slot := range f.addrs {
		for color := range f.addrs[slot] {
			s = append(s, haServer{serverName(slot, color), f.addrs[slot][color]})
		}
	}
	return s
}

// start runs a new instance on the server (slot, color).
func (f *fleet) start(slot, color int) *instance {
	f.t.Helper()
	f.seq++
	in := &instance{name: serverName(slot, color), addr: f.addrs[slot][color], exited: make(chan struct{}),
		log: filepath.Join(f.dir, fmt.Sprintf("%03d-%s.log", f.seq, serverName(slot, color)))}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GORACE=atexit_sleep_ms=0 halt_on_error=1"}
	switch f.mode {
	case "app", "app-die":
		_, port, _ := net.SplitHostPort(in.addr)
		in.cmd = exec.Command("node", testApp)
		in.cmd.Env = append(env, "PORT="+port)
		if f.mode == "app-die" {
			in.cmd.Env = append(in.cmd.Env, "APP_ON_SIGTERM=die")
		}
	default:
		args := append([]string{"--log-format", "json", "--listen", in.addr, "--admin", ""}, lameduckArgs()...)
		in.cmd = exec.Command(binary, append(args, "--", "node", testApp)...)
		in.cmd.Env = env
	}
	// Its own process group, so that cleanup can kill lameduck and
	// anything it left behind.
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(in.log)
	if err != nil {
		f.t.Fatal(err)
	}
	defer out.Close()
	in.cmd.Stdout, in.cmd.Stderr = out, out
	if err := in.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go in.reap()
	f.all = append(f.all, in)
	f.t.Cleanup(in.kill)
	return in
}

// reap waits for the instance and records its exit status.
func (in *instance) reap() {
	err := in.cmd.Wait()
	in.exitAt = time.Now()
	if ee, ok := err.(*exec.ExitError); ok {
		in.status = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			in.status = 128 + int(ws.Signal())
		}
	}
	close(in.exited)
}

// kill ends whatever is left of the instance: its group, and the app's
// group that lameduck started.
func (in *instance) kill() {
	syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	<-in.exited
}

// terminate sends SIGTERM, and SIGKILL after killAfter, as a platform
// does.
func (in *instance) terminate() {
	in.termAt = time.Now()
	in.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		select {
		case <-in.exited:
		case <-time.After(killAfter):
			in.cmd.Process.Kill()
		}
	}()
}

// waitExit waits for the instance to exit.
func (in *instance) waitExit(ctx context.Context) error {
	select {
	case <-in.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("instance %s (%s) still running: %w", in.name, in.log, ctx.Err())
	}
}

// up starts the first instance of each slot and waits until HAProxy routes
// to them, and only to them.
func (f *fleet) up(ctx context.Context) error {
	for slot := range f.cur {
		f.cur[slot] = f.start(slot, 0)
		f.prev[slot][0] = f.cur[slot]
	}
	for slot := range f.cur {
		if err := f.ha.waitState(ctx, serverName(slot, 0), "UP"); err != nil {
			return err
		}
		if err := f.ha.waitState(ctx, serverName(slot, 1), "DOWN"); err != nil {
			return err
		}
	}
	return nil
}

// replace does one step of the rolling deploy on slot: it starts the new
// instance on the slot's other server, waits until HAProxy routes to it,
// then sends the old one SIGTERM and moves on without waiting for it.
func (f *fleet) replace(ctx context.Context, slot int) error {
	next := 1 - f.color[slot]
	name := serverName(slot, next)
	// The server's previous instance must be gone, and HAProxy must know
	// it, before a new one takes its port.
	if p := f.prev[slot][next]; p != nil {
		if err := p.waitExit(ctx); err != nil {
			return err
		}
	}
	if err := f.ha.waitState(ctx, name, "DOWN"); err != nil {
		return err
	}
	in := f.start(slot, next)
	if err := f.ha.waitState(ctx, name, "UP"); err != nil {
		return fmt.Errorf("%w (log %s)", err, in.log)
	}
	f.cur[slot].terminate()
	f.cur[slot], f.color[slot] = in, next
	f.prev[slot][next] = in
	return nil
}

// down stops the last instances and waits for every instance to exit.
func (f *fleet) down(ctx context.Context) error {
	for _, in := range f.cur {
		in.terminate()
	}
	for _, in := range f.all {
		if err := in.waitExit(ctx); err != nil {
			return err
		}
	}
	return nil
}
