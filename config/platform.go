package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Profile is what lameduck knows about a hosting platform: how to recognise
// it, how long it waits between SIGTERM and SIGKILL, and shutdown timings
// that fit that window. A profile's timings are defaults: the YAML file,
// the environment and flags override them.
type Profile struct {
	// Name is the value of --platform that selects the profile.
	Name string

	// Markers are environment variables the platform sets; when
	// --platform is auto, the first profile with any of them set (and not
	// empty) is used.
	Markers []string

	// Delay, Drain and Stop are the profile's --shutdown-delay,
	// --drain-timeout and --stop-timeout.
	Delay, Drain, Stop time.Duration

	// Budget is the platform's SIGTERM-to-SIGKILL window, when it is fixed
	// or has a documented default. Negative means the platform has one but
	// lameduck cannot see it; BudgetEnv, when set, takes precedence.
	Budget time.Duration

	// BudgetEnv is an environment variable holding the budget in whole
	// seconds; when it is unset the budget is zero, not Budget.
	BudgetEnv string

	// Note explains where the budget comes from and how to change it.
	Note string
}

// profiles are the platforms lameduck recognises, in detection order.
// The timings follow the budget rule delay + drain + stop + KillMargin <=
// budget wherever the budget is known and large enough.
var profiles = []Profile{
	{
		Name:    "railway",
		Markers: []string{"RAILWAY_ENVIRONMENT", "RAILWAY_SERVICE_ID", "RAILWAY_DEPLOYMENT_ID"},
		Delay:   5 * time.Second, Drain: 28 * time.Second, Stop: 8 * time.Second,
		BudgetEnv: railwayDraining,
		Note:      "in seconds; unset means 0: Railway sends SIGKILL right after SIGTERM, so set it as a service variable (43 or more fits this profile)",
	},
	{
		Name:    "heroku",
		Markers: []string{"DYNO"},
		Delay:   0, Drain: 22 * time.Second, Stop: 3 * time.Second,
		Budget: 30 * time.Second,
		Note:   "fixed; Heroku sends SIGTERM to every process in the dyno, the app included",
	},
	{
		Name:    "fly",
		Markers: []string{"FLY_APP_NAME"},
		Delay:   2 * time.Second, Drain: 20 * time.Second, Stop: 5 * time.Second,
		Budget: 5 * time.Second,
		Note:   "kill_timeout in fly.toml, default 5s, is not visible to the machine: set kill_timeout (up to 300s) and --kill-budget to the same value",
	},
	{
		Name:    "render",
		Markers: []string{"RENDER"},
		Delay:   0, Drain: 22 * time.Second, Stop: 5 * time.Second,
		Budget: 30 * time.Second,
		Note:   "maxShutdownDelaySeconds, default 30s (1-300): when you change it, set --kill-budget to match",
	},
	{
		Name:    "cloudrun",
		Markers: []string{"K_SERVICE"},
		Delay:   0, Drain: 6 * time.Second, Stop: 2 * time.Second,
		Budget: 10 * time.Second,
		Note:   "fixed",
	},
	{
		Name:    "kubernetes",
		Markers: []string{"KUBERNETES_SERVICE_HOST"},
		Delay:   5 * time.Second, Drain: 25 * time.Second, Stop: 5 * time.Second,
		Budget: -1,
		Note:   "the pod's terminationGracePeriodSeconds (default 30s) is not visible inside the pod: set --kill-budget to it",
	},
}

const railwayDraining = "RAILWAY_DEPLOYMENT_DRAINING_SECONDS"

// Profiles returns the platform profiles in detection order, for
// documentation.
func Profiles() []Profile {
	out := make([]Profile, len(profiles))
	for i, p := range profiles {
		p.Markers = append([]string(nil), p.Markers...)
		out[i] = p
	}
	return out
}

func platformNames() []string {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	return names
}

func profileByName(name string) *Profile {
	for i := range profiles {
		if profiles[i].Name == name {
			return &profiles[i]
		}
	}
	return nil
}

// detect returns the first profile whose marker is set in env, and that
// marker.
func detect(env func(string) (string, bool)) (*Profile, string) {
	for i := range profiles {
		for _, m := range profiles[i].Markers {
			if v, ok := env(m); ok && v != "" {
				return &profiles[i], m
			}
		}
	}
	return nil, ""
}

// budget returns the profile's kill budget in env, where it came from, and
// whether it is known. A malformed budget variable is an error.
func (p *Profile) budget(env func(string) (string, bool)) (time.Duration, source, bool, error) {
	if p.BudgetEnv != "" {
		v, ok := env(p.BudgetEnv)
		if !ok || v == "" {
			return 0, source{kind: srcPlatform, name: p.Name}, true, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return 0, source{}, false, &Error{Source: "env", Name: p.BudgetEnv, Msg: fmt.Sprintf("want a whole number of seconds, got %q", v)}
		}
		return time.Duration(n) * time.Second, source{kind: srcEnv, name: p.BudgetEnv}, true, nil
	}
	if p.Budget < 0 {
		return -1, source{kind: srcPlatform, name: p.Name}, false, nil
	}
	return p.Budget, source{kind: srcPlatform, name: p.Name}, true, nil
}

// WriteProfiles writes the platform profiles as a Markdown table, for the
// generated configuration reference.
func WriteProfiles(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| Platform | Detected by | Delay | Drain | Stop | Kill budget | Notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, p := range profiles {
		markers := make([]string, len(p.Markers))
		for i, m := range p.Markers {
			markers[i] = "`" + m + "`"
		}
		budget := "none"
		switch {
		case p.BudgetEnv != "":
			budget = "`" + p.BudgetEnv + "`"
		case p.Budget >= 0:
			budget = formatDuration(p.Budget)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", p.Name, strings.Join(markers, ", "),
			formatDuration(p.Delay), formatDuration(p.Drain), formatDuration(p.Stop), budget, mdEscape(p.Note))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
