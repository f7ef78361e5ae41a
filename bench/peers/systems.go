package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A system is one way to serve the upstream: directly, or through a proxy.
type system struct {
	name string
	// h1 and h2 are the addresses of its plain HTTP/1.1 listener and of
	// its HTTP/2 over TLS listener ("" when it has none).
	h1, h2 string
	// run starts it; nil for the upstream itself.
	run func(b *bench, s *system) (*proc, error)
	p   *proc
}

// systems returns the upstream itself, lameduck and its peers, each with
// its own ports, configured the way a user would put it in front of an
// app: keep-alive to the upstream, forwarding headers, no access log.
func (b *bench) systems() ([]*system, error) {
	var ports [7]string
	for i := range ports {
		n, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = fmt.Sprintf("127.0.0.1:%d", n)
	}
	all := []*system{
		{name: "direct", h1: b.upstream},
		{name: "lameduck", h1: ports[0], h2: ports[1], run: runLameduck},
		{name: "nginx", h1: ports[2], h2: ports[3], run: runNginx},
		{name: "haproxy", h1: ports[4], run: runHAProxy},
		{name: "caddy", h1: ports[5], h2: ports[6], run: runCaddy},
	}
	var out []*system
	for _, s := range all {
		if b.only == "" || s.name == "direct" || strings.Contains(","+b.only+",", ","+s.name+",") {
			out = append(out, s)
		}
	}
	return out, nil
}

func runLameduck(b *bench, s *system) (*proc, error) {
	return b.start(s.name, proxyCPU, nil, b.lameduck,
		"--listen", s.h1, "--upstream", "http://"+b.upstream, "--admin", "", "--platform", "none",
		"--tls-cert", b.cert, "--tls-key", b.key, "--https-listen", s.h2, "--http-listen", "",
		"--log-format", "json")
}

func runNginx(b *bench, s *system) (*proc, error) {
	dir := filepath.Join(b.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	location := `location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }`
	conf := fmt.Sprintf(`worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  upstream app { server %[2]s; keepalive 1024; }
  server { listen %[3]s; %[5]s }
  server {
    listen %[4]s ssl http2;
    ssl_certificate %[6]s;
    ssl_certificate_key %[7]s;
    %[5]s
  }
}
`, dir, b.upstream, s.h1, s.h2, location, b.cert, b.key)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return b.start(s.name, proxyCPU, nil, "nginx", "-c", path, "-p", dir)
}

func runHAProxy(b *bench, s *system) (*proc, error) {
	conf := fmt.Sprintf(`global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  http-reuse always
  option forwardfor
frontend fe
  bind %s
  default_backend be
backend be
  server app %s
`, s.h1, b.upstream)
	path := filepath.Join(b.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return b.start(s.name, proxyCPU, nil, "haproxy", "-f", path)
}

func runCaddy(b *bench, s *system) (*proc, error) {
	conf := fmt.Sprintf(`{
  admin off
  auto_https off
}
http://%[1]s {
  reverse_proxy %[3]s
}
https://%[2]s {
  tls %[4]s %[5]s
  reverse_proxy %[3]s
}
`, s.h1, s.h2, b.upstream, b.cert, b.key)
	path := filepath.Join(b.dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	home := filepath.Join(b.dir, "caddy-home")
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}
	return b.start(s.name, proxyCPU, env, "caddy", "run", "--config", path, "--adapter", "caddyfile")
}
