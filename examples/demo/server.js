// A tiny app to try lameduck with. Node built-ins only:
//
//   lameduck -- node examples/demo/server.js
//
// Routes: /  a hello page; /slow?s=3  answers after s seconds; /events  a server-sent
// event every second. Start a slow request or open /events, send lameduck SIGTERM,
// and watch the request finish before the app is asked to stop.
'use strict';

const http = require('node:http');

const port = Number(process.env.PORT) || 3000;
const log = (msg) => console.log(`demo: ${msg}`);

const page = `<!doctype html>
<title>lameduck demo</title>
<h1>Hello from the demo app</h1>
<p>This page is served through lameduck.</p>
<ul>
  <li><a href="/slow?s=3">/slow?s=3</a>: answers after 3 seconds</li>
  <li><a href="/events">/events</a>: one server-sent event per second</li>
</ul>
`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  log(`${req.method} ${req.url}`);

  if (url.pathname === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
  } else if (url.pathname === '/slow') {
    const s = Math.min(Number(url.searchParams.get('s') ?? 3) || 0, 300);
    setTimeout(() => {
      res.end(`done after ${s}s\n`);
      log(`answered /slow after ${s}s`);
    }, s * 1000);
  } else if (url.pathname === '/events') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let n = 0;
    const tick = setInterval(() => res.write(`data: tick ${++n}\n\n`), 1000);
    res.on('close', () => {
      clearInterval(tick);
      log(`/events closed after ${n} ticks`);
    });
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  }
});

server.listen(port, '127.0.0.1', () => log(`listening on http://127.0.0.1:${port}`));

function shutdown(signal) {
  log(`got ${signal}, closing`);
  server.close(() => {
    log('closed, bye');
    process.exit(0);
  });
  server.closeIdleConnections();
  // Exit anyway if something (an endless /events stream) keeps the server open.
  setTimeout(() => {
    log('still busy after 10s, exiting anyway');
    process.exit(0);
  }, 10_000).unref();
}

// once: a second Ctrl-C stops the demo at once.
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
