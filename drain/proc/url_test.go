package proc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestURLStop(t *testing.T) {
	tests := []struct {
		name   string
		status int
		nilCli bool
		msg    string // "": success
	}{
		{name: "200", status: http.StatusOK},
		{name: "204 default client", status: http.StatusNoContent, nilCli: true},
		{name: "500", status: http.StatusInternalServerError, msg: "POST %s: 500 Internal Server Error"},
		{name: "404", status: http.StatusNotFound, msg: "POST %s: 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			methods := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				methods <- r.Method
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			u := URL{URL: srv.URL + "/quitquitquit", Client: srv.Client()}
			if tt.nilCli {
				u.Client = nil
			}
			err := u.Stop(testContext(t, waitLimit))
			select {
			case m := <-methods:
				if m != http.MethodPost {
					t.Errorf("method = %q, want POST", m)
				}
			default:
				t.Error("the server got no request")
			}
			if tt.msg == "" {
				if err != nil {
					t.Errorf("%+v.Stop = %v, want nil", u, err)
				}
				return
			}
			if want := fmt.Sprintf(tt.msg, u.URL); err == nil || err.Error() != want {
				t.Errorf("%+v.Stop = %v, want %q", u, err, want)
			}
		})
	}
}

func TestURLStopContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	u := URL{URL: srv.URL, Client: srv.Client()}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := u.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%+v.Stop = %v, want an error wrapping context.DeadlineExceeded", u, err)
	}
}

func TestURLStopBadURL(t *testing.T) {
	u := URL{URL: "://no-scheme"}
	if err := u.Stop(context.Background()); err == nil {
		t.Errorf("%+v.Stop = nil, want an error", u)
	}
}
