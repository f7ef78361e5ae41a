package proc

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// URL stops an app that lameduck did not start by asking it over HTTP, as
// a sidecar POSTs Envoy's /quitquitquit.
type URL struct {
	// URL receives a POST with an empty body. It must be set.
	URL string

	// Client sends the request. Nil means http.DefaultClient.
	Client *http.Client
}

// Stop sends the POST, bound to ctx, and succeeds on a 2xx response. It
// does not wait for the app to exit: it returns when the response arrives.
func (u URL) Stop(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.URL, nil)
	if err != nil {
		return fmt.Errorf("stop url: %v", err)
	}
	client := u.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err // names the method and URL
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s", u.URL, resp.Status)
	}
	return nil
}
