package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A supervised is one lameduck running the benchmark upstream as its app,
// with the app's output (passed through lameduck's stdout) read line by
// line.
type supervised struct {
	cmd   *exec.Cmd
	addr  string
	lines chan string
	wg    sync.WaitGroup
	done  chan struct{}
	err   error
}

// supervise starts lameduck in front of the upstream in drain mode.
func (b *bench) supervise(ctx context.Context, flags ...string) (*supervised, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &supervised{addr: fmt.Sprintf("127.0.0.1:%d", port), lines: make(chan string, 16), done: make(chan struct{})}
	args := append([]string{"--listen", s.addr, "--admin", "", "--platform", "none"}, flags...)
	args = append(args, "--", b.upstreamBin, "-drain")
	s.cmd = b.command(context.Background(), proxyCPU, append([]string{b.lameduck}, args...)...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	read := make(chan struct{})
	s.wg.Go(func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case s.lines <- sc.Text():
			default: // nobody asked for this line
			}
		}
		io.Copy(io.Discard, out)
	})
	s.wg.Go(func() {
		<-read // Wait closes the pipe: read it to the end first
		s.err = s.cmd.Wait()
		close(s.done)
	})
	if err := s.ready(ctx); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// ready waits for the public readiness path to answer 200.
func (s *supervised) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+"/__lameduck/ready", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lameduck on %s never ready: %w", s.addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// line waits up to 10 s for an output line that starts with prefix.
func (s *supervised) line(prefix string) (string, error) {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case l := <-s.lines:
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-t.C:
			return "", fmt.Errorf("no line %q from the app", prefix)
		}
	}
}

// wait waits up to 10 s for lameduck to exit, and checks it exited 0.
func (s *supervised) wait() error {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		s.kill()
		return fmt.Errorf("lameduck did not exit within 10 s of SIGTERM")
	}
	s.wg.Wait()
	if s.err != nil {
		return fmt.Errorf("lameduck exited: %w", s.err)
	}
	return nil
}

// kill ends lameduck and its app: two SIGINTs skip every wait of the
// drain, and lameduck stops the app (in a process group of its own) as it
// exits; SIGKILL is the last resort.
func (s *supervised) kill() {
	s.cmd.Process.Signal(syscall.SIGINT)
	s.cmd.Process.Signal(syscall.SIGINT)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.wg.Wait()
}

// drainGap measures, over n drains, the time from the end of the last
// response in flight to the app's stop signal, as the app sees it.
func (b *bench) drainGap(ctx context.Context, n int) ([]float64, error) {
	var gaps []float64
	for range n {
		s, err := b.supervise(ctx, "--drain-timeout", "10s")
		if err != nil {
			return nil, err
		}
		got := make(chan error, 1)
		go func() { // ends within the client's timeout; got is read below
			res, err := slowClient.Get("http://" + s.addr + "/slow?ms=20")
			if err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(b) != "ok\n" {
					err = fmt.Errorf("slow response %d %q", res.StatusCode, b)
				}
			}
			got <- err
		}()
		if _, err := s.line("slow started"); err != nil {
			s.kill()
			return nil, err
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		l, err := s.line("drain-gap-ns ")
		if err == nil {
			err = <-got
		}
		if werr := s.wait(); err == nil {
			err = werr
		}
		if err != nil {
			return nil, err
		}
		ns, _ := strconv.ParseInt(strings.TrimPrefix(l, "drain-gap-ns "), 10, 64)
		gaps = append(gaps, float64(ns)/1e6)
	}
	return gaps, nil
}

// slowClient sends drainGap's request; its timeout bounds the wait for
// the answer.
var slowClient = &http.Client{Timeout: 10 * time.Second}

// exitTime measures, over n runs, the time from SIGTERM to lameduck's exit
// with nothing in flight and an app that exits at once.
func (b *bench) exitTime(ctx context.Context, n int) ([]float64, error) {
	var times []float64
	for range n {
		s, err := b.supervise(ctx)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		s.cmd.Process.Signal(syscall.SIGTERM)
		err = s.wait()
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		times = append(times, float64(d.Microseconds())/1000)
	}
	return times, nil
}

// underDrain measures throughput before SIGTERM and during the shutdown
// delay that follows it, when readiness fails and the drain has begun but
// the listeners still serve.
func (b *bench) underDrain(ctx context.Context, d time.Duration) (before, during sample, err error) {
	s, err := b.supervise(ctx, "--shutdown-delay", (d + 2*time.Second).String())
	if err != nil {
		return before, during, err
	}
	url := "http://" + s.addr + "/"
	if _, err = b.wrk(ctx, url, time.Second); err != nil { // warm the pool up
		s.kill()
		return before, during, err
	}
	if before, err = b.wrk(ctx, url, d); err != nil {
		s.kill()
		return before, during, err
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if during, err = b.wrk(ctx, url, d); err != nil {
		s.kill()
		return before, during, err
	}
	return before, during, s.wait()
}
