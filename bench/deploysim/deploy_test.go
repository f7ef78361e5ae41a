package deploysim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// report is what one run of the simulation measured.
type report struct {
	Mode         string        `json:"mode"`
	Replacements int           `json:"replacements"`
	Seconds      float64       `json:"seconds"`
	Settings     []string      `json:"lameduck_settings,omitempty"`
	HAProxy      string        `json:"haproxy_checks"`
	Load         *tally        `json:"load"`
	Total        httpCounts    `json:"total"`
	Exits        map[int]int   `json:"exit_statuses"` // instances by exit status
	MaxStop      time.Duration `json:"-"`
	MaxStopSecs  float64       `json:"max_sigterm_to_exit_seconds"`
}

// TestRollingDeploy replaces instances one by one behind HAProxy under a
// steady mixed load and counts what the clients lose. With lameduck in
// front of each app, nothing may be lost: no failed or reset request, and
// every WebSocket session ends with a close frame (1000 or 1001), never
// cut. With -mode=app it only reports, for contrast.
func TestRollingDeploy(t *testing.T) {
	ha := needTool(t, "haproxy")
	needTool(t, "node")
	mode := *flagMode
	if mode != "lameduck" && mode != "app" && mode != "app-die" {
		t.Fatalf("-mode=%q, want lameduck, app or app-die", mode)
	}
	n := *flagReplacements
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n)*10*time.Second+time.Minute)
	defer cancel()

	dir := *flagLogs
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, dir: dir, mode: mode}
	for slot := range f.addrs {
		for color := range f.addrs[slot] {
			f.addrs[slot][color] = freeAddr(t)
		}
	}
	checkPath := "/__lameduck/ready"
	if mode != "lameduck" {
		checkPath = "/" // the app has no readiness of its own
	}
	f.ha = startHAProxy(t, ha, dir, checkPath, f.servers())
	if err := f.up(ctx); err != nil {
		t.Fatal(err)
	}

	l := newLoad("http://" + f.ha.addr)
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { l.run(loadCtx); close(loadDone) }()
	defer func() { stopLoad(); <-loadDone }()

	start := time.Now()
	for i := range n {
		if err := f.replace(ctx, i%2); err != nil {
			t.Fatalf("replacement %d: %v", i+1, err)
		}
	}
	// Let the last replacements drain under load, then stop the load and
	// the fleet.
	for _, in := range f.all {
		if in.termAt.IsZero() {
			continue
		}
		if err := in.waitExit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stopLoad()
	<-loadDone
	elapsed := time.Since(start)
	if err := f.down(ctx); err != nil {
		t.Fatal(err)
	}

	rep := report{Mode: mode, Replacements: n, Seconds: elapsed.Seconds(), Load: l.t, Total: l.t.totals(), Exits: map[int]int{},
		HAProxy: "inter " + checkInter.String() + " fall 2 rise 2"}
	if mode == "lameduck" {
		rep.Settings = lameduckArgs()
	}
	for _, in := range f.all {
		rep.Exits[in.status]++
		if d := in.exitAt.Sub(in.termAt); d > rep.MaxStop {
			rep.MaxStop = d
		}
	}
	rep.MaxStopSecs = rep.MaxStop.Seconds()
	out, _ := json.MarshalIndent(&rep, "", "  ")
	t.Logf("rolling deploy, %s, %d replacements in %s:\n%s", mode, n, elapsed.Round(time.Millisecond), out)
	if *flagReport != "" {
		if err := os.WriteFile(*flagReport, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if *flagRow != "" {
		if err := appendRow(*flagRow, &rep); err != nil {
			t.Fatal(err)
		}
	}
	if mode != "lameduck" || *flagDelay < checkInter*(checkFall+1) {
		return // the contrasts, and delays shorter than recommended, are measured, not judged
	}

	tot, ws := rep.Total, rep.Load.WS
	if tot.Failed != 0 || tot.Reset != 0 || ws.Cut != 0 || ws.Refused != 0 {
		t.Errorf("lost: %d failed, %d reset requests, %d WebSocket sessions cut, %d refused; want none", tot.Failed, tot.Reset, ws.Cut, ws.Refused)
	}
	if tot.OK == 0 || tot.OK != tot.Sent {
		t.Errorf("%d of %d requests answered 2xx, want all", tot.OK, tot.Sent)
	}
	if ws.Closed1001 == 0 {
		t.Errorf("no WebSocket session was told 1001 going away over %d replacements: the load missed the drains", n)
	}
	if rep.Exits[0] != len(f.all) {
		t.Errorf("exit statuses %v, want every instance to exit 0", rep.Exits)
	}
}

// appendRow appends rep as a row of the table in docs/reliability.md to
// the file named before the tab in spec, labelled with what follows it.
func appendRow(spec string, rep *report) error {
	file, label, _ := strings.Cut(spec, "\t")
	ws := rep.Load.WS
	row := fmt.Sprintf("| %s | %d | %.0f s | %d | %d | %d | %d | %d | %d | %d | %d | %.1f s |\n",
		label, rep.Replacements, rep.Seconds, rep.Total.Sent, rep.Total.OK, rep.Total.Failed, rep.Total.Reset,
		ws.Sessions, ws.Closed1000, ws.Closed1001, ws.Cut+ws.Refused, rep.MaxStopSecs)
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(row)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
