// CLIENTS socket.io-client connections to URL with the default transports: long-polling first,
// then the upgrade to WebSocket. Each sends three acknowledged messages before the upgrade and
// three after it. KEEP says what could keep a session on its instance: `room` puts `?room=room-N`
// on every request (what balance: hash keys on), `cookie` keeps the cookies the responses set and
// sends them back (withCredentials: the Node client's cookie jar, for sticky_cookie). Prints one
// JSON line per client and exits 0 only when every client got all six acknowledgements from one
// instance, at least one of them over polling and the last ones over WebSocket.
'use strict';
const { io } = require('socket.io-client');

const [url, clients = '20', timeoutMs = '20000', keep = 'room'] = process.argv.slice(2);

function runClient(index) {
  return new Promise((resolve) => {
    const report = { client: index, acks: [], errors: [] };
    const socket = io(url, {
      query: keep === 'room' ? { room: `room-${index}` } : {},
      withCredentials: keep === 'cookie',
      reconnection: false,
      timeout: Number(timeoutMs),
    });
    const finish = () => {
      socket.close();
      resolve(report);
    };
    const timer = setTimeout(() => {
      report.errors.push('timed out');
      finish();
    }, Number(timeoutMs));
    const send = async (phase) => {
      for (let i = 0; i < 3; ++i) {
        try {
          const ack = await socket.timeout(5000).emitWithAck('echo', `${phase}-${i}`);
          report.acks.push({ phase, instance: ack.instance, pid: ack.pid, transport: ack.transport });
        } catch (error) {
          report.errors.push(`${phase} ack: ${error.message}`);
        }
      }
    };
    socket.on('connect_error', (error) => report.errors.push(`connect_error: ${error.message}`));
    socket.io.engine.on('upgradeError', (error) => report.errors.push(`upgrade: ${error.message}`));
    socket.on('connect', async () => {
      const upgraded = new Promise((done) => {
        if (socket.io.engine.transport.name === 'websocket') done();
        socket.io.engine.once('upgrade', done);
      });
      await send('before');
      await upgraded;
      await send('after');
      clearTimeout(timer);
      finish();
    });
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') report.errors.push(`disconnect: ${reason}`);
    });
  });
}

function verdict(report) {
  const pids = new Set(report.acks.map((ack) => ack.pid));
  const after = report.acks.filter((ack) => ack.phase === 'after');
  report.ok = report.errors.length === 0 && report.acks.length === 6 && pids.size === 1 &&
              report.acks.some((ack) => ack.transport === 'polling') &&
              after.length === 3 && after.every((ack) => ack.transport === 'websocket');
  return report;
}

Promise.all(Array.from({ length: Number(clients) }, (_, i) => runClient(i))).then((reports) => {
  for (const report of reports) console.log(JSON.stringify(verdict(report)));
  process.exit(reports.every((report) => report.ok) ? 0 : 1);
});
