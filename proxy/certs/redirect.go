package certs

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Redirect returns a handler that sends every request to the same URL over
// HTTPS, at port httpsPort (left out of the URL when it is 443), with 308
// Permanent Redirect, which keeps the method and body. A request without a
// Host header gets 400: there is no name to redirect to.
//
// Behind a port mapping (such as a container's 8443 published as 443),
// httpsPort is the port clients reach, not the one lameduck listens on.
func Redirect(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" {
			http.Error(w, "lameduck: this site is served over HTTPS; send a Host header to be redirected", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // IPv6
		}
		if httpsPort != 443 && httpsPort != 0 {
			host += ":" + strconv.Itoa(httpsPort)
		}
		uri := r.URL.RequestURI()
		if !strings.HasPrefix(uri, "/") {
			uri = "/" // "OPTIONS *" and the like
		}
		w.Header().Set("Location", "https://"+host+uri)
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}
