package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lameduck/lameduck/config"
)

// The Kubernetes manifests under deploy/kubernetes are decoded strictly
// (an unknown or misspelt field is an error), with the fields they use.

type k8sObject struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       yaml.Node
}

type metadata struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type deploymentSpec struct {
	Replicas int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Strategy struct {
		Type          string `yaml:"type"`
		RollingUpdate struct {
			MaxSurge       int `yaml:"maxSurge"`
			MaxUnavailable int `yaml:"maxUnavailable"`
		} `yaml:"rollingUpdate"`
	} `yaml:"strategy"`
	Template struct {
		Metadata metadata `yaml:"metadata"`
		Spec     podSpec  `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
	EnableServiceLinks            *bool       `yaml:"enableServiceLinks"`
	InitContainers                []container `yaml:"initContainers"`
	Containers                    []container `yaml:"containers"`
}

type container struct {
	Name          string   `yaml:"name"`
	Image         string   `yaml:"image"`
	RestartPolicy string   `yaml:"restartPolicy"`
	Command       []string `yaml:"command"`
	Args          []string `yaml:"args"`
	Env           []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			HTTPGet *httpGet `yaml:"httpGet"`
			Sleep   *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
}

type probe struct {
	HTTPGet          *httpGet `yaml:"httpGet"`
	PeriodSeconds    int      `yaml:"periodSeconds"`
	FailureThreshold int      `yaml:"failureThreshold"`
}

type httpGet struct {
	Path string `yaml:"path"`
	Port string `yaml:"port"` // a number or a port name
	Host string `yaml:"host"`
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"`
	} `yaml:"ports"`
}

type networkPolicySpec struct {
	PodSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"podSelector"`
	PolicyTypes []string `yaml:"policyTypes"`
	Ingress     []struct {
		Ports []struct {
			Protocol string `yaml:"protocol"`
			Port     int    `yaml:"port"`
		} `yaml:"ports"`
	} `yaml:"ingress"`
}

type kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Resources  []string `yaml:"resources"`
}

// decodeStrict decodes every YAML document of data into a new T.
func decodeStrict[T any](data []byte) ([]T, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// decodeSpec decodes an object's spec strictly into v.
func decodeSpec(o k8sObject, v any) error {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(&o.Spec); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&b)
	dec.KnownFields(true)
	return dec.Decode(v)
}

// manifestSet is one Kustomize directory, decoded.
type manifestSet struct {
	dir         string
	deployments []deploymentSpec
	services    []serviceSpec
	policies    []networkPolicySpec
}

// loadManifests decodes the Kustomize directory dir: every file it lists,
// and no file it does not list.
func loadManifests(t *testing.T, dir string) manifestSet {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := decodeStrict[kustomization](data)
	if err != nil || len(ks) != 1 {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	k := ks[0]
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s/kustomization.yaml: apiVersion %q kind %q", dir, k.APIVersion, k.Kind)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(k.Resources, b) {
			t.Errorf("%s is not listed in %s/kustomization.yaml", f, dir)
		}
	}
	set := manifestSet{dir: dir}
	for _, r := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatalf("%s/kustomization.yaml lists %s: %v", dir, r, err)
		}
		objs, err := decodeStrict[k8sObject](data)
		if err != nil {
			t.Fatalf("%s/%s: %v", dir, r, err)
		}
		for _, o := range objs {
			var err error
			switch want := o.APIVersion + " " + o.Kind; want {
			case "apps/v1 Deployment":
				var s deploymentSpec
				err = decodeSpec(o, &s)
				set.deployments = append(set.deployments, s)
			case "v1 Service":
				var s serviceSpec
				err = decodeSpec(o, &s)
				set.services = append(set.services, s)
			case "networking.k8s.io/v1 NetworkPolicy":
				var s networkPolicySpec
				err = decodeSpec(o, &s)
				set.policies = append(set.policies, s)
			default:
				err = fmt.Errorf("unexpected %s", want)
			}
			if err != nil {
				t.Fatalf("%s/%s: %s %s: %v", dir, r, o.Kind, o.Metadata.Name, err)
			}
		}
	}
	return set
}

// lameduckIn is lameduck's container in a pod, with where it is and its
// configuration as lameduck loads it in that pod.
type lameduckIn struct {
	c       *container
	sidecar bool // a native sidecar (init container)
	cfg     *config.Config
}

// isLameduck reports whether c runs lameduck: its command is lameduck, or
// it runs the lameduck image, whose entrypoint is lameduck.
func isLameduck(c *container) bool {
	if len(c.Command) > 0 {
		return c.Command[0] == "lameduck"
	}
	name, _, _ := strings.Cut(path.Base(c.Image), ":")
	return name == "lameduck"
}

// findLameduck returns lameduck's container in pod, loaded with the
// environment the kubelet gives it.
func findLameduck(t reporter, pod *podSpec) lameduckIn {
	t.Helper()
	var found []lameduckIn
	for i := range pod.InitContainers {
		if isLameduck(&pod.InitContainers[i]) {
			found = append(found, lameduckIn{c: &pod.InitContainers[i], sidecar: true})
		}
	}
	for i := range pod.Containers {
		if isLameduck(&pod.Containers[i]) {
			found = append(found, lameduckIn{c: &pod.Containers[i]})
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lameduck containers, want 1", len(found))
	}
	l := found[0]
	args := l.c.Args
	if len(l.c.Command) > 0 {
		args = append(slices.Clone(l.c.Command[1:]), args...)
	}
	env := map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1"}
	for _, e := range l.c.Env {
		env[e.Name] = e.Value
	}
	cfg, err := config.Load(args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatalf("container %s: lameduck %s: %v", l.c.Name, strings.Join(args, " "), err)
	}
	l.cfg = cfg
	return l
}

// portOf resolves a probe's or Service's port, a number or the name of one
// of c's ports.
func portOf(c *container, port string) int {
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return p.ContainerPort
		}
	}
	return -1
}

func addrPortOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(p)
	return n
}

// TestKubernetesManifests checks, in every directory of deploy/kubernetes,
// what a pod needs for lameduck to drain it: the grace period covers
// lameduck's plan and is its kill budget; readiness is /readyz and
// liveness /healthz, on the admin port, which is not loopback; the ports
// match the flags; and for a native sidecar, the restart policy, a startup
// probe that does not wait for the app, and the app's preStop hook on
// /drain.
func TestKubernetesManifests(t *testing.T) {
	root := filepath.Join("..", "..", "deploy", "kubernetes")
	dirs, err := filepath.Glob(filepath.Join(root, "*", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[bool]bool{}
	for _, k := range dirs {
		dir := filepath.Dir(k)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			set := loadManifests(t, dir)
			if len(set.deployments) != 1 {
				t.Fatalf("%d Deployments, want 1", len(set.deployments))
			}
			d := set.deployments[0]
			pod := &d.Template.Spec
			l := findLameduck(t, pod)
			shapes[l.sidecar] = true
			checkPod(t, d, l)
			checkExposure(t, set, d, l)
		})
	}
	if !shapes[true] || !shapes[false] {
		t.Errorf("deploy/kubernetes has shapes %v, want both the wrapper (false) and the native sidecar (true)", shapes)
	}
}

func checkPod(t reporter, d deploymentSpec, l lameduckIn) {
	t.Helper()
	pod, cfg, c := &d.Template.Spec, l.cfg, l.c
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds: the default 30s is not visible to lameduck")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if cfg.Platform != "kubernetes" {
		t.Errorf("platform = %q, want kubernetes, detected", cfg.Platform)
	}
	if cfg.KillBudget != grace {
		t.Errorf("--kill-budget = %v, want the grace period %v, so that lameduck checks its plan against it", cfg.KillBudget, grace)
	}
	if need := cfg.ShutdownDelay + cfg.DrainTimeout + cfg.StopTimeout + config.KillMargin; need > grace {
		t.Errorf("delay %v + drain %v + stop %v + margin %v = %v > terminationGracePeriodSeconds %v",
			cfg.ShutdownDelay, cfg.DrainTimeout, cfg.StopTimeout, config.KillMargin, need, grace)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("lameduck warns in this pod: %q", cfg.Warnings)
	}
	if d.Strategy.RollingUpdate.MaxUnavailable != 0 {
		t.Errorf("maxUnavailable = %d, want 0: a rollout should not remove serving pods before new ones are ready", d.Strategy.RollingUpdate.MaxUnavailable)
	}

	admin := addrPortOf(cfg.Admin)
	if host, _, _ := net.SplitHostPort(cfg.Admin); host != "" {
		t.Errorf("--admin %q: want \":port\", reachable on the pod IP where the kubelet probes", cfg.Admin)
	}
	if p := portOf(c, "admin"); p != admin {
		t.Errorf("container port admin = %d, want --admin's %d", p, admin)
	}
	if p := portOf(c, "http"); p != addrPortOf(cfg.Listen) {
		t.Errorf("container port http = %d, want --listen's %d", p, addrPortOf(cfg.Listen))
	}
	for _, pr := range []struct {
		name  string
		probe *probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		switch {
		case pr.probe == nil || pr.probe.HTTPGet == nil:
			t.Errorf("%s: no httpGet %s", pr.name, pr.path)
		case pr.probe.HTTPGet.Path != pr.path:
			t.Errorf("%s path = %q, want %q", pr.name, pr.probe.HTTPGet.Path, pr.path)
		case portOf(c, pr.probe.HTTPGet.Port) != admin:
			t.Errorf("%s port %q, want the admin port %d", pr.name, pr.probe.HTTPGet.Port, admin)
		}
	}
	if p := c.StartupProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Path == "/readyz" {
		t.Error("startupProbe on /readyz: it waits for the app, which waits for the sidecar to start")
	}
	sleeps := false
	for _, ac := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		if ps := ac.Lifecycle.PreStop; ps != nil && (ps.Sleep != nil || ps.Exec != nil) {
			sleeps = true
		}
	}
	if sleeps && cfg.ShutdownDelay > 0 {
		t.Error("a preStop sleep or exec together with --shutdown-delay: they add up; use one")
	}

	if !l.sidecar {
		if cfg.Sidecar() {
			t.Error("lameduck is the container's entrypoint but has no app command")
		}
		return
	}
	// Native sidecar.
	if c.RestartPolicy != "Always" {
		t.Errorf("init container %s restartPolicy = %q, want Always (a native sidecar)", c.Name, c.RestartPolicy)
	}
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Path != "/healthz" {
		t.Error("native sidecar without a startupProbe on /healthz: the app could start before lameduck listens")
	}
	if !cfg.Sidecar() || cfg.StopPID != 0 || cfg.StopPIDFile != "" || cfg.StopURL != "" {
		t.Error("native sidecar: want --upstream and no stop method; the kubelet stops the app after its preStop hook")
	}
	u, err := url.Parse(cfg.Upstream)
	if err != nil || !slices.Contains([]string{"127.0.0.1", "localhost", "::1"}, u.Hostname()) {
		t.Errorf("--upstream %q: want the app on loopback", cfg.Upstream)
	}
	upstreamPort, _ := strconv.Atoi(u.Port())
	if len(pod.Containers) == 0 {
		t.Fatal("no app container")
	}
	for _, ac := range pod.Containers {
		ps := ac.Lifecycle.PreStop
		switch {
		case ps == nil || ps.HTTPGet == nil:
			t.Errorf("app container %s: no preStop httpGet on lameduck's /drain: the kubelet would stop it while it still has traffic", ac.Name)
		case ps.HTTPGet.Path != "/drain":
			t.Errorf("app container %s: preStop path %q, want /drain", ac.Name, ps.HTTPGet.Path)
		case ps.HTTPGet.Port != strconv.Itoa(admin):
			t.Errorf("app container %s: preStop port %q, want lameduck's admin port %d as a number (named ports are looked up in the app's container)", ac.Name, ps.HTTPGet.Port, admin)
		case ps.HTTPGet.Host != "":
			t.Errorf("app container %s: preStop host %q, want none (the pod IP)", ac.Name, ps.HTTPGet.Host)
		}
		for _, e := range ac.Env {
			if e.Name == "PORT" && e.Value != strconv.Itoa(upstreamPort) {
				t.Errorf("app container %s: PORT %s, want --upstream's port %d", ac.Name, e.Value, upstreamPort)
			}
		}
	}
}

// checkExposure: the Service sends traffic to lameduck's public port, and
// the NetworkPolicy opens that port and not the admin port.
func checkExposure(t *testing.T, set manifestSet, d deploymentSpec, l lameduckIn) {
	t.Helper()
	labels := d.Template.Metadata.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(d.Selector.MatchLabels) {
		t.Error("the Deployment's selector does not match its pod template")
	}
	listen, admin := addrPortOf(l.cfg.Listen), addrPortOf(l.cfg.Admin)
	if len(set.services) == 0 {
		t.Error("no Service")
	}
	for _, s := range set.services {
		if !matches(s.Selector) {
			t.Error("Service selector does not match the pod")
		}
		for _, p := range s.Ports {
			if n, err := strconv.Atoi(p.TargetPort); err != nil || n != listen {
				t.Errorf("Service targetPort %q, want lameduck's --listen port %d as a number (a native sidecar's named ports need Kubernetes 1.32)", p.TargetPort, listen)
			}
		}
	}
	if len(set.policies) == 0 {
		t.Error("no NetworkPolicy: the admin port, with /drain, would be open to every pod")
	}
	for _, np := range set.policies {
		if !matches(np.PodSelector.MatchLabels) || !slices.Contains(np.PolicyTypes, "Ingress") {
			t.Error("NetworkPolicy does not isolate the pod's ingress")
		}
		var open []int
		for _, in := range np.Ingress {
			for _, p := range in.Ports {
				open = append(open, p.Port)
			}
		}
		if !slices.Contains(open, listen) || slices.Contains(open, admin) || len(open) == 0 {
			t.Errorf("NetworkPolicy opens ports %v, want %d and never the admin port %d", open, listen, admin)
		}
	}
}

// TestManifestCheckFails: the checks catch the mistakes they are for.
func TestManifestCheckFails(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "sidecar", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"grace too short", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30", "--kill-budget = 45s, want the grace period 30s"},
		{"budget too short", "--kill-budget=45s", "--kill-budget=30s", "lameduck warns"},
		{"readiness on healthz", "path: /readyz", "path: /healthz", `readinessProbe path = "/healthz"`},
		{"loopback admin", "--admin=:9901", "--admin=127.0.0.1:9901", "reachable on the pod IP"},
		{"no restart policy", "    restartPolicy: Always", "    restartPolicy: OnFailure", "want Always"},
		{"preStop elsewhere", "path: /drain", "path: /quit", `preStop path "/quit"`},
		{"misspelt field", "readinessProbe:", "readinesProbe:", "not found in type"},
		{"upstream port", "--upstream=http://127.0.0.1:3000", "--upstream=http://127.0.0.1:3001", "PORT 3000, want --upstream's port 3001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tc.from, tc.to, 1)
			if bad == string(good) {
				t.Fatalf("%q not in the manifest", tc.from)
			}
			got := manifestErrors(bad)
			if !strings.Contains(got, tc.want) {
				t.Fatalf("errors = %q, want one with %q", got, tc.want)
			}
		})
	}
}

// reporter is what the checks need of a *testing.T.
type reporter interface {
	Helper()
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// errorLog is a reporter that keeps the messages.
type errorLog struct{ msgs []string }

func (r *errorLog) Helper()           {}
func (r *errorLog) Error(args ...any) { r.msgs = append(r.msgs, fmt.Sprint(args...)) }
func (r *errorLog) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *errorLog) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *errorLog) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }

// manifestErrors runs the pod checks on a Deployment and returns what they
// reported.
func manifestErrors(deployment string) string {
	r := &errorLog{}
	done := make(chan struct{})
	go func() { // Fatal ends this goroutine, as it ends a test's
		defer close(done)
		objs, err := decodeStrict[k8sObject]([]byte(deployment))
		if err != nil {
			r.Fatal(err)
		}
		var d deploymentSpec
		if err := decodeSpec(objs[0], &d); err != nil {
			r.Fatal(err)
		}
		checkPod(r, d, findLameduck(r, &d.Template.Spec))
	}()
	<-done
	return strings.Join(r.msgs, "\n")
}

// TestKustomizeBuild: Kustomize builds every directory.
func TestKustomizeBuild(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "kubernetes", "*", "kustomization.yaml"))
	for _, k := range dirs {
		out, err := kustomizeBuild(t, filepath.Dir(k)).CombinedOutput()
		if err != nil {
			t.Errorf("kustomize build %s: %v\n%s", filepath.Dir(k), err, out)
			continue
		}
		if n := bytes.Count(out, []byte("\nkind: ")) + bytes.Count(out[:min(len(out), 64)], []byte("kind: ")); n < 3 {
			t.Errorf("kustomize build %s: %d objects, want 3", filepath.Dir(k), n)
		}
	}
}
