// Package certs provides the certificates of lameduck's HTTPS listener:
// automatic HTTPS by ACME through certmagic (certificates obtained at
// start for a list of domains, or during the handshake for names an "ask"
// URL approves), or a certificate from files that is reloaded when they
// change.
//
// It owns certmagic's lifetime: a Manager has its own certmagic cache and
// configs, never the package globals, so that Close can stop the
// background maintenance and wait for it. certmagic logs through zap; the
// Manager bridges it into the slog handler it is given, so that every
// line has one format. Readiness means "every certificate of
// Options.Domains is in the cache", from certmagic's cached_managed_cert
// event (cert_obtained fires before the certificate is cached).
//
// ACME challenges are answered by lameduck's own listeners: HTTP-01 by
// HTTPHandler on the HTTP listener, TLS-ALPN-01 by TLSConfig on the HTTPS
// listener, whose server must keep "acme-tls/1" first among the protocols
// it offers.
//
// Known limits: certmagic starts a few goroutines that Close cannot wait
// for: a rate limiter per CA account, which lives as long as the process;
// a lock file refresher, which ends within 5 seconds of the lock's
// release; and renewals it queued, which end soon after Close cancels
// their context. Names must be DNS names or IP addresses the CA can reach
// by HTTP-01 or TLS-ALPN-01: there is no DNS-01, so no wildcards.
//
// Typical use, in the wiring of the program:
//
//	m, err := certs.New(certs.Options{
//		Domains:   []string{"example.com"},
//		Email:     "ops@example.com",
//		Storage:   "/var/lib/lameduck",
//		HTTPAddr:  httpLn.Addr().String(),
//		HTTPSAddr: httpsLn.Addr().String(),
//		Logger:    logger,
//	})
//	if err != nil {
//		return err
//	}
//	defer m.Close() // after Run has returned
//	go srv.Serve(httpsLn, proxyHandler, m.TLSConfig())
//	go srv.Serve(httpLn, m.HTTPHandler(certs.Redirect(443)), nil)
//	go m.Run(ctx) // obtains the certificates, retrying; m.Ready() once cached
package certs
