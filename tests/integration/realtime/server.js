// A socket.io server as corral spawns it (PORT, CORRAL_INSTANCE): it acknowledges every "echo"
// with which instance and process answered and over which transport the message came, and
// answers GET /healthz for corral's health check. Engine.io keeps each session in this process's
// memory, so every request of a session must reach this instance.
'use strict';
const http = require('node:http');
const { Server } = require('socket.io');

const instance = process.env.CORRAL_INSTANCE;
const httpServer = http.createServer((request, response) => {
  if (request.url === '/healthz') {
    response.end('ok\n');
  }
});
const io = new Server(httpServer);
io.on('connection', (socket) => {
  socket.on('echo', (payload, ack) => {
    ack({ payload, instance, pid: process.pid, transport: socket.conn.transport.name });
  });
});
// Hold each WebSocket handshake back a second, so that the messages a client sends right after
// connecting go over long-polling (the upgrade would otherwise often win the race).
const upgradeListeners = httpServer.listeners('upgrade');
httpServer.removeAllListeners('upgrade');
httpServer.on('upgrade', (...args) => {
  setTimeout(() => upgradeListeners.forEach((listener) => listener.apply(httpServer, args)), 1000);
});
httpServer.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log(`socket.io instance ${instance} on port ${process.env.PORT}`);
});
process.on('SIGTERM', () => io.close(() => process.exit(0)));
