package main

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

func signalNotify(ctx context.Context) (context.Context, func()) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// agg is the median over rounds of one implementation in one case.
type agg struct {
	impl                     string
	n, failed                int
	msgs, msgsMin, msgsMax   float64
	eff, cpu                 float64
	p50, p99, p999, max      float64
	rss, rssPerConn, hwm     float64
	threads, fds             float64
	bytes                    float64
	errors, connErr, lost    int64
	sent, measured, expected int64
	slowOpen, slowClosed     int64
	connected                int64
	compressed               bool
	firstErr                 string
	// first is the first successful run's result, for the details of
	// single-round cases (burst, stall, slow connections, TLS).
	first *Result
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func aggregate(rep *Report, sc Scenario, cs Case) []agg {
	var out []agg
	for _, impl := range sc.Impls {
		a := agg{impl: impl, msgsMin: math.Inf(1), msgsMax: math.Inf(-1)}
		var msgs, eff, cpu, p50, p99, p999, mx, rss, rpc, hwm, thr, fds, bytes []float64
		for _, r := range rep.Runs {
			if r.Scenario != sc.ID || r.Case != cs.Name || r.Impl != impl {
				continue
			}
			a.n++
			if r.Error != "" || r.Result == nil {
				a.failed++
				if a.firstErr == "" {
					a.firstErr = r.Error
				}
				continue
			}
			res := r.Result
			if a.first == nil {
				a.first = res
			}
			msgs = append(msgs, res.MsgsPerSec)
			a.msgsMin = math.Min(a.msgsMin, res.MsgsPerSec)
			a.msgsMax = math.Max(a.msgsMax, res.MsgsPerSec)
			if res.Latency.P50 > 0 {
				p50 = append(p50, res.Latency.P50)
				p99 = append(p99, res.Latency.P99)
				p999 = append(p999, res.Latency.P999)
				mx = append(mx, res.Latency.Max)
			}
			bytes = append(bytes, res.BytesPerSec)
			a.errors += res.Errors
			a.connErr += res.ConnectErrors
			a.lost += res.Lost
			a.sent += res.Sent
			a.measured += res.Measured
			a.expected += res.Expected
			a.slowOpen += res.SlowOpened
			a.slowClosed += res.SlowClosed
			a.connected = max(a.connected, res.Connected)
			a.compressed = a.compressed || res.Compressed
			if a.firstErr == "" && res.FirstError != "" {
				a.firstErr = res.FirstError
			}
			if s := res.Server; s != nil && s.Error == "" {
				if s.MsgsPerCPUSecond > 0 {
					eff = append(eff, s.MsgsPerCPUSecond)
				}
				cpu = append(cpu, s.CPUPercent)
				rss = append(rss, float64(s.End.RSS))
				rpc = append(rpc, s.RSSPerConn)
				hwm = append(hwm, float64(s.End.HWM))
				thr = append(thr, float64(s.End.Threads))
				fds = append(fds, float64(s.End.FDs))
			}
		}
		a.msgs, a.eff, a.cpu = median(msgs), median(eff), median(cpu)
		a.p50, a.p99, a.p999, a.max = median(p50), median(p99), median(p999), median(mx)
		a.rss, a.rssPerConn, a.hwm = median(rss), median(rpc), median(hwm)
		a.threads, a.fds, a.bytes = median(thr), median(fds), median(bytes)
		if a.n > 0 {
			out = append(out, a)
		}
	}
	return out
}

// usable reports whether a row has a measurement worth comparing.
func (a agg) usable(sc Scenario) bool {
	if a.failed == a.n {
		return false
	}
	switch sc.Primary {
	case "rss":
		return a.connected > 0 && !math.IsNaN(a.rssPerConn)
	case "bytes":
		return a.bytes > 0
	}
	return a.measured > 0 || a.impl == "iperf3"
}

func f0(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func lat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2f s", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f ms", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2f ms", v/1e3)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func kb(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f KB", v/1e3)
}

func mbytes(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", v/1e6)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func status(a agg, sc Scenario) string {
	var s []string
	if a.failed > 0 {
		s = append(s, fmt.Sprintf("%d/%d runs failed: %s", a.failed, a.n, a.firstErr))
	}
	if a.failed < a.n && !a.usable(sc) {
		s = append(s, "no echo received"+errSuffix(a.firstErr))
	}
	if a.errors > 0 || a.connErr > 0 {
		s = append(s, fmt.Sprintf("%d errors, %d connect errors%s", a.errors, a.connErr, errSuffix(a.firstErr)))
	}
	if sc.Proto == "udp" && a.lost > 0 {
		s = append(s, fmt.Sprintf("%d lost (%.2f%%)", a.lost, 100*float64(a.lost)/float64(max(a.sent, 1))))
	}
	return strings.Join(s, "; ")
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	if len(e) > 80 {
		e = e[:80] + "…"
	}
	return ": " + e
}

func markdown(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# netkit side-by-side benchmark (%s mode)\n\n", rep.Mode)
	fmt.Fprintf(&b, "Started %s, finished %s. Each run: %s warm-up + %s measured; %d round(s), implementations interleaved.\n\n",
		rep.Started.Format("2006-01-02 15:04:05Z"), rep.Finished.Format("15:04:05Z"), rep.Warmup, rep.Duration, rep.Rounds)
	keys := make([]string, 0, len(rep.Machine))
	for k := range rep.Machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("Machine:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=`%s`", k, rep.Machine[k])
	}
	b.WriteString("\n\nPeers: ")
	keys = keys[:0]
	for k := range rep.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + " " + rep.Versions[k]
	}
	b.WriteString(strings.Join(keys, ", ") + ".")
	b.WriteString("\n\nServer: `taskset -c 0`, GOMAXPROCS=1; load generator (`netkit bench`): `taskset -c 1`, GOMAXPROCS=1. " +
		"msgs/s is the median over rounds (min–max in brackets); msgs per server CPU-second = messages echoed in the window ÷ the server's utime+stime over it. " +
		"Latency is the round trip from the timestamp in the payload (fixed-rate runs: from the scheduled send time). RSS is the server's VmRSS at the window's end; RSS/conn is that ÷ connections (W3: the growth from before connecting ÷ connections).\n\n")
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "> %s\n\n", n)
	}
	for _, sc := range rep.Scenarios {
		fmt.Fprintf(&b, "## %s: %s\n\n", sc.ID, sc.Title)
		if sc.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", sc.Note)
		}
		for _, cs := range sc.Cases {
			rows := aggregate(rep, sc, cs)
			if len(rows) == 0 {
				continue
			}
			fmt.Fprintf(&b, "### %s %s\n\n", sc.ID, cs.Name)
			switch {
			case cs.Kind == "stall":
				stallTable(&b, rows, sc)
				continue
			case cs.Kind == "watch":
				watchTable(&b, rows, sc)
				continue
			}
			switch sc.Primary {
			case "rss":
				burst := false
				for _, a := range rows {
					burst = burst || a.first != nil && a.first.Burst != nil
				}
				if burst {
					b.WriteString("| impl | conns | RSS/conn idle | RSS/conn after burst | RSS/conn after idle again | returns? | RSS peak | burst (echoed, time, server CPU) | threads | fds | notes |\n|---|---:|---:|---:|---:|---|---:|---|---:|---:|---|\n")
					for _, a := range rows {
						fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", a.impl, a.connected, kb(a.rssPerConn),
							burstKB(a, false), burstKB(a, true), returns(a), burstPeak(a), burstNote(a), f0(a.threads), f0(a.fds), status(a, sc))
					}
					break
				}
				b.WriteString("| impl | conns | RSS/conn | RSS | threads | fds | notes |\n|---|---:|---:|---:|---:|---:|---|\n")
				for _, a := range rows {
					notes := status(a, sc)
					if cs.TLS && a.first != nil {
						notes = join(notes, a.first.TLS)
					}
					fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", a.impl, a.connected, kb(a.rssPerConn), mbytes(a.rss), f0(a.threads), f0(a.fds), notes)
				}
			case "bytes":
				b.WriteString("| impl | MB/s (echo, both ways counted once) | msgs/s | msgs/CPU-s | p50 | p99 | srv CPU | notes |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
				for _, a := range rows {
					msgs := f0(a.msgs)
					if a.impl == "iperf3" {
						msgs = "– (one-way stream)"
					}
					fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %s%% | %s |\n", a.impl, a.bytes/1e6, msgs, f0(a.eff), lat(a.p50), lat(a.p99), f0(a.cpu), status(a, sc))
				}
			default:
				what := "msgs/s"
				if sc.ID == "W5" {
					what = "handshakes/s"
				}
				if sc.ID == "W4" {
					what = "deliveries/s"
				}
				fmt.Fprintf(&b, "| impl | %s | msgs/CPU-s | p50 | p99 | p99.9 | srv CPU | RSS | RSS/conn | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n", what)
				for _, a := range rows {
					rng := ""
					if a.n-a.failed > 1 {
						rng = fmt.Sprintf(" (%s–%s)", f0(a.msgsMin), f0(a.msgsMax))
					}
					extra := status(a, sc)
					if sc.ID == "W4" {
						extra = join(extra, fmt.Sprintf("delivered %d of %d", a.measured, a.expected), stallNote(a))
					}
					if sc.ID == "S1" {
						extra = join(extra, slowNote(a))
					}
					if cs.TLS && a.first != nil {
						extra = join(extra, a.first.TLS)
					}
					if sc.ID == "W6" && strings.Contains(cs.Name, "takeover") && !a.compressed {
						extra = strings.TrimLeft(extra+"; deflate NOT negotiated", "; ")
					}
					fmt.Fprintf(&b, "| %s | %s%s | %s | %s | %s | %s | %s%% | %s | %s | %s |\n", a.impl, f0(a.msgs), rng, f0(a.eff),
						lat(a.p50), lat(a.p99), lat(a.p999), f0(a.cpu), mbytes(a.rss), kb(a.rssPerConn), extra)
				}
			}
			// The ratio of each netkit backend to each peer.
			byImpl := map[string]*agg{}
			for i := range rows {
				byImpl[rows[i].impl] = &rows[i]
			}
			nk := byImpl["netkit"]
			for _, base := range []string{"netkit", "netkit-goroutine", "netkit-evloop"} {
				bk := byImpl[base]
				if bk == nil {
					continue
				}
				if !bk.usable(sc) {
					fmt.Fprintf(&b, "\n%s ratio: not available (%s had no usable measurement in this case).\n\n", base, base)
					continue
				}
				fmt.Fprintf(&b, "\n%s ÷ peer (above 1 is better for %s in the first two columns, below 1 in the last two):\n\n", base, base)
				b.WriteString("| peer | msgs/s | msgs/CPU-s | p99 | RSS/conn |\n|---|---:|---:|---:|---:|\n")
				for _, a := range rows {
					// Against every peer; the other backend's row also against netkit (the default backend).
					if a.impl == base || netkitImpl(a.impl) && a.impl != "netkit" {
						continue
					}
					if !a.usable(sc) {
						fmt.Fprintf(&b, "| %s | – | – | – | – |\n", a.impl)
						continue
					}
					m1, m2 := ratio(bk.msgs, a.msgs), ratio(bk.eff, a.eff)
					if sc.Primary == "bytes" {
						m1 = ratio(bk.bytes, a.bytes)
					}
					m3 := ratio(bk.p99, a.p99)
					if sc.Primary == "rss" {
						m1, m2, m3 = "–", "–", "–"
					}
					fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", a.impl, m1, m2, m3, ratio(bk.rssPerConn, a.rssPerConn))
				}
			}
			if nk == nil || !nk.usable(sc) {
				b.WriteString("\n")
				continue
			}
			for _, a := range rows {
				if a.impl == "netkit-metrics" && a.usable(sc) {
					fmt.Fprintf(&b, "\nMetrics on ÷ off (netkit-metrics ÷ netkit): msgs/s %s, msgs/CPU-s %s (target ≥ 0.95).\n",
						ratio(a.msgs, nk.msgs), ratio(a.eff, nk.eff))
				}
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "![%s](%s.svg)\n\n", sc.ID, sc.ID)
	}
	return b.String()
}

// metric returns the charted value and its label.
func metric(sc Scenario, a agg) (float64, string) {
	switch sc.Primary {
	case "eff":
		return a.eff, "messages per server CPU-second (higher is better)"
	case "rss":
		return a.rssPerConn / 1e3, "server RSS per idle connection, KB (lower is better)"
	case "p99":
		return a.p99 / 1e3, "p99 latency, ms (lower is better)"
	case "bytes":
		return a.bytes / 1e6, "MB/s (higher is better)"
	}
	if sc.ID == "W5" {
		return a.msgs, "handshakes per second (higher is better)"
	}
	return a.msgs, "messages per second (higher is better)"
}

var palette = map[string]string{"netkit": "#d62728", "netkit-evloop": "#ff7f0e", "netkit-goroutine": "#ff7f0e", "netkit-metrics": "#ff9896", "std": "#7f7f7f", "gnet": "#1f77b4", "nbio": "#2ca02c",
	"gorilla": "#9467bd", "coder": "#8c564b", "gobwas": "#e377c2", "gws": "#17becf", "iperf3": "#bcbd22"}

// chart draws a horizontal grouped bar chart of the scenario's primary
// metric: one group per case, one bar per implementation.
func chart(rep *Report, sc Scenario) string {
	type bar struct {
		label string
		impl  string
		v     float64
	}
	var groups [][]bar
	var names []string
	var label string
	maxV := 0.0
	for _, cs := range sc.Cases {
		if cs.Kind == "watch" {
			continue // no latency or CPU figure worth charting
		}
		rows := aggregate(rep, sc, cs)
		if len(rows) == 0 {
			continue
		}
		var g []bar
		for _, a := range rows {
			v, l := metric(sc, a)
			label = l
			if !a.usable(sc) || math.IsNaN(v) {
				v = math.NaN()
			} else {
				maxV = math.Max(maxV, v)
			}
			g = append(g, bar{label: a.impl, impl: a.impl, v: v})
		}
		groups = append(groups, g)
		names = append(names, cs.Name)
	}
	if len(groups) == 0 {
		return ""
	}
	if maxV <= 0 {
		maxV = 1
	}
	const w, left, right, barH, gap = 760, 150, 90, 16, 4
	y := 50
	var body strings.Builder
	for gi, g := range groups {
		fmt.Fprintf(&body, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+12, html.EscapeString(names[gi]))
		y += 20
		for _, b := range g {
			fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+12, b.label)
			if math.IsNaN(b.v) {
				fmt.Fprintf(&body, `<text x="%d" y="%d" fill="#999">no measurement</text>`+"\n", left+4, y+12)
			} else {
				bw := int(float64(w-left-right) * b.v / maxV)
				col := palette[b.impl]
				if col == "" {
					col = "#444"
				}
				fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, max(bw, 1), barH, col)
				fmt.Fprintf(&body, `<text x="%d" y="%d">%s</text>`+"\n", left+max(bw, 1)+4, y+12, num(b.v))
			}
			y += barH + gap
		}
		y += 10
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, y+10)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&s, `<text x="10" y="20" font-size="14" font-weight="bold">%s: %s</text>`+"\n", sc.ID, html.EscapeString(sc.Title))
	fmt.Fprintf(&s, `<text x="10" y="38" fill="#555">%s, %s mode</text>`+"\n", html.EscapeString(label), rep.Mode)
	s.WriteString(body.String())
	s.WriteString("</svg>\n")
	return s.String()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// join joins non-empty notes with "; ".
func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

func secs(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f s", v)
}

// stallNote summarises the stalled subscriber of a broadcast run.
func stallNote(a agg) string {
	if a.first == nil || a.first.Stall == nil {
		return ""
	}
	st := a.first.Stall
	if !st.Checked || len(st.Conns) == 0 {
		return "stalled sub not checked: " + st.Error
	}
	c := st.Conns[0]
	held := fmt.Sprintf("accepted %s, server Send-Q up to %s, %s due", kb(float64(c.AcceptedMax)), kb(float64(c.ServerSendQMax)), kb(float64(c.DueBytes)))
	if c.StalledAt < 0 {
		return "stalled sub's path NOT full: the kernel held all it was sent (" + held + ")"
	}
	s := fmt.Sprintf("stalled sub's path full at %s (%s)", secs(c.StalledAt), held)
	if c.ClosedAt >= 0 {
		return s + fmt.Sprintf("; the server closed it at %s (%s)", secs(c.ClosedAt), c.ServerState)
	}
	return s + "; not closed by the server"
}

// stallTable is W4's stall case: others' latency before and after the
// stalled subscriber's path filled, whether and when the server dropped
// it, and the server's RSS.
func stallTable(b *strings.Builder, rows []agg, sc Scenario) {
	b.WriteString("Times are seconds after publishing started; p99 before/after split the reading subscribers' deliveries (measured window) at the time the path was seen full.\n\n")
	b.WriteString("| impl | deliveries/s | delivered | p99 before stall | p99 after | p99.9 after | max after | path full at | stalled socket accepted | server Send-Q max | server closed it at | server RSS at stall → end (max) | srv CPU | notes |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|\n")
	for _, a := range rows {
		if a.first == nil {
			fmt.Fprintf(b, "| %s | – | – | – | – | – | – | – | – | – | – | – | – | %s |\n", a.impl, status(a, sc))
			continue
		}
		res := a.first
		st := res.Stall
		if st == nil || len(st.Conns) == 0 {
			note := "no stall report"
			if st != nil {
				note = "stall not checked: " + st.Error
			}
			fmt.Fprintf(b, "| %s | %s | %d of %d | – | – | – | – | – | – | – | – | – | %s%% | %s |\n", a.impl, f0(a.msgs), a.measured, a.expected, f0(a.cpu), join(status(a, sc), note))
			continue
		}
		c := st.Conns[0]
		closed := fmt.Sprintf("not within %.1f s", st.Watched)
		if c.ClosedAt >= 0 {
			closed = fmt.Sprintf("%s (%s)", secs(c.ClosedAt), c.ServerState)
		}
		pb := "–"
		if st.Before.Count > 0 {
			pb = lat(st.Before.P99)
		}
		pa, pa9, pmax := "–", "–", "–"
		if st.After.Count > 0 {
			pa, pa9, pmax = lat(st.After.P99), lat(st.After.P999), lat(st.After.Max)
		}
		rss := "–"
		if st.ServerRSSMax > 0 {
			rss = fmt.Sprintf("%s → %s (%s)", mbytes(float64(st.ServerRSSAtStall)), mbytes(float64(st.ServerRSSEnd)), mbytes(float64(st.ServerRSSMax)))
		}
		note := status(a, sc)
		if c.StalledAt < 0 {
			note = join(note, fmt.Sprintf("path NOT full: %s due, the kernel held it", kb(float64(c.DueBytes))))
		}
		fmt.Fprintf(b, "| %s | %s | %d of %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s |\n", a.impl, f0(a.msgs), a.measured, a.expected,
			pb, pa, pa9, pmax, secs(c.StalledAt), kb(float64(c.AcceptedMax)), kb(float64(c.ServerSendQMax)), closed, rss, f0(a.cpu), note)
	}
	b.WriteString("\n")
}

// slowNote summarises the slow connections of a slowloris run.
func slowNote(a agg) string {
	s := fmt.Sprintf("slow conns closed by server %d of %d", a.slowClosed, a.slowOpen)
	if a.first != nil && a.first.SlowClose != nil {
		sc := a.first.SlowClose
		s += fmt.Sprintf(", after %.1f / %.1f / %.1f s (min / median / max)", sc.Min, sc.P50, sc.Max)
	}
	return s
}

// watchTable is S1's timeout watch.
func watchTable(b *strings.Builder, rows []agg, sc Scenario) {
	b.WriteString("| impl | slow conns | closed by the server | after (min / median / max) | still open at the end | watched for | configured header timeout | notes |\n|---|---:|---:|---|---:|---:|---|---|\n")
	for _, a := range rows {
		after, watched := "–", "–"
		if a.first != nil {
			if s := a.first.SlowClose; s != nil {
				after = fmt.Sprintf("%.1f / %.1f / %.1f s", s.Min, s.P50, s.Max)
			}
			watched = fmt.Sprintf("%.0f s", a.first.Seconds)
		}
		fmt.Fprintf(b, "| %s | %d | %d | %s | %d | %s | %s | %s |\n", a.impl, a.slowOpen, a.slowClosed, after, a.slowOpen-a.slowClosed, watched, headerTimeouts[a.impl], status(a, sc))
	}
	b.WriteString("\n")
}

func burstOf(a agg) *Burst {
	if a.first == nil {
		return nil
	}
	return a.first.Burst
}

func burstKB(a agg, settled bool) string {
	bu := burstOf(a)
	if bu == nil || bu.After.RSS == 0 {
		return "–"
	}
	if settled {
		return fmt.Sprintf("%s (after %.0f s)", kb(bu.RSSPerConnSettled), bu.HoldSeconds)
	}
	return kb(bu.RSSPerConnAfter)
}

// returns judges whether RSS came back after the burst: within 25 % (or
// 2 KB per connection) of the idle figure before it.
func returns(a agg) string {
	bu := burstOf(a)
	if bu == nil || bu.After.RSS == 0 || math.IsNaN(a.rssPerConn) {
		return "–"
	}
	d := bu.RSSPerConnSettled - a.rssPerConn
	if d <= math.Max(0.25*a.rssPerConn, 2000) {
		return "yes"
	}
	return fmt.Sprintf("no (+%s/conn)", kb(d))
}

func burstPeak(a agg) string {
	bu := burstOf(a)
	if bu == nil || bu.After.HWM == 0 {
		return "–"
	}
	return mbytes(float64(bu.After.HWM))
}

func burstNote(a agg) string {
	bu := burstOf(a)
	if bu == nil {
		return "–"
	}
	s := fmt.Sprintf("%d of %d in %.1f s, %.2f CPU-s", bu.Echoed, a.connected, bu.Seconds, bu.CPUSeconds)
	if bu.Errors > 0 {
		s += fmt.Sprintf(", %d failed", bu.Errors)
	}
	return s
}
