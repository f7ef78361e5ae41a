package certs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// askTimeout bounds a question to the ask URL: it runs inside a client's
// TLS handshake.
const askTimeout = 10 * time.Second

// asker approves names for on-demand certificates by asking a URL, as
// Caddy's on-demand "ask" does: GET url?domain=NAME, approved on 2xx.
type asker struct {
	url       *url.URL
	transport *http.Transport
}

func newAsker(raw string) (*asker, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ask URL %q: want an http or https URL", raw)
	}
	return &asker{url: u, transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}, nil
}

// decide is certmagic's DecisionFunc: nil approves name.
func (a *asker) decide(ctx context.Context, name string) error {
	u := *a.url
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{Transport: a.transport}).Do(req)
	if err != nil {
		return fmt.Errorf("ask whether %s may have a certificate: %w", name, err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("%s not approved for a certificate: %s answered %s", name, a.url.Redacted(), res.Status)
	}
	return nil
}

// close drops the idle connections to the ask URL.
func (a *asker) close() { a.transport.CloseIdleConnections() }
