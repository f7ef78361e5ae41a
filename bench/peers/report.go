package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// memory is a memory figure of one system, in KiB.
type memory struct {
	system string
	kib    int64
}

// A report gathers the samples of one run and writes them as Markdown.
type report struct {
	options
	started  time.Time
	versions string

	order   []string                       // scenarios, in order
	systems map[string][]string            // systems of each scenario, in order
	samples map[string]map[string][]sample // scenario, system: one per round

	idleRSS, peakRSS, perConn []memory

	gaps, exits              []float64 // ms
	beforeDrain, duringDrain []float64 // req/s
}

func (r *report) add(sc, system string, s sample) {
	if r.samples == nil {
		r.samples = map[string]map[string][]sample{}
		r.systems = map[string][]string{}
	}
	if r.samples[sc] == nil {
		r.samples[sc] = map[string][]sample{}
		r.order = append(r.order, sc)
	}
	if r.samples[sc][system] == nil {
		r.systems[sc] = append(r.systems[sc], system)
	}
	r.samples[sc][system] = append(r.samples[sc][system], s)
}

// median returns the median of v, and its min and max.
func median(v []float64) (med, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Sorted(slices.Values(v))
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med, s[0], s[len(s)-1]
}

func field(ss []sample, f func(sample) float64) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return v
}

// ratios returns, round by round, a's req/s over b's.
func ratios(a, b []sample) []float64 {
	var v []float64
	for i := range min(len(a), len(b)) {
		if b[i].rps > 0 {
			v = append(v, a[i].rps/b[i].rps)
		}
	}
	return v
}

const (
	beginMark = "<!-- peers:begin"
	endMark   = "<!-- peers:end -->"
)

// markdown renders the report.
func (r *report) markdown(plot string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (written by bench/run on %s) -->\n", beginMark, r.started.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Run of %s: %s. %d interleaved rounds of %s per system and load; load generator and upstream on CPU %d, each proxy alone on CPU %d. ",
		r.started.UTC().Format("2006-01-02 15:04 UTC"), r.versions, r.rounds, r.duration, loadCPU, proxyCPU)
	fmt.Fprintf(&b, "Figures are medians, with min–max over the rounds; ratios are taken round by round, so that both sides of a ratio ran within seconds of each other.\n\n")
	if plot != "" {
		fmt.Fprintf(&b, "![req/s and p99 latency per system](%s)\n\n", plot)
	}
	for _, sc := range r.order {
		tool := "wrk -t1 -c" + fmt.Sprint(r.conns)
		if strings.HasPrefix(sc, "HTTP/2") {
			tool = fmt.Sprintf("h2load -t1 -c%d -m4", r.conns/4)
		}
		fmt.Fprintf(&b, "#### %s (%s)\n\n", sc, tool)
		b.WriteString("| system | req/s | × direct | lameduck × it | p50 ms | p99 ms | CPU µs/req | errors |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
		by := r.samples[sc]
		for _, name := range r.systems[sc] {
			ss := by[name]
			rps, lo, hi := median(field(ss, func(s sample) float64 { return s.rps }))
			p50, _, _ := median(field(ss, func(s sample) float64 { return s.p50 }))
			p99, _, _ := median(field(ss, func(s sample) float64 { return s.p99 }))
			cpu, _, _ := median(field(ss, func(s sample) float64 { return s.cpu }))
			errs := 0
			for _, s := range ss {
				errs += s.errors
			}
			direct := "–"
			if d, ok := by["direct"]; ok && name != "direct" {
				m, l, h := median(ratios(ss, d))
				direct = fmt.Sprintf("%.2f (%.2f–%.2f)", m, l, h)
			}
			vs := "–"
			if ld, ok := by["lameduck"]; ok && name != "lameduck" {
				m, l, h := median(ratios(ld, ss))
				vs = fmt.Sprintf("**%.2f** (%.2f–%.2f)", m, l, h)
			}
			cpuCell := "–"
			if cpu > 0 {
				cpuCell = fmt.Sprintf("%.0f", cpu)
			}
			fmt.Fprintf(&b, "| %s | %.0f (%.0f–%.0f) | %s | %s | %.2f | %.2f | %s | %d |\n",
				name, rps, lo, hi, direct, vs, p50, p99, cpuCell, errs)
		}
		b.WriteString("\n")
	}
	b.WriteString("#### Memory\n\n")
	fmt.Fprintf(&b, "| system | idle RSS | peak RSS under load | per idle keep-alive connection (%d held) |\n", r.idle)
	b.WriteString("|---|---:|---:|---:|\n")
	for _, m := range r.idleRSS {
		if m.kib == 0 {
			continue
		}
		peak, conn := "–", "–"
		for _, p := range r.peakRSS {
			if p.system == m.system {
				peak = fmt.Sprintf("%.1f MiB", float64(p.kib)/1024)
			}
		}
		for _, p := range r.perConn {
			if p.system == m.system {
				conn = fmt.Sprintf("%.1f KiB", float64(p.kib)/float64(r.idle))
			}
		}
		fmt.Fprintf(&b, "| %s | %.1f MiB | %s | %s |\n", m.system, float64(m.kib)/1024, peak, conn)
	}
	b.WriteString("\n")
	if len(r.gaps) > 0 {
		b.WriteString("#### Drain speed (lameduck)\n\n")
		b.WriteString("| measure | p50 | p99 | max |\n|---|---:|---:|---:|\n")
		row := func(name string, v []float64, unit string) {
			m, _, hi := median(v)
			fmt.Fprintf(&b, "| %s | %.2f %s | %.2f %s | %.2f %s |\n", name, m, unit, percentile(slices.Clone(v), 0.99), unit, hi, unit)
		}
		row(fmt.Sprintf("last response in flight → app's stop signal (%d drains)", len(r.gaps)), r.gaps, "ms")
		row(fmt.Sprintf("SIGTERM → exit, nothing in flight, app exits at once (%d runs)", len(r.exits)), r.exits, "ms")
		b.WriteString("\n")
		bm, bl, bh := median(r.beforeDrain)
		dm, dl, dh := median(r.duringDrain)
		fmt.Fprintf(&b, "Throughput before SIGTERM: %.0f req/s (%.0f–%.0f); during the shutdown delay that follows, with readiness failing and the drain begun: %.0f req/s (%.0f–%.0f), %d runs.\n",
			bm, bl, bh, dm, dl, dh, len(r.beforeDrain))
	}
	b.WriteString(endMark + "\n")
	return b.String()
}

// write prints the report, puts it in the doc's peers section, and draws
// the plot.
func (r *report) write(b *bench) error {
	plot := ""
	if r.plot != "" {
		plot = filepath.Base(r.plot)
		if err := r.draw(b); err != nil {
			return err
		}
	}
	md := r.markdown(plot)
	fmt.Print(md)
	if r.doc == "" {
		return nil
	}
	path := filepath.Join(b.root, r.doc)
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q … %q section", r.doc, beginMark, endMark)
	}
	s = s[:i] + md + s[j+len(endMark)+1:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// draw plots req/s and p99 per system and scenario with gnuplot.
func (r *report) draw(b *bench) error {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		fmt.Fprintln(os.Stderr, "gnuplot not installed: no plot")
		return nil
	}
	names := []string{"direct", "lameduck", "nginx", "haproxy", "caddy"}
	var data strings.Builder
	for _, name := range names {
		fmt.Fprintf(&data, "%s", name)
		for _, sc := range r.order {
			rps, p99 := "-", "-"
			if ss := r.samples[sc][name]; len(ss) > 0 {
				m, _, _ := median(field(ss, func(s sample) float64 { return s.rps }))
				p, _, _ := median(field(ss, func(s sample) float64 { return s.p99 }))
				rps, p99 = fmt.Sprintf("%.0f", m), fmt.Sprintf("%.2f", p)
			}
			fmt.Fprintf(&data, "\t%s\t%s", rps, p99)
		}
		data.WriteString("\n")
	}
	dat := filepath.Join(b.dir, "plot.tsv")
	if err := os.WriteFile(dat, []byte(data.String()), 0o644); err != nil {
		return err
	}
	var cols1, cols2 []string
	for i, sc := range r.order {
		cols1 = append(cols1, fmt.Sprintf("'%s' using %d:xtic(1) title %q", dat, 2+2*i, sc))
		cols2 = append(cols2, fmt.Sprintf("'%s' using %d:xtic(1) title %q", dat, 3+2*i, sc))
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1400,560 font "sans,11"
set output %q
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key outside bottom center horizontal
set grid ytics
set multiplot layout 1,2 title "lameduck and its peers, %s"
set title "throughput (req/s, higher is better)"
set yrange [0:*]
plot %s
set title "p99 latency (ms, lower is better)"
plot %s
unset multiplot
`, filepath.Join(b.root, r.plot), r.started.UTC().Format("2006-01-02"), strings.Join(cols1, ", "), strings.Join(cols2, ", "))
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %w: %s", err, out)
	}
	return nil
}
