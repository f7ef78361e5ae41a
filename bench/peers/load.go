package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A sample is what one load run measured of one system.
type sample struct {
	rps      float64 // requests per second
	p50, p99 float64 // latency, in ms
	cpu      float64 // the system's CPU per request, in µs (the upstream's excluded)
	errors   int     // requests that failed or got a status other than 2xx
}

// A scenario is one kind of load.
type scenario struct {
	name string // as reported
	path string
	h2   bool // HTTP/2 over TLS with h2load, else HTTP/1.1 with wrk
}

var scenarios = []scenario{
	{name: "HTTP/1.1, short body", path: "/"},
	{name: "HTTP/1.1, 64 KiB body", path: "/64k"},
	{name: "HTTP/2 over TLS, short body", path: "/", h2: true},
}

// load runs one scenario against one system for d and measures it, with
// the load generator pinned to the load CPU.
func (b *bench) load(ctx context.Context, s *system, sc scenario, d time.Duration) (sample, error) {
	var cpu0 time.Duration
	if s.p != nil {
		cpu0 = s.p.cpu()
	}
	var smp sample
	var err error
	if sc.h2 {
		smp, err = b.h2load(ctx, "https://"+s.h2+sc.path, d)
	} else {
		smp, err = b.wrk(ctx, "http://"+s.h1+sc.path, d)
	}
	if err != nil {
		return smp, fmt.Errorf("%s, %s: %w", s.name, sc.name, err)
	}
	if s.p != nil && smp.rps > 0 {
		smp.cpu = float64((s.p.cpu() - cpu0).Microseconds()) / (smp.rps * d.Seconds())
	}
	return smp, nil
}

func (b *bench) command(ctx context.Context, cpu int, args ...string) *exec.Cmd {
	if b.taskset {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	return exec.CommandContext(ctx, args[0], args[1:]...)
}

var (
	wrkRate    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkErrors  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrk runs wrk: one thread, b.conns keep-alive connections.
func (b *bench) wrk(ctx context.Context, url string, d time.Duration) (sample, error) {
	out, err := b.command(ctx, loadCPU, "wrk", "-t1", "-c"+strconv.Itoa(b.conns),
		"-d"+strconv.Itoa(int(d.Seconds()))+"s", "--latency", url).CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(out)
}

// parseWrk reads wrk's report: the rate, the 50th and 99th percentile
// latencies (--latency), and the errors it counted.
func parseWrk(out []byte) (sample, error) {
	var s sample
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("wrk printed no rate: %s", out)
	}
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range wrkLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[3]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if string(m[1]) == "50" {
			s.p50 = v
		} else {
			s.p99 = v
		}
	}
	for _, m := range wrkErrors.FindAllSubmatch(out, -1) {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			s.errors += n
		}
	}
	return s, nil
}

var (
	h2Rate = regexp.MustCompile(`finished in [^,]+, ([0-9.]+) req/s`)
	h2Reqs = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
)

// h2load runs h2load: one thread, b.conns/4 connections of 4 streams each,
// so that as many requests are in flight as with wrk. Latency comes from
// its per-request log.
func (b *bench) h2load(ctx context.Context, url string, d time.Duration) (sample, error) {
	logf := filepath.Join(b.dir, "h2load-requests.tsv")
	out, err := b.command(ctx, loadCPU, "h2load", "-t1", "-c"+strconv.Itoa(b.conns/4), "-m4",
		"-D", strconv.Itoa(int(d.Seconds())), "--warm-up-time=1", "--log-file="+logf, url).CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("h2load: %w: %s", err, out)
	}
	var s sample
	m := h2Rate.FindSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("h2load printed no rate: %s", out)
	}
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := h2Reqs.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			s.errors += n
		}
	}
	lat, bad, err := readH2Log(logf)
	if err != nil {
		return s, err
	}
	s.errors += bad
	s.p50, s.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return s, nil
}

// readH2Log reads h2load's per-request log: start, status, µs to the end.
// Requests cut by the end of the run are logged with status 0.
func readH2Log(path string) (lat []float64, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		code, _ := strconv.Atoi(fields[1])
		switch {
		case code == 0:
			continue // still in flight when the run ended: not a request of it
		case code < 200 || code > 299:
			bad++
		}
		us, _ := strconv.ParseFloat(fields[2], 64)
		lat = append(lat, us/1000)
	}
	return lat, bad, sc.Err()
}

// percentile returns the q-quantile of v (sorted in place), nearest rank.
func percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	i := int(q*float64(len(v))+0.5) - 1
	return v[min(max(i, 0), len(v)-1)]
}
