// The status page in a real browser: Debian's headless Chromium, driven by puppeteer-core, against
// a real corral that spawns three Node clones (examples/node-app) and balances one static server
// that this test runs and then stops. Checks: no console error and no request to another origin,
// every server listed with its state, a stopped server turns `down` within 3 s, the drain button
// drains (the API agrees), and with a token the page shows the prompt and no data until given it.
//
//   node status_page_test.mjs CORRAL_BINARY REPO_ROOT [--screenshot FILE.png]
//
// Exit 0 on success, 1 on a failed check (with what failed), 77 when puppeteer-core is not
// installed (scripts/setup.sh installs it with `npm ci`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const corralBinary = path.resolve(process.argv[2]);
const repoRoot = path.resolve(process.argv[3]);
const screenshotAt = process.argv.indexOf('--screenshot');
const screenshot = screenshotAt > 0 ? process.argv[screenshotAt + 1] : null;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch (error) {
  console.log(`SKIP: puppeteer-core is not installed (${error.message}); run scripts/setup.sh`);
  process.exit(77);
}

const children = [];
const failures = [];
function check(condition, message) {
  if (!condition) failures.push(message);
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
}

// Ports that nothing listens on now, for the clones (spawn: needs a range).
async function freePortRange(count) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => new Promise(resolve => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(base + i, '127.0.0.1', () => probe.close(() => resolve(true)));
    })));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

async function waitFor(what, condition, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(intervalMs);
  }
  return Boolean(await condition());
}

function getJson(address, target, token) {
  return new Promise(resolve => {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const request = http.get(`http://${address}${target}`, { headers, timeout: 5000, agent: false }, response => {
      let body = '';
      response.on('data', chunk => { body += chunk; });
      response.on('end', () => {
        try { resolve({ status: response.statusCode, body: JSON.parse(body) }); } catch { resolve({ status: response.statusCode, body: null }); }
      });
    });
    request.on('error', () => resolve({ status: 0, body: null }));
    request.on('timeout', () => request.destroy());
  });
}

// Starts corral on `configText`; resolves with its admin address once the ready file exists.
async function startCorral(dir, name, configText) {
  const config = path.join(dir, `${name}.yaml`);
  const ready = path.join(dir, `${name}.ready.json`);
  fs.writeFileSync(config, configText);
  const log = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = spawn(corralBinary, ['run', '-c', config, '--ready-file', ready],
    { stdio: ['ignore', log, log] });
  children.push(child);
  const started = await waitFor('ready file', () => fs.existsSync(ready), 20000);
  if (!started) throw new Error(`${name} did not start; see ${path.join(dir, `${name}.log`)}`);
  const info = JSON.parse(fs.readFileSync(ready, 'utf8'));
  return { child, admin: info.admin, frontends: info.frontends };
}

function stateOf(status, backend, server) {
  const b = status && status.backends.find(x => x.name === backend);
  const s = b && b.servers.find(x => x.name === server);
  return s ? s.state : '';
}

// Loads the page and records console errors, page errors and requests to other origins.
async function openPage(browser, admin) {
  const page = await browser.newPage();
  const problems = [];
  const origin = `http://${admin}/`;
  page.on('console', message => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  page.on('pageerror', error => problems.push(`page error: ${error.message}`));
  page.on('request', request => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:')) problems.push(`external request: ${url}`);
  });
  page.on('requestfailed', request => problems.push(`failed request: ${request.url()}`));
  await page.setViewport({ width: 1500, height: 900 });
  await page.goto(origin, { waitUntil: 'domcontentloaded' });
  return { page, problems };
}

const badgeText = (page, key) => page.$eval(`tr[data-server="${key}"] .state`, node => node.textContent)
  .catch(() => '');

async function run(dir, browser) {
  const base = await freePortRange(5);
  const standby = http.createServer((request, response) => response.end('standby\n'));
  await new Promise(resolve => standby.listen(0, '127.0.0.1', resolve));
  const standbyAddress = `127.0.0.1:${standby.address().port}`;
  const config = `
workers: 1
access_log: "off"
admin: {listen: "127.0.0.1:0", history: 1m}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app}
  - {name: spare, listen: "127.0.0.1:0", backend: standby}
backends:
  - name: app
    balance: round_robin
    spawn:
      command: [node, app.js]
      instances: 3
      ports: ${base}-${base + 4}
      cwd: ${path.join(repoRoot, 'examples', 'node-app')}
    health_check: {type: http, path: /healthz, interval: 250ms, timeout: 1s, rise: 1, fall: 1}
  - name: standby
    servers: [{address: "${standbyAddress}", name: s1}]
    health_check: {type: tcp, interval: 250ms, timeout: 1s, rise: 1, fall: 1}
`;
  const { admin, frontends } = await startCorral(dir, 'open', config);
  const servers = ['app/app#0', 'app/app#1', 'app/app#2', 'standby/s1'];
  const allUp = await waitFor('all up', async () => {
    const { body } = await getJson(admin, '/api/v1/status');
    return servers.every(key => stateOf(body, ...key.split('/')) === 'up');
  }, 20000);
  check(allUp, 'corral reports every server up');

  const { page, problems } = await openPage(browser, admin);
  const listed = await waitFor('rows', async () => {
    const states = await Promise.all(servers.map(key => badgeText(page, key)));
    return states.every(state => state === 'up');
  }, 5000);
  check(listed, `the page lists ${servers.join(', ')} as up`);

  // A server that stops turns down on the page within 3 s (health check every 250 ms).
  standby.closeAllConnections();
  await new Promise(resolve => standby.close(resolve));
  const stoppedAt = Date.now();
  const down = await waitFor('down', async () => (await badgeText(page, 'standby/s1')) === 'down', 3000, 50);
  check(down, `a stopped server shows down on the page within 3 s (${Date.now() - stoppedAt} ms)`);

  // The drain button drains: the API agrees, and the page shows it.
  await page.click('tr[data-server="app/app#1"] button[data-action="drain"]');
  const drained = await waitFor('drained', async () => {
    const { body } = await getJson(admin, '/api/v1/status');
    return stateOf(body, 'app', 'app#1') === 'drain';
  }, 3000);
  check(drained, 'the drain button drains app#1 (the API reports drain)');
  check(await waitFor('badge', async () => (await badgeText(page, 'app/app#1')) === 'drain', 3000),
    'the page shows app#1 draining');

  if (screenshot) { // some traffic for the rates and sparklines, bounded: 20 s, 2,000 requests
    const web = frontends.web || Object.values(frontends)[0];
    for (let i = 0, until = Date.now() + 20000; i < 2000 && Date.now() < until; i++) {
      await getJson(web, '/');
      await sleep(i % 100 < 50 ? 2 : 15);
    }
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot: ${screenshot}`);
  }
  check(problems.length === 0, `no console error, failed or external request${problems.length ? ': ' + problems.join('; ') : ''}`);
  await page.close();
}

async function runWithToken(dir, browser) {
  const token = 'status-page-test-token';
  fs.writeFileSync(path.join(dir, 'admin.token'), `${token}\n`);
  const backend = http.createServer((request, response) => response.end('ok\n'));
  await new Promise(resolve => backend.listen(0, '127.0.0.1', resolve));
  try {
    const { admin } = await startCorral(dir, 'token', `
workers: 1
access_log: "off"
admin: {listen: "127.0.0.1:0", token_file: ${path.join(dir, 'admin.token')}}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:${backend.address().port}", name: s1}]}]
`);
    const { page, problems } = await openPage(browser, admin);
    const apiRequests = [];
    page.on('request', request => { if (request.url().includes('/api/')) apiRequests.push(request.url()); });
    await page.waitForSelector('#login:not([hidden])', { timeout: 5000 });
    check(await page.$eval('#view', node => node.hidden), 'without the token the data stays hidden');
    check((await page.$$('tr[data-server]')).length === 0, 'without the token no server is shown');
    check(apiRequests.length === 0, 'without the token the page asks the API nothing');
    await page.type('#token', token);
    await page.click('#login button[type="submit"]');
    const shown = await waitFor('rows', async () => (await badgeText(page, 'app/s1')) !== '', 5000);
    check(shown, 'with the token the page shows app/s1');
    check(problems.length === 0, `token mode: no console error or external request${problems.length ? ': ' + problems.join('; ') : ''}`);
    await page.close();
  } finally {
    backend.close();
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-status-page-'));
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox; the page is our own.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
  await run(dir, browser);
  await runWithToken(dir, browser);
} catch (error) {
  failures.push(`error: ${error.stack || error}`);
  console.log(`FAIL ${error.stack || error}`);
} finally {
  if (browser) await browser.close();
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await waitFor('exit', () => child.exitCode !== null || child.signalCode !== null, 15000);
    }
  }
  if (failures.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`corral logs kept in ${dir}`);
}
process.exit(failures.length === 0 ? 0 : 1);
