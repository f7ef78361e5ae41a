package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lameduck/lameduck/config"
	"github.com/lameduck/lameduck/drain"
	"github.com/lameduck/lameduck/drain/proc"
	"github.com/lameduck/lameduck/proxy"
	"github.com/lameduck/lameduck/proxy/admin"
)

// run is lameduck: it loads the configuration, starts everything, waits for
// the signal to drain, drains, and returns the exit status. It is the only
// place that turns errors into exit statuses.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "config" {
		return configCommand(args[1:], environ, stdout, stderr)
	}
	cfg, err := config.Load(args, lookupEnv(environ), os.ReadFile)
	switch {
	case errors.Is(err, config.ErrHelp):
		config.Usage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "lameduck: %v\n", err)
		return exitUsage
	case cfg.Version:
		fmt.Fprintf(stdout, "lameduck %s\n", versionString())
		return exitOK
	}
	logger := newLogger(stderr, cfg.LogFormat)
	l := &lifecycle{cfg: cfg, logger: logger, trigger: make(chan string, 1), quit: make(chan struct{}, 1)}
	if code, err := l.open(environ); err != nil {
		logger.Error("cannot start", "err", err)
		l.closeListeners()
		return code
	}
	return l.run(ctx, sigs)
}

// lookupEnv turns an environment list into a lookup function.
func lookupEnv(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// newLogger logs to w, one line per event, as text or JSON.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// lifecycle holds what one run of lameduck starts, in the order it starts
// it, and the state shared by the signal relay and the drain.
type lifecycle struct {
	cfg    *config.Config
	logger *slog.Logger

	public, adminLn net.Listener
	upstream        *proxy.Upstream
	srv             *proxy.Server
	seq             *drain.Sequence
	reaper          *proc.Reaper
	app             *proc.Group // nil in sidecar mode
	adminSrv        *http.Server
	tls             *tlsServing // nil without TLS

	draining  atomic.Bool   // a drain has been triggered
	drainFrom atomic.Int64  // when, in Unix nanoseconds
	trigger   chan string   // the reason of the drain, sent once
	quit      chan struct{} // a stop signal after the drain finished
	skip      context.CancelCauseFunc
	lastDrain atomic.Int64 // duration of the last drain wait, for metrics
}

// open binds the listeners, then starts the app: requests are accepted (and
// held) from the first moment, and nothing is started if a listener fails.
func (l *lifecycle) open(environ []string) (code int, err error) {
	cfg := l.cfg
	if cfg.Listen != "" { // off with TLS unless set
		if l.public, err = net.Listen("tcp", cfg.Listen); err != nil {
			return exitFailure, err
		}
	}
	if cfg.Admin != "" {
		if l.adminLn, err = net.Listen("tcp", cfg.Admin); err != nil {
			return exitFailure, fmt.Errorf("admin: %w", err)
		}
	}
	if code, err := l.openTLS(); err != nil {
		return code, err
	}
	target := cfg.Upstream
	appPort := cfg.AppPort
	if !cfg.Sidecar() && appPort == 0 {
		if appPort, err = freePort(); err != nil {
			return exitFailure, fmt.Errorf("pick a port for the app: %w", err)
		}
	}
	if target == "" {
		target = "http://127.0.0.1:" + strconv.Itoa(appPort)
	}
	if l.upstream, err = proxy.NewUpstream(target); err != nil {
		return exitUsage, err
	}
	l.upstream.HeaderTimeout = cfg.UpstreamTimeout
	l.newServer()

	l.reaper = &proc.Reaper{Logger: l.logger}
	l.seq = &drain.Sequence{
		Delay:       cfg.ShutdownDelay,
		Timeout:     cfg.DrainTimeout,
		StopTimeout: cfg.StopTimeout,
		Traffic:     l.srv,
		Logger:      l.logger,
	}
	mode, adminAddr := "sidecar", "off"
	if !cfg.Sidecar() {
		mode = "supervisor"
	}
	if l.adminLn != nil {
		adminAddr = l.adminLn.Addr().String()
	}
	l.logger.Info("lameduck starting", "version", versionString(), "mode", mode,
		"listen", addrOf(l.public), "upstream", l.upstream.String(), "admin", adminAddr, "pid", os.Getpid())
	for _, w := range cfg.Warnings {
		l.logger.Warn(w)
	}
	if l.adminLn != nil {
		warnExposedAdmin(l.adminLn.Addr(), cfg.AdminToken, l.logger)
	}
	l.logger.Info("drain plan", "plan", cfg.Plan().String())

	if cfg.Sidecar() {
		l.seq.App = sidecarStopper(cfg)
		return exitOK, nil
	}
	if proc.IsPID1() {
		l.logger.Info("running as PID 1: reaping orphaned processes")
	} else if err := proc.SetSubreaper(); err != nil {
		l.logger.Warn("orphans of the app will not be reaped", "err", err)
	}
	l.app, err = l.reaper.Start(proc.Command{
		Args:       cfg.Command,
		Env:        appEnv(environ, appPort),
		StopSignal: cfg.StopSignal,
	})
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return exitNotFound, err
	case errors.Is(err, fs.ErrPermission):
		return exitCannotExecute, err
	case err != nil:
		return exitFailure, err
	}
	l.seq.App = l.app
	l.logger.Info("app started", "pid", l.app.Pid(), "port", appPort, "command", strings.Join(cfg.Command, " "))
	return exitOK, nil
}

// newServer builds the proxy and the admin server.
func (l *lifecycle) newServer() {
	cfg := l.cfg
	wait := cfg.UpstreamWait
	if wait == 0 {
		wait = -1 // not held: answered at once
	}
	h := &proxy.Handler{
		Upstream:     l.upstream,
		UpstreamWait: wait,
		HealthPath:   cfg.HealthPath,
		Ready:        func() bool { ok, _ := l.ready(); return ok },
		CloseCode:    uint16(cfg.WSCloseCode),
		Logger:       l.logger,

		TrustedProxies: trustedProxies(cfg.TrustedProxies, l.logger),
	}
	l.srv = &proxy.Server{
		Handler:           h,
		IdleTimeout:       cfg.IdleTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		H2C:               cfg.H2C,
		Logger:            l.logger,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
	if l.adminLn == nil {
		return
	}
	l.adminSrv = &http.Server{
		Handler: admin.New(admin.Options{
			Ready:  l.ready,
			Drain:  l.drainAndWait,
			Logger: l.logger,
			Token:  cfg.AdminToken,
			Metrics: admin.Metrics{
				InFlight:       h.InFlight,
				Requests:       h.Requests,
				UpstreamErrors: h.UpstreamErrors,
				ConnectionsCut: l.srv.ConnectionsCut,
				Phase:          func() drain.Phase { return l.seq.Phase() },
				DrainDuration:  func() time.Duration { return time.Duration(l.lastDrain.Load()) },
				UpstreamReady:  l.upstream.Ready,
				Certificates:   l.certMetrics(),
			},
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(l.logger.Handler(), slog.LevelWarn),
	}
}

// ready is readiness: the upstream accepts connections and no drain has
// started.
func (l *lifecycle) ready() (bool, string) {
	switch {
	case l.draining.Load() || l.seq.Phase() != drain.Serving:
		return false, "draining"
	case !l.upstream.Ready():
		return false, "starting: upstream not accepting connections yet"
	}
	if ok, reason := l.tlsReady(); !ok {
		return false, reason
	}
	return true, "ready"
}

// run serves until the drain, runs it, and returns the exit status.
func (l *lifecycle) run(ctx context.Context, sigs <-chan os.Signal) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	skipCtx, skip := context.WithCancelCause(context.WithoutCancel(ctx))
	defer skip(nil)
	l.skip = skip
	g, gctx := errgroup.WithContext(ctx)
	sigchld := make(chan os.Signal, 1)
	// Signals and children are handled until the app is stopped, even when
	// serving failed and gctx is done.
	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProc()

	g.Go(func() error { return l.relaySignals(procCtx, sigs, sigchld) })
	g.Go(func() error { return l.reaper.Run(procCtx, sigchld) })
	if l.public != nil {
		g.Go(func() error { return l.srv.Serve(l.public, nil, nil) })
	}
	l.serveTLS(gctx, g)
	g.Go(func() error {
		if err := l.upstream.Probe(gctx, l.logger); err != nil && gctx.Err() == nil {
			return err
		}
		return nil
	})
	if l.adminSrv != nil {
		g.Go(func() error {
			if err := l.adminSrv.Serve(l.adminLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("admin: %w", err)
			}
			return nil
		})
	}
	if l.app != nil {
		g.Go(func() error { l.watchApp(procCtx); return nil })
	}

	failed := false
	var reason string
	select {
	case reason = <-l.trigger:
	case <-gctx.Done():
		failed = true
		reason = "error"
		l.logger.Error("serving failed", "err", context.Cause(gctx))
		l.startDrain(reason, fmt.Errorf("serving failed: %w", context.Cause(gctx)))
	}
	report := l.seq.Run(skipCtx, reason)
	l.lastDrain.Store(int64(report.Drain))
	l.finish(skipCtx)
	if l.app == nil && l.seq.App == nil && reason == drainRequest {
		// A drain asked for over the admin API, with nothing to stop: the
		// app belongs to someone else (Kubernetes stops it next), and
		// lameduck, drained, waits for its own stop signal.
		l.logger.Info("drained; waiting for a stop signal")
		select {
		case <-l.quit:
		case <-gctx.Done():
		}
	}
	l.shutdownAdmin()
	stopProc()
	cancel()
	if err := g.Wait(); err != nil && !failed {
		l.logger.Error("shutdown", "err", err)
	}
	l.closeTLS()
	code := l.exitCode(failed)
	l.logger.Info("lameduck exiting", "status", code)
	return code
}

const drainRequest = "admin /drain"

// finishWait bounds how long lameduck waits, after the drain, for the last
// responses to be written to their clients (the app already stopped).
const finishWait = time.Second

// finish lets the last responses of the drain reach their clients, then
// closes every connection.
func (l *lifecycle) finish(ctx context.Context) {
	ctx, cancel := context.WithTimeoutCause(ctx, finishWait, fmt.Errorf("finish wait %s", finishWait))
	defer cancel()
	if err := l.srv.Finish(ctx); err != nil {
		l.logger.Warn("closed connections still writing", "cause", err)
	}
}

// startDrain triggers the drain once. A non-nil skip cause also skips every
// remaining wait of the drain.
func (l *lifecycle) startDrain(reason string, skipCause error) {
	if skipCause != nil {
		l.skip(skipCause)
	}
	if !l.draining.Swap(true) {
		l.drainFrom.Store(time.Now().UnixNano())
		l.trigger <- reason
	}
}

// drainAndWait serves the admin /drain endpoint: it starts the drain if
// needed and returns when the drain wait has ended.
func (l *lifecycle) drainAndWait(ctx context.Context) (string, error) {
	l.startDrain(drainRequest, nil)
	select {
	case <-l.seq.Drained():
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	took := time.Since(time.Unix(0, l.drainFrom.Load())).Round(time.Millisecond)
	return fmt.Sprintf("drained in %s: %d cut", took, l.srv.ConnectionsCut()), nil
}

// watchApp turns the app's own exit into a drain that skips every wait: the
// listeners close at once and lameduck exits with the app's status.
func (l *lifecycle) watchApp(ctx context.Context) {
	select {
	case <-l.app.Exited():
		st := l.app.Status()
		if l.seq.Phase() >= drain.Stopping {
			l.logger.Info("app exited", "status", st.String())
			return
		}
		// Nothing can be answered any more: the listeners close at once,
		// also during a drain, so that clients are refused (and retry
		// elsewhere) rather than answered 502.
		l.logger.Warn("app exited by itself", "status", st.String())
		l.startDrain("app exited", fmt.Errorf("app exited: %s", st))
	case <-ctx.Done():
	}
}

// relaySignals owns the process's signals: SIGTERM and SIGINT start the
// drain; during it a SIGINT (Ctrl-C twice) skips the remaining waits while a
// repeated SIGTERM does not, since some platforms send several. SIGCHLD goes
// to the reaper; the others are forwarded to the app's process group.
func (l *lifecycle) relaySignals(ctx context.Context, sigs <-chan os.Signal, sigchld chan<- os.Signal) error {
	for {
		var sig os.Signal
		select {
		case <-ctx.Done():
			return nil
		case sig = <-sigs:
		}
		s, _ := sig.(syscall.Signal)
		name := proc.SignalName(s)
		switch s {
		case syscall.SIGCHLD:
			select {
			case sigchld <- sig:
			default: // the reaper has one pending already: it reaps all
			}
		case syscall.SIGPIPE:
		case syscall.SIGTERM, syscall.SIGINT:
			if !l.draining.Load() {
				l.logger.Info("signal received", "signal", name)
				l.startDrain(name, nil)
				continue
			}
			// A drain started by /drain, with nothing to stop, ends with
			// lameduck waiting for this signal: remember it whenever it
			// comes.
			select {
			case l.quit <- struct{}{}:
			default:
			}
			switch {
			case l.seq.Phase() == drain.Done:
			case s == syscall.SIGINT:
				l.logger.Warn("second signal: skipping the remaining waits", "signal", name)
				l.skip(errors.New("second SIGINT"))
			default:
				l.logger.Info("signal received again: already draining", "signal", name)
			}
		default:
			if l.app == nil {
				l.logger.Info("signal ignored: no app to forward it to", "signal", name)
				continue
			}
			if err := l.app.Signal(s); err != nil {
				l.logger.Warn("forward signal", "signal", name, "err", err)
				continue
			}
			l.logger.Info("signal forwarded to app", "signal", name)
		}
	}
}

// shutdownAdmin lets answers in progress on the admin listener, such as a
// /drain that just returned, go out before it closes.
func (l *lifecycle) shutdownAdmin() {
	if l.adminSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l.adminSrv.Shutdown(ctx); err != nil {
		l.adminSrv.Close()
	}
}

// exitCode is 1 when lameduck itself failed, else the app's status in
// supervisor mode, else 0.
func (l *lifecycle) exitCode(failed bool) int {
	if failed {
		return exitFailure
	}
	if l.app != nil {
		select {
		case <-l.app.Exited():
			return l.app.Status().ExitCode()
		default:
			l.logger.Error("app did not exit", "pid", l.app.Pid())
			return exitFailure
		}
	}
	return exitOK
}

func (l *lifecycle) closeListeners() {
	for _, ln := range []net.Listener{l.public, l.adminLn} {
		if ln != nil {
			ln.Close()
		}
	}
	l.closeTLS()
}

// sidecarStopper is how the app is stopped in sidecar mode, or nil.
func sidecarStopper(cfg *config.Config) drain.App {
	switch {
	case cfg.StopPID != 0:
		return &proc.PID{Pid: cfg.StopPID, Signal: cfg.StopSignal}
	case cfg.StopPIDFile != "":
		return &proc.PIDFile{Path: cfg.StopPIDFile, Signal: cfg.StopSignal}
	case cfg.StopURL != "":
		return &proc.URL{URL: cfg.StopURL}
	}
	return nil
}

// appEnv is lameduck's environment for the app, with PORT set to the app's
// port and LAMEDUCK=1 so that the app can tell it runs behind lameduck.
func appEnv(environ []string, port int) []string {
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "PORT=") && !strings.HasPrefix(kv, "LAMEDUCK=") {
			env = append(env, kv)
		}
	}
	return append(env, "PORT="+strconv.Itoa(port), "LAMEDUCK=1")
}

// freePort asks the kernel for a free loopback port for the app.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
