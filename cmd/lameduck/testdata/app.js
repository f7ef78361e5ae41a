// app.js: the upstream app that lameduck's end-to-end tests run behind the proxy.
//
// Node built-ins only. Every event is one JSON line on stdout, with "app" naming the
// event and "t" the time in ms (Date.now()), for example
//   {"app":"listening","port":41234,"pid":123,"pgid":120,"t":1732000000000}
// so a test can wait for an event by reading lines.
//
// Environment:
//   PORT                  port to listen on, on 127.0.0.1 (unset: any free port)
//   APP_START_DELAY_MS=N  wait N ms before listening
//   APP_NEVER_LISTEN=1    never listen (keep running)
//   APP_ON_SIGTERM=MODE   what SIGTERM and SIGINT do:
//                           graceful  (default) server.close(), close idle connections,
//                                     exit 0 once every connection is closed
//                           ignore    log the signal and keep running
//                           exit:N    exit with status N at once
//                           die       restore the default action and re-raise the signal
//   APP_EXIT_AFTER_MS=N   exit by itself after N ms, with status APP_EXIT_CODE (default 0)
//   APP_FORK=1            start a shell in the same process group that ignores SIGTERM
//   APP_ORPHAN=1          start `sleep` through a shell that exits at once, so the sleep
//                         is orphaned; it ends after APP_ORPHAN_MS (default 200)
//
// Routes (matched on the path, any method):
//   /                     200 "hello"
//   /slow?ms=N            200 "slow N" after N ms
//   /hold?id=X            answers 200 "released X" only once /release?id=X arrives
//   /release?id=X         releases hold X (without id: every hold); 200 "released N"
//                         with the number released
//   /echo                 200 with the request body (Content-Type copied); an upload the
//                         client abandons logs upload-aborted with the bytes received
//   /headers              200 JSON object of the request headers (lower-case names)
//   /sse?n=N&ms=M         text/event-stream: "data: 1\n\n" at once, then one more event
//                         every M ms up to N, then ends (n=0: never ends)
//   /chunks?n=N&ms=M      chunked text/plain: "chunk 1\n" ... "chunk N\n" likewise
//   /big?kb=N             N KiB body; byte i is "abcdefghijklmnopqrstuvwxyz"[i % 26]
//   /crash                headers with Content-Length 1024, 512 bytes, then exit 3
//   /env                  JSON {PORT, LAMEDUCK_*..., pid, ppid, pgid}
//   /status?code=N        status N (200-599), body "status N"
//   /ws                   WebSocket (RFC 6455): echoes text and binary frames, answers
//                         ping with pong, and answers a close frame with the same code
//   anything else         404 "not found"
//
// Events (besides "app" and "t"):
//   start {pid, ppid, pgid}         listening {port, pid, pgid}
//   request {method, url[, upgrade]} for every request, before it is answered
//   held {id}  released {id}  hold-aborted {id} (the client went away while held)
//   stream-done {url}  stream-aborted {url, sent}   (/sse and /chunks)
//   upload-aborted {url, received}   (the client went away mid-upload to /echo)
//   ws-open  ws-close {code, reason} (1005: no code)  ws-end {clean} (socket closed;
//   clean: after a close frame)
//   signal {sig}  die {sig}  exit {code} (before every exit the app chooses itself)
//   forked {pid}  orphan {pid, parent}  error {message} (listen failed, then exit 1)
//
// Graceful stop waits for everything in flight: held requests, streams, WebSockets.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { spawn } = require('node:child_process');

const env = process.env;

function log(event, fields = {}) {
  process.stdout.write(JSON.stringify({ app: event, ...fields, t: Date.now() }) + '\n');
}

function exit(code) {
  log('exit', { code });
  process.exit(code);
}

// processGroup reads the process group id from /proc (Node has no getpgid).
function processGroup() {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

// toInt parses a non-negative integer, or returns def.
function toInt(s, def) {
  const n = Number.parseInt(s ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : def;
}

const intParam = (url, name, def) => toInt(url.searchParams.get(name), def);
const intEnv = (name, def) => toInt(env[name], def);

// ---- HTTP routes ----

const holds = new Map(); // id -> response waiting for /release

function release(id) {
  const res = holds.get(id);
  holds.delete(id);
  log('released', { id });
  res.end(`released ${id}`);
}

// stream writes piece(1) at once, then piece(i) every ms until n (0: forever), then ends.
function stream(req, res, contentType, n, ms, piece) {
  res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' });
  let i = 0;
  const tick = () => {
    i++;
    res.write(piece(i));
    if (n !== 0 && i >= n) {
      clearInterval(timer);
      res.end();
      log('stream-done', { url: req.url });
    }
  };
  const timer = setInterval(tick, ms);
  res.on('close', () => {
    if (!res.writableFinished) {
      clearInterval(timer);
      log('stream-aborted', { url: req.url, sent: i });
    }
  });
  tick();
}

const routes = {
  '/': (req, res) => res.end('hello'),

  '/slow': (req, res, url) => {
    const ms = intParam(url, 'ms', 1000);
    setTimeout(() => res.end(`slow ${ms}`), ms);
  },

  '/hold': (req, res, url) => {
    const id = url.searchParams.get('id') ?? '';
    holds.set(id, res);
    log('held', { id });
    res.on('close', () => {
      if (holds.get(id) === res) {
        holds.delete(id);
        log('hold-aborted', { id });
      }
    });
  },

  '/release': (req, res, url) => {
    const id = url.searchParams.get('id');
    const ids = id === null ? [...holds.keys()] : holds.has(id) ? [id] : [];
    ids.forEach(release);
    res.end(`released ${ids.length}`);
  },

  '/echo': (req, res) => {
    const chunks = [];
    let received = 0;
    req.on('data', (c) => { chunks.push(c); received += c.length; });
    req.on('close', () => {
      if (!req.complete) log('upload-aborted', { url: req.url, received });
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, {
        'Content-Type': req.headers['content-type'] ?? 'application/octet-stream',
        'Content-Length': body.length,
      });
      res.end(body);
    });
  },

  '/headers': (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(req.headers));
  },

  '/sse': (req, res, url) =>
    stream(req, res, 'text/event-stream', intParam(url, 'n', 3), intParam(url, 'ms', 100),
      (i) => `data: ${i}\n\n`),

  '/chunks': (req, res, url) =>
    stream(req, res, 'text/plain', intParam(url, 'n', 3), intParam(url, 'ms', 100),
      (i) => `chunk ${i}\n`),

  '/big': (req, res, url) => {
    const kb = intParam(url, 'kb', 1);
    const block = Buffer.alloc(1024 * 26, 'abcdefghijklmnopqrstuvwxyz'); // 26 KiB, pattern-aligned
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': kb * 1024 });
    let left = kb * 1024;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!res.write(block.subarray(0, n))) return res.once('drain', pump);
      }
      res.end();
    };
    pump();
  },

  '/crash': (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 1024 });
    res.write(Buffer.alloc(512, 'x'), () => exit(3));
  },

  '/env': (req, res) => {
    const out = { PORT: env.PORT ?? null };
    for (const [k, v] of Object.entries(env)) if (k.startsWith('LAMEDUCK')) out[k] = v;
    Object.assign(out, { pid: process.pid, ppid: process.ppid, pgid: processGroup() });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(out));
  },

  '/status': (req, res, url) => {
    const code = intParam(url, 'code', 200);
    if (code < 200 || code > 599) {
      res.writeHead(400);
      return res.end(`bad code ${code}`);
    }
    res.writeHead(code);
    res.end(code === 204 || code === 304 ? undefined : `status ${code}`);
  },
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  log('request', { method: req.method, url: req.url });
  const route = routes[url.pathname];
  if (route) return route(req, res, url);
  res.writeHead(404);
  res.end('not found');
});

// ---- WebSocket (RFC 6455) on /ws ----

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// wsFrame builds an unmasked server frame.
function wsFrame(fin, opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) { head[1] = 126; head.writeUInt16BE(len, 2); }
  else { head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  return Buffer.concat([head, payload]);
}

// wsParse takes one complete frame off the front of buf, or returns null if buf holds
// only part of one.
function wsParse(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const maskAt = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i % 4)];
  return { fin, opcode, payload, rest: buf.subarray(off + len) };
}

server.on('upgrade', (req, socket, head) => {
  const key = req.headers['sec-websocket-key'];
  const isWS = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
  log('request', { method: req.method, url: req.url, upgrade: req.headers.upgrade ?? '' });
  if (new URL(req.url, 'http://app').pathname !== '/ws' || !isWS || !key) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
    `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  log('ws-open');

  let buf = head;
  let closed = false; // a close frame arrived
  socket.on('data', (data) => {
    buf = buf.length ? Buffer.concat([buf, data]) : data;
    for (let f; !closed && (f = wsParse(buf)); ) {
      buf = f.rest;
      if (f.opcode <= 2) socket.write(wsFrame(f.fin, f.opcode, f.payload)); // continuation, text, binary
      else if (f.opcode === 9) socket.write(wsFrame(true, 10, f.payload)); // ping -> pong
      else if (f.opcode === 8) {
        closed = true;
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        log('ws-close', { code, reason: f.payload.subarray(2).toString() });
        socket.end(wsFrame(true, 8, f.payload.subarray(0, 2)));
      }
    }
  });
  socket.on('error', () => {});
  // An upgraded socket is half-open after the peer's FIN; close ours too, as
  // WebSocket libraries do, or a tunnel that lameduck cut keeps the app up.
  socket.on('end', () => socket.end());
  socket.on('close', () => log('ws-end', { clean: closed }));
});

// ---- signals ----

const mode = env.APP_ON_SIGTERM || 'graceful';
let stopping = false;
let startTimer = null;

function stop(sig) {
  if (mode === 'ignore') return;
  if (mode.startsWith('exit:')) return exit(toInt(mode.slice(5), 1));
  if (mode === 'die') {
    log('die', { sig });
    process.removeAllListeners(sig); // back to the default action
    process.kill(process.pid, sig);
    return;
  }
  if (stopping) return;
  stopping = true;
  clearTimeout(startTimer);
  if (!server.listening) return exit(0);
  // The server counts a connection gone before its socket's close callbacks run; a
  // timer fires after them, so ws-end and hold-aborted still get logged.
  server.close(() => setTimeout(exit, 0, 0));
  server.closeIdleConnections();
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGWINCH']) {
  process.on(sig, () => {
    log('signal', { sig });
    if (sig === 'SIGTERM' || sig === 'SIGINT') stop(sig);
  });
}

// ---- start-up ----

log('start', { pid: process.pid, ppid: process.ppid, pgid: processGroup() });
setInterval(() => {}, 1 << 30); // stay alive even while not listening

if (env.APP_FORK === '1') {
  const child = spawn('sh', ['-c', 'trap "" TERM; while :; do sleep 1; done'], { stdio: 'ignore' });
  child.unref();
  log('forked', { pid: child.pid });
}

if (env.APP_ORPHAN === '1') {
  const secs = intEnv('APP_ORPHAN_MS', 200) / 1000;
  const sh = spawn('sh', ['-c', `sleep ${secs} </dev/null >/dev/null 2>&1 & echo $!`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sh.stdout.on('data', (d) => { out += d; });
  sh.on('close', () => log('orphan', { pid: Number.parseInt(out, 10), parent: sh.pid }));
}

if (env.APP_EXIT_AFTER_MS) {
  setTimeout(() => exit(intEnv('APP_EXIT_CODE', 0)), intEnv('APP_EXIT_AFTER_MS', 0));
}

server.on('error', (err) => {
  log('error', { message: err.message });
  exit(1);
});

function listen() {
  server.listen(intEnv('PORT', 0), '127.0.0.1', () => {
    log('listening', { port: server.address().port, pid: process.pid, pgid: processGroup() });
  });
}

if (env.APP_NEVER_LISTEN !== '1') {
  const delay = intEnv('APP_START_DELAY_MS', 0);
  if (delay > 0) startTimer = setTimeout(listen, delay);
  else listen();
}
