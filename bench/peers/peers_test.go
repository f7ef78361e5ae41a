package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wrkOut = `Running 5s test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.21ms    3.33ms  24.55ms   86.00%
    Req/Sec    22.77k     3.04k   35.06k    78.00%
  Latency Distribution
     50%  950.00us
     75%    3.10ms
     90%    7.00ms
     99%    1.20s
  113079 requests in 5.00s, 15.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  22615.85
Transfer/sec:      3.02MB
`

func TestParseWrk(t *testing.T) {
	s, err := parseWrk([]byte(wrkOut))
	if err != nil {
		t.Fatal(err)
	}
	want := sample{rps: 22615.85, p50: 0.95, p99: 1200, errors: 7}
	if s != want {
		t.Fatalf("parseWrk = %+v, want %+v", s, want)
	}
	if _, err := parseWrk([]byte("unable to connect")); err == nil {
		t.Fatal("parseWrk of a failed run: no error")
	}
}

func TestReadH2Log(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.tsv")
	log := "1\t200\t1000\n2\t200\t3000\n3\t503\t2000\n4\t0\t9000\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	lat, bad, err := readH2Log(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != 3 || bad != 1 {
		t.Fatalf("readH2Log = %v, %d bad; want 3 latencies (the cut request left out), 1 bad", lat, bad)
	}
	if p := percentile(lat, 0.99); p != 3 {
		t.Fatalf("p99 = %v ms, want 3", p)
	}
}

func TestMedianAndRatios(t *testing.T) {
	if m, lo, hi := median([]float64{3, 1, 2, 10}); m != 2.5 || lo != 1 || hi != 10 {
		t.Fatalf("median = %v (%v–%v), want 2.5 (1–10)", m, lo, hi)
	}
	a := []sample{{rps: 20}, {rps: 30}}
	b := []sample{{rps: 10}, {rps: 10}}
	if r := ratios(a, b); len(r) != 2 || r[0] != 2 || r[1] != 3 {
		t.Fatalf("ratios = %v, want round-by-round [2 3]", r)
	}
}

// TestReportSection: the report replaces only the doc's peers section.
func TestReportSection(t *testing.T) {
	root := t.TempDir()
	doc := "# Benchmarks\n\nbefore\n\n" + beginMark + " old -->\nold table\n" + endMark + "\n\nafter\n"
	if err := os.WriteFile(filepath.Join(root, "b.md"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &report{options: options{rounds: 1, duration: time.Second, conns: 64, idle: 10, doc: "b.md"}, started: time.Now()}
	r.add("HTTP/1.1, short body", "direct", sample{rps: 100})
	r.add("HTTP/1.1, short body", "lameduck", sample{rps: 80, cpu: 40})
	if err := r.write(&bench{root: root}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "b.md"))
	got := string(b)
	for _, want := range []string{"before\n", "| lameduck | 80 (80–80) | 0.80 (0.80–0.80) |", "\nafter\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("doc lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old table") {
		t.Errorf("the old section is still there:\n%s", got)
	}
}
