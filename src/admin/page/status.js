// corral's status page: polls GET /api/v1/status and /api/v1/history every second and acts
// through the same admin API as `corral ctl`. Everything is built with DOM calls and textContent
// (names come from the configuration and from DNS: never HTML). The token, when the admin API has
// one, lives in this tab's sessionStorage only: never a cookie, so no other site can ride on it.
'use strict';

const kRefreshMs = 1000;
const kLogLines = 20;
const page = {
  token: sessionStorage.getItem('corral-token') || '',
  needsToken: document.body.dataset.token === 'required',
  previous: null, // the last status, for frontend connections/s
  previousAt: 0,
  frontendRows: new Map(),
  backendSections: new Map(),
  openLogs: new Set(), // "backend/server" whose logs are shown
  timer: 0,
};

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'className') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

async function api(method, path, body) {
  const headers = {};
  if (page.token) headers.Authorization = 'Bearer ' + page.token;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (ignored) { /* not JSON: keep the status line */ }
  if (!response.ok) {
    const error = new Error(data && data.error ? data.error : `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showError(message) {
  const banner = document.getElementById('error');
  banner.textContent = message || '';
  banner.hidden = !message;
}

function askForToken(message) {
  clearTimeout(page.timer);
  page.token = '';
  sessionStorage.removeItem('corral-token');
  document.getElementById('view').hidden = true;
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('token').focus();
}

function formatRate(value) {
  if (value === undefined || value === null) return '–';
  if (value >= 100) return Math.round(value).toString();
  return value.toFixed(value >= 10 ? 1 : 2).replace(/\.?0+$/, '') || '0';
}

function formatBytes(value) {
  if (value === undefined || value === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function formatUptime(seconds) {
  if (seconds === undefined || seconds === null) return '–';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor(s % 3600 / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor(s % 86400 / 3600)}h`;
}

// What the page shows as a server's state: slow start is "up" with a reduced weight.
function shownState(server) {
  if (server.state === 'up' && server.effective_weight < server.weight) return 'slow';
  return server.state;
}

function stateLabel(state) {
  return state === 'slow' ? 'slow start' : state;
}

function cell(text, numeric) {
  return el('td', numeric ? { className: 'num' } : {}, text);
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// --- frontends ---------------------------------------------------------------------------------

function renderFrontends(status, elapsed) {
  const body = document.querySelector('#frontends tbody');
  const seen = new Set();
  const before = new Map((page.previous ? page.previous.frontends : []).map(f => [f.name, f]));
  for (const frontend of status.frontends) {
    seen.add(frontend.name);
    let row = page.frontendRows.get(frontend.name);
    if (!row) {
      row = el('tr', { 'data-frontend': frontend.name });
      for (let i = 0; i < 8; i++) row.append(el('td', i >= 4 ? { className: 'num' } : {}));
      page.frontendRows.set(frontend.name, row);
    }
    body.append(row); // keeps configuration order
    const old = before.get(frontend.name);
    const rate = old && elapsed > 0 ? Math.max(0, frontend.total - old.total) / elapsed : null;
    const values = [frontend.name, frontend.listen, frontend.tls, frontend.backend,
      String(frontend.active), formatRate(rate), String(frontend.total),
      String(frontend.rejected)];
    values.forEach((text, i) => setText(row.children[i], text));
  }
  for (const [name, row] of page.frontendRows) {
    if (!seen.has(name)) { row.remove(); page.frontendRows.delete(name); }
  }
}

// --- backends and servers ----------------------------------------------------------------------

const kServerColumns = ['server', 'address', 'state', 'last check', 'active', 'conn/s',
  'in/s', 'out/s', 'weight', 'pid', 'uptime', 'restarts', 'history', 'actions'];

function backendSection(backend) {
  let section = page.backendSections.get(backend.name);
  if (section) return section;
  const restart = el('button', { type: 'button', 'data-action': 'restart', hidden: '' }, 'rolling restart');
  restart.addEventListener('click', () => act(`/api/v1/backends/${encodeURIComponent(backend.name)}/restart`));
  const head = el('tr', {}, ...kServerColumns.map(name => el('th', {}, name)));
  const title = el('h2', {}, `Backend ${backend.name} `, el('span', { className: 'balance' }), ' ',
    el('span', { className: 'queue' }), ' ', restart);
  section = {
    node: el('section', { 'data-backend': backend.name }, title,
      el('table', {}, el('thead', {}, head), el('tbody'))),
    balance: title.querySelector('.balance'),
    queue: title.querySelector('.queue'),
    historyHeader: head.children[kServerColumns.indexOf('history')],
    restart,
    rows: new Map(),
  };
  page.backendSections.set(backend.name, section);
  return section;
}

function serverPath(backend, server, action) {
  return `/api/v1/servers/${encodeURIComponent(backend)}/${encodeURIComponent(server)}/${action}`;
}

function serverRow(backendName, server) {
  const key = `${backendName}/${server.name}`;
  const cells = kServerColumns.map((name, i) => el('td', i >= 4 && i <= 11 ? { className: 'num' } : {}));
  const badge = el('span', { className: 'state' });
  cells[2].append(badge);
  const spark = svg('svg', { class: 'spark', viewBox: '0 0 100 30', preserveAspectRatio: 'none' });
  cells[12].append(spark);
  const weight = el('input', { className: 'weight', type: 'number', min: '1', max: '256',
    'aria-label': `weight of ${server.name}` });
  const actions = cells[13];
  for (const action of ['drain', 'disable', 'enable']) {
    actions.append(el('button', { type: 'button', 'data-action': action,
      onclick: () => act(serverPath(backendName, server.name, action)) }, action), ' ');
  }
  actions.append(weight, el('button', { type: 'button', 'data-action': 'weight',
    onclick: () => act(serverPath(backendName, server.name, 'weight'), { weight: Number(weight.value) }) },
  'set weight'));
  const tr = el('tr', { 'data-server': key }, ...cells);
  const logs = el('details', { 'data-logs': key }, el('summary', {}, 'last log lines'), el('pre'));
  logs.addEventListener('toggle', () => {
    if (logs.open) { page.openLogs.add(key); refreshLogs(backendName, server.name, logs); }
    else page.openLogs.delete(key);
  });
  const logsRow = el('tr', { hidden: '' }, el('td', { colspan: String(kServerColumns.length) }, logs));
  return { tr, cells, badge, spark, weight, logs, logsRow };
}

function renderServer(row, backendName, server, history, slots) {
  const state = shownState(server);
  row.badge.className = `state state-${state}`;
  setText(row.badge, stateLabel(state));
  if (server.reason) row.badge.title = server.reason; else row.badge.removeAttribute('title');
  const last = history && history.connections_per_s.length ? history.connections_per_s.length - 1 : -1;
  const pick = column => (last >= 0 ? history[column][last] : null);
  const check = server.last_check ? `${server.last_check} ${server.last_check_ms.toFixed(1)} ms` : '–';
  const weight = server.effective_weight < server.weight ? `${server.effective_weight}/${server.weight}` : String(server.weight);
  const values = [server.name, server.address, null, check, String(server.active),
    formatRate(pick('connections_per_s')), formatBytes(pick('bytes_in_per_s')),
    formatBytes(pick('bytes_out_per_s')), weight,
    server.pid === null || server.pid === undefined ? '–' : String(server.pid),
    formatUptime(server.uptime_s),
    server.restarts === null || server.restarts === undefined ? '–' : String(server.restarts)];
  values.forEach((text, i) => { if (text !== null) setText(row.cells[i], text); });
  if (document.activeElement !== row.weight) row.weight.value = String(server.weight);
  row.logsRow.hidden = server.pid === null || server.pid === undefined;
  drawSpark(row.spark, history, slots);
  const key = `${backendName}/${server.name}`;
  if (page.openLogs.has(key)) refreshLogs(backendName, server.name, row.logs);
}

// A line of connections/s over the history window (newest on the right, one slot per sample), and
// under it a strip coloured by health.
function drawSpark(node, history, slots) {
  node.replaceChildren();
  node.setAttribute('viewBox', `0 0 ${slots} 30`);
  if (!history || history.connections_per_s.length === 0) return;
  const values = history.connections_per_s;
  const offset = Math.max(0, slots - values.length);
  const step = slots / Math.max(slots, values.length);
  const top = Math.max(1, ...values);
  const points = values.map((v, i) => `${(offset + i * step).toFixed(1)},${(24 - (v / top) * 22).toFixed(1)}`);
  node.append(svg('polyline', { points: points.join(' ') }));
  let start = 0;
  for (let i = 1; i <= history.state.length; i++) {
    if (i === history.state.length || history.state[i] !== history.state[start]) {
      node.append(svg('rect', { class: `h-${history.state[start]}`, x: String(offset + start * step),
        y: '26', width: String((i - start) * step), height: '4' }));
      start = i;
    }
  }
}

function windowText(seconds) {
  return seconds >= 60 && seconds % 60 === 0 ? `last ${seconds / 60} min` : `last ${seconds} s`;
}

function renderBackends(status, history) {
  const container = document.getElementById('backends');
  const slots = history ? Math.max(2, Math.round(history.window_s / history.interval_s)) : 300;
  const byServer = new Map((history ? history.servers : []).map(s => [`${s.backend}/${s.server}`, s]));
  const seenBackends = new Set();
  for (const backend of status.backends) {
    seenBackends.add(backend.name);
    const section = backendSection(backend);
    container.append(section.node);
    setText(section.balance, backend.balance);
    // Only a backend whose servers have max_connections has a queue.
    setText(section.queue, backend.limited ? `queue ${backend.queued}` : '');
    if (history) setText(section.historyHeader, windowText(history.window_s));
    section.restart.hidden = !backend.servers.some(s => s.pid !== null && s.pid !== undefined);
    const body = section.node.querySelector('tbody');
    const seen = new Set();
    for (const server of backend.servers) {
      seen.add(server.name);
      let row = section.rows.get(server.name);
      if (!row) { row = serverRow(backend.name, server); section.rows.set(server.name, row); }
      body.append(row.tr, row.logsRow);
      renderServer(row, backend.name, server, byServer.get(`${backend.name}/${server.name}`), slots);
    }
    for (const [name, row] of section.rows) {
      if (!seen.has(name)) { row.tr.remove(); row.logsRow.remove(); section.rows.delete(name); }
    }
  }
  for (const [name, section] of page.backendSections) {
    if (!seenBackends.has(name)) { section.node.remove(); page.backendSections.delete(name); }
  }
}

async function refreshLogs(backend, server, details) {
  const instance = server.slice(server.lastIndexOf('#') + 1);
  try {
    const data = await api('GET', `/api/v1/logs/${encodeURIComponent(backend)}/${encodeURIComponent(instance)}`);
    setText(details.querySelector('pre'), data.lines.slice(-kLogLines).join('\n') || '(no output yet)');
  } catch (error) {
    setText(details.querySelector('pre'), `logs: ${error.message}`);
  }
}

// --- actions and the refresh loop --------------------------------------------------------------

async function act(path, body) {
  try {
    await api('POST', path, body === undefined ? {} : body);
    showError('');
    await refresh();
  } catch (error) {
    if (error.status === 401) askForToken('The token was refused.');
    else showError(`${path}: ${error.message}`);
  }
}

async function refresh() {
  clearTimeout(page.timer);
  try {
    const [status, history] = await Promise.all([api('GET', '/api/v1/status'), api('GET', '/api/v1/history')]);
    const now = performance.now();
    const elapsed = page.previous ? (now - page.previousAt) / 1000 : 0;
    document.getElementById('login').hidden = true;
    document.getElementById('view').hidden = false;
    setText(document.getElementById('version'), `version ${status.version}`);
    setText(document.getElementById('uptime'), `up ${formatUptime(status.uptime_s)}`);
    setText(document.getElementById('updated'), `updated ${new Date().toLocaleTimeString()}`);
    renderFrontends(status, elapsed);
    renderBackends(status, history);
    page.previous = status;
    page.previousAt = now;
    document.body.dataset.loaded = 'true';
    showError('');
  } catch (error) {
    if (error.status === 401) { askForToken(page.token ? 'The token was refused.' : ''); return; }
    showError(`corral did not answer: ${error.message}`);
  }
  page.timer = setTimeout(refresh, kRefreshMs);
}

document.getElementById('login').addEventListener('submit', event => {
  event.preventDefault();
  page.token = document.getElementById('token').value.trim();
  sessionStorage.setItem('corral-token', page.token);
  refresh();
});

if (page.needsToken && !page.token) askForToken('');
else refresh();
