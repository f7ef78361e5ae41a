// An Express app with the kinds of traffic a drain has to care about: a slow request,
// a server-sent event stream and a WebSocket. Run it behind lameduck:
//
//   npm ci
//   lameduck -- node server.js
//
// lameduck gives the app a loopback PORT. When lameduck is told to stop, it waits for
// in-flight requests, ends WebSockets with a close frame (1001, going away) and only
// then sends this app SIGTERM.
'use strict';

const http = require('node:http');
const express = require('express');
const { WebSocketServer } = require('ws');

const port = Number(process.env.PORT) || 3000;
const log = (msg) => console.log(`express: ${msg}`);

const app = express();

app.get('/', (req, res) => {
  res.type('text').send('Hello from Express, served through lameduck.\n');
});

// /slow?s=3 answers after s seconds.
app.get('/slow', (req, res) => {
  const s = Math.min(Number(req.query.s ?? 3) || 0, 300);
  setTimeout(() => res.type('text').send(`done after ${s}s\n`), s * 1000);
});

// /events sends a server-sent event every second until the client goes away.
app.get('/events', (req, res) => {
  res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  let n = 0;
  const tick = setInterval(() => res.write(`data: tick ${++n}\n\n`), 1000);
  req.on('close', () => clearInterval(tick));
});

const server = http.createServer(app);

// /ws echoes every message back.
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  log('ws open');
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code) => log(`ws closed code=${code}`));
});

// Loopback only: clients reach the app through lameduck.
server.listen(port, '127.0.0.1', () => log(`listening on http://127.0.0.1:${port}`));

function shutdown(signal) {
  log(`got ${signal}, closing`);
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  // Once the last connection is gone nothing keeps Node running, and it exits 0.
  server.close(() => log('closed'));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 10_000).unref(); // do not wait forever
}

process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
