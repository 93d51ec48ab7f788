// The classic Node cluster example, one process per instance: corral is the cluster master.
// corral (examples/cluster.yaml) starts 4 clones of this file, each with its own PORT and
// CORRAL_INSTANCE, balances them with sticky cookies and restarts them one at a time. Each reply
// says which instance answered, so a browser (which keeps the cookie) sees the same instance every
// time, and curl (which does not) sees them in turn.
//
//   PORT=9001 CORRAL_INSTANCE=0 node app.js
//   curl http://127.0.0.1:9001/         -> instance 0 pid 4242 request 1
'use strict';

const http = require('http');

const port = Number(process.env.PORT || 9001);
const instance = process.env.CORRAL_INSTANCE || '0';
let requests = 0;

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') { // corral's health check: not counted
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  requests += 1;
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`instance ${instance} pid ${process.pid} request ${requests}\n`);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`instance ${instance} pid ${process.pid} listening on 127.0.0.1:${port}`);
});

// A rolling restart drains this instance, then sends SIGTERM: finish the requests in flight,
// accept no more, and exit. corral sends SIGKILL after spawn.stop_timeout if this hangs.
process.on('SIGTERM', () => {
  console.log(`instance ${instance} pid ${process.pid} closing after ${requests} requests`);
  server.close(() => process.exit(0));
  // Idle keep-alive connections would hold server.close() open until they time out.
  if (server.closeIdleConnections) {
    server.closeIdleConnections();
  }
});
