package config

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// KillMargin is the time the drain plan keeps free at the end of the kill
// budget, for log flushing and process exit.
const KillMargin = 2 * time.Second

// Plan is the shutdown timeline in effect, for the caller to log at start-up
// as one line (see String).
type Plan struct {
	// Platform is the platform profile in effect, or "none".
	Platform string

	// BudgetKnown reports whether the kill budget is known. When false,
	// Budget is zero and nothing was checked against it.
	BudgetKnown bool

	// Budget is the platform's window from SIGTERM to SIGKILL.
	Budget time.Duration

	// Delay, Drain and Stop are the shutdown delay, the drain timeout
	// (already shrunk to fit the budget) and the stop timeout.
	Delay, Drain, Stop time.Duration
}

// Plan returns the shutdown timeline of c.
func (c *Config) Plan() Plan {
	p := Plan{
		Platform: c.Platform,
		Delay:    c.ShutdownDelay,
		Drain:    c.DrainTimeout,
		Stop:     c.StopTimeout,
	}
	if p.Platform == "" {
		p.Platform = "none"
	}
	if c.KillBudget >= 0 {
		p.BudgetKnown, p.Budget = true, c.KillBudget
	}
	return p
}

// String formats the plan as key=value pairs, such as
// "platform=railway kill_budget=45s delay=5s drain=28s stop=8s".
func (p Plan) String() string {
	budget := "none"
	if p.BudgetKnown {
		budget = formatDuration(p.Budget)
	}
	return fmt.Sprintf("platform=%s kill_budget=%s delay=%s drain=%s stop=%s",
		p.Platform, budget, formatDuration(p.Delay), formatDuration(p.Drain), formatDuration(p.Stop))
}

// fit shrinks the drain timeout so that delay + drain + stop + KillMargin
// fits a known kill budget, and adds warnings for what cannot fit and for
// platform settings to change.
func (c *Config) fit() {
	if c.Platform == "kubernetes" && c.Admin != "" {
		if host, _, err := net.SplitHostPort(c.Admin); err == nil && !wildcard(host) && loopback(host) {
			c.warnf("kubernetes: --admin %q is loopback-only, so kubelet probes and preStop hooks, which connect to the pod IP, cannot reach it; set --admin :%d", c.Admin, addrPort(c.Admin))
		}
	}
	// Heroku sends SIGTERM to every process in the dyno at once: an app
	// that stops on SIGTERM is gone before lameduck has drained it.
	signalsApp := !c.Sidecar() || c.StopPID != 0 || c.StopPIDFile != ""
	if c.Platform == "heroku" && c.StopSignal == syscall.SIGTERM && signalsApp {
		c.warnf("heroku: Heroku sends SIGTERM to every process in the dyno at once, so an app that stops on SIGTERM dies before lameduck drains it; make the app ignore SIGTERM and stop on SIGINT, and set --stop-signal SIGINT (see docs/platforms/heroku.md)")
	}
	need := c.ShutdownDelay + c.DrainTimeout + c.StopTimeout + KillMargin
	sum := fmt.Sprintf("delay %s + drain %s + stop %s + %s margin",
		formatDuration(c.ShutdownDelay), formatDuration(c.DrainTimeout), formatDuration(c.StopTimeout), formatDuration(KillMargin))
	if c.KillBudget < 0 {
		if c.Platform == "kubernetes" {
			c.warnf("kubernetes: the pod's terminationGracePeriodSeconds is not visible inside the pod, so lameduck cannot check that %s = %s fits in it; make it at least %d and set --kill-budget to it", sum, formatDuration(need), ceilSeconds(need))
		}
		return
	}
	budget := c.KillBudget
	if need <= budget {
		return
	}
	fixed := c.ShutdownDelay + c.StopTimeout + KillMargin
	var lowered []string
	if fixed > budget && budget > KillMargin {
		// A budget too small for the recommended delay and stop timeout
		// (Fly.io's default of 5s): those the user did not choose give
		// way, so that the drain keeps some time. No delay; a third of
		// what is left for the stop.
		if !c.userSet(keyShutdownDelay) && c.ShutdownDelay > 0 {
			c.lower(keyShutdownDelay, &c.ShutdownDelay, 0)
			lowered = append(lowered, "delay lowered to 0s")
		}
		if left := max(budget-KillMargin-c.ShutdownDelay, 0); !c.userSet(keyStopTimeout) && c.StopTimeout > left/3 {
			c.lower(keyStopTimeout, &c.StopTimeout, (left / 3).Truncate(100*time.Millisecond))
			lowered = append(lowered, "stop timeout lowered to "+formatDuration(c.StopTimeout))
		}
		fixed = c.ShutdownDelay + c.StopTimeout + KillMargin
	}
	shrunk := max(budget-fixed, 0)
	if shrunk != c.DrainTimeout {
		s := c.sources[keyDrainTimeout]
		s.note = "shrunk to fit the kill budget"
		c.sources[keyDrainTimeout] = s
		c.DrainTimeout = shrunk
	}
	bsrc := c.sources[keyKillBudget]
	railway := (bsrc.kind == srcPlatform && bsrc.name == "railway") || (bsrc.kind == srcEnv && bsrc.name == railwayDraining)
	switch {
	case railway && budget == 0:
		state := "unset"
		if bsrc.kind == srcEnv {
			state = "0"
		}
		c.warnf("%s is %s, so Railway sends SIGKILL right after SIGTERM and nothing can drain (drain timeout shrunk to 0s); set it to at least %d (%s)", railwayDraining, state, ceilSeconds(need), sum)
	case fixed > budget:
		c.warnf("kill budget %s is shorter than %s: drain timeout shrunk to 0s, and the platform will still SIGKILL lameduck before the delay and the stop timeout are over; %s", formatDuration(budget), sum, c.remedy(true, shrunk))
	default:
		lowered = append(lowered, "drain timeout shrunk to "+formatDuration(shrunk))
		c.warnf("kill budget %s is shorter than %s: %s; %s", formatDuration(budget), sum, strings.Join(lowered, ", "), c.remedy(false, shrunk))
	}
}

// remedy says what to change when the plan does not fit the budget.
func (c *Config) remedy(loud bool, fit time.Duration) string {
	var r []string
	bsrc := c.sources[keyKillBudget]
	switch {
	case bsrc.kind == srcEnv && bsrc.name == railwayDraining, bsrc.kind == srcPlatform && bsrc.name == "railway":
		r = append(r, "raise "+railwayDraining)
	case bsrc.kind == srcPlatform && bsrc.name == "fly":
		r = append(r, "raise kill_timeout in fly.toml and set --kill-budget to match")
	case bsrc.kind == srcPlatform && bsrc.name == "render":
		r = append(r, "raise maxShutdownDelaySeconds and set --kill-budget to match")
	case bsrc.kind == srcFlag || bsrc.kind == srcEnv || bsrc.kind == srcFile:
		r = append(r, "raise the platform's grace period and --kill-budget with it")
	}
	var lower []string
	if c.ShutdownDelay > 0 {
		lower = append(lower, "the delay")
	}
	if loud && c.StopTimeout > 0 {
		lower = append(lower, "the stop timeout")
	}
	if len(lower) > 0 {
		r = append(r, "lower "+strings.Join(lower, " or "))
	}
	if len(r) == 0 {
		return fmt.Sprintf("set the drain timeout to %s or less", formatDuration(fit))
	}
	sep := " or "
	if strings.Contains(r[0], " and ") {
		sep = ", or "
	}
	return strings.Join(r, sep)
}

func (c *Config) warnf(format string, args ...any) {
	c.Warnings = append(c.Warnings, oneLine(fmt.Sprintf(format, args...)))
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// userSet reports whether the user set the option (flag, environment or
// file), rather than a default or a platform profile.
func (c *Config) userSet(key string) bool {
	switch c.sources[key].kind {
	case srcFlag, srcEnv, srcFile:
		return true
	}
	return false
}

// lower sets a duration to v, noting in its source why.
func (c *Config) lower(key string, d *time.Duration, v time.Duration) {
	*d = v
	s := c.sources[key]
	s.note = "lowered to fit the kill budget"
	c.sources[key] = s
}
