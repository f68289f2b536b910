// Sluice operator dashboard: plain ES2020, no framework, no build step. Data only ever enters the page as text
// (textContent, text nodes, attribute values): never as HTML.
//
// Charts are hand-written SVG (bars and a line, ~40 lines below): a vendored chart library (uPlot: ~50 KB, its CSS
// and licence) would be more code to ship than the two small charts it would draw.
'use strict';

const KEY = 'sluice.adminKey';           // sessionStorage only: gone when the tab closes, never in a URL
const EVENTS = '/admin/dashboard/events';
const MAX_BACKOFF_MS = 30000;

const $ = (id) => document.getElementById(id);

/** An element with attributes (class, text, data-*, on<event>) and children (nodes or strings, added as text). */
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// ------------------------------------------------------------------ connection

let gen = 0;                 // the current connection; a callback of an older one does nothing
let controller = null;
let retries = 0;
let retryTimer = null;
let watchdog = null;
let keepAliveMs = 15000;
let skewMs = 0;              // server clock minus ours, from each state event
const shown = {};            // the JSON each section was last drawn from
const notes = {};            // per service: the last action's message, kept across redraws

function setConnection(state, text) {
  const c = $('connection');
  c.className = 'conn ' + state;
  c.dataset.state = state;
  c.textContent = text || state;
  $('board').classList.toggle('stale', state !== 'connected');
}

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (e) { /* not JSON */ }
  return 'HTTP ' + resp.status;
}

function stop() {
  gen++;
  if (controller) controller.abort();
  controller = null;
  clearTimeout(retryTimer);
  clearTimeout(watchdog);
}

async function connect(key) {
  stop();
  const mine = gen;
  controller = new AbortController();
  const signal = controller.signal;
  let resp;
  try {
    resp = await fetch(EVENTS, {headers: {Authorization: 'Bearer ' + key, Accept: 'text/event-stream'},
      cache: 'no-store', signal});
  } catch (e) {
    if (mine === gen) reconnect(key, 'gateway unreachable');
    return;
  }
  if (mine !== gen) return;
  if (resp.status === 401 || resp.status === 403) {
    logout(await errorMessage(resp));
    return;
  }
  if (!resp.ok) {
    reconnect(key, await errorMessage(resp));
    return;
  }
  sessionStorage.setItem(KEY, key);
  showBoard();
  retries = 0;
  setConnection('connected');
  await read(resp.body, mine);
  if (mine === gen) reconnect(key, 'stream ended');
}

function reconnect(key, why) {
  clearTimeout(watchdog);
  const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** retries) * (0.8 + Math.random() * 0.4);
  retries = Math.min(retries + 1, 10);
  setConnection('reconnecting', 'reconnecting in ' + Math.round(delay / 1000) + ' s (' + why + ')');
  const mine = gen;
  retryTimer = setTimeout(() => { if (mine === gen) connect(key); }, delay);
}

/** No byte for three keep-alive periods: the connection is dead even if TCP has not noticed. */
function armWatchdog(mine) {
  clearTimeout(watchdog);
  watchdog = setTimeout(() => { if (mine === gen && controller) controller.abort(); }, 3 * keepAliveMs);
}

async function read(body, mine) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  armWatchdog(mine);
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done || mine !== gen) break;
      armWatchdog(mine);
      buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (e) {
    // aborted or the network failed: the caller reconnects
  }
}

/** One SSE event block; comment lines (keep-alives) carry nothing. */
function dispatch(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  let payload;
  try { payload = JSON.parse(data.join('\n')); } catch (e) { return; }
  if (event === 'state') renderState(payload);
  else if (event === 'traffic') renderTraffic(payload);
}

// ------------------------------------------------------------------ login

function showLogin(message) {
  $('board').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('admin-key').focus();
}

function showBoard() {
  $('login').hidden = true;
  $('login-error').textContent = '';
  $('board').hidden = false;
  $('logout').hidden = false;
}

function logout(message) {
  stop();
  sessionStorage.removeItem(KEY);
  for (const id of ['services-body', 'traffic-body', 'users-body', 'tunnels-body', 'events-body']) $(id).replaceChildren();
  for (const k of Object.keys(shown)) delete shown[k];
  for (const k of Object.keys(notes)) delete notes[k];
  $('node').textContent = '';
  setConnection('disconnected');
  showLogin(message);
}

// ------------------------------------------------------------------ admin actions

async function adminPost(path, body) {
  const headers = {Authorization: 'Bearer ' + sessionStorage.getItem(KEY)};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, {method: 'POST', headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body)});
  if (resp.status === 401) {
    const message = await errorMessage(resp);
    logout(message);
    throw new Error(message);
  }
  if (!resp.ok) throw new Error(await errorMessage(resp));
  return resp.json();
}

function note(service, text, error) {
  notes[service] = {text, error};
  const n = document.querySelector('[data-service="' + CSS.escape(service) + '"] .note');
  if (n) showNote(n, notes[service]);
}

function showNote(n, v) {
  n.textContent = v ? v.text : '';
  n.classList.toggle('error', Boolean(v && v.error));
}

async function drain(service, job) {
  note(service, 'draining ' + job + '…', false);
  try {
    await adminPost('/admin/services/' + encodeURIComponent(service) + '/replicas/' + encodeURIComponent(job) + '/drain');
    note(service, 'drain of ' + job + ' requested', false);
  } catch (e) {
    note(service, 'drain of ' + job + ' refused: ' + e.message, true);
  }
}

function openScale(service, min, max) {
  const d = $('scale-dialog');
  d.dataset.service = service;
  $('scale-service').textContent = service;
  $('scale-min').value = min;
  $('scale-max').value = max;
  $('scale-error').textContent = '';
  d.showModal();
}

async function submitScale(ev) {
  ev.preventDefault();
  const d = $('scale-dialog');
  const service = d.dataset.service;
  const min = Number($('scale-min').value);
  const max = Number($('scale-max').value);
  try {
    await adminPost('/admin/services/' + encodeURIComponent(service) + '/scale', {min, max});
    d.close();
    note(service, 'scaled to ' + min + '–' + max, false);
  } catch (e) {
    $('scale-error').textContent = e.message;
  }
}

// ------------------------------------------------------------------ rendering

function section(name, value, draw) {
  const json = JSON.stringify(value);
  if (shown[name] === json) return;       // unchanged: keep the DOM (and the operator's pointer) as it is
  shown[name] = json;
  $(name + '-body').replaceChildren(...draw(value));
}

function renderState(s) {
  const now = Date.parse(s.now);
  if (!Number.isNaN(now)) skewMs = now - Date.now();
  if (s.keep_alive_ms > 0) keepAliveMs = s.keep_alive_ms;
  $('node').textContent = 'node ' + s.node;
  section('services', s.services, drawServices);
  section('tunnels', s.tunnels, drawTunnels);
  section('events', s.events, drawEvents);
  tick();
}

function renderTraffic(t) {
  section('traffic', t.models, (models) => drawTraffic(models, t.from));
  section('users', t.top_users, drawUsers);
}

const lower = (v) => (v === null || v === undefined ? '' : String(v).toLowerCase());

function clock(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});
}

function duration(ms) {
  if (ms <= 0) return '0 s';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return h + ' h ' + String(m).padStart(2, '0') + ' m';
  if (m > 0) return m + ' m ' + String(s % 60).padStart(2, '0') + ' s';
  return s + ' s';
}

/** A header row; names ending in '#' are numeric columns (right-aligned), shown without the mark. */
function headRow(names) {
  return el('tr', null, ...names.map((h) => (h.endsWith('#') ? el('th', {class: 'num', text: h.slice(0, -1)}) : el('th', {text: h}))));
}

function fact(label, value) { return el('div', {class: 'fact'}, el('dt', {text: label}), el('dd', {text: value})); }

function drawServices(services) {
  if (!services.length) return [el('p', {class: 'empty', text: 'No services configured.'})];
  return services.map((s) => {
    const q = s.queue || {};
    const card = el('article', {class: 'service', 'data-service': s.service},
      el('h3', null, s.service + ' ',
        el('span', {class: 'badge ' + lower(s.availability), text: s.availability}),
        s.degraded ? el('span', {class: 'badge degraded', text: 'degraded'}) : null),
      el('dl', {class: 'facts'},
        fact('cluster', s.cluster),
        fact('replicas min / max', s.min_replicas + ' / ' + s.max_replicas),
        fact('target', String(s.target)),
        fact('queue', (q.length || 0) + ' / ' + (q.max || 0)),
        fact('in flight', String(s.in_flight))),
      el('div', {class: 'actions'},
        el('button', {type: 'button', class: 'scale', onclick: () => openScale(s.service, s.min_replicas, s.max_replicas)},
          'Scale…'),
        el('span', {class: 'note', role: 'status'})));
    showNote(card.querySelector('.note'), notes[s.service]);
    if (s.degraded) {
      card.append(el('div', {class: 'degraded-box'},
        el('p', {class: 'error', text: s.last_error || 'replicas keep failing to start'}),
        (s.log_tail || []).length ? el('pre', {class: 'log-tail', text: s.log_tail.join('\n')}) : null));
    }
    card.append(drawReplicas(s));
    return card;
  });
}

function drawReplicas(s) {
  const head = headRow(['Job', 'Phase', 'Health', 'Slurm', 'Node', 'Time left', 'In flight#', 'Reason', '']);
  const rows = (s.replicas || []).map((r) => el('tr', {'data-job': r.job_id, 'data-phase': lower(r.phase)},
    el('td', {class: 'job', text: r.job_id}),
    el('td', {class: 'phase', text: lower(r.phase)}),
    el('td', {class: 'health ' + lower(r.health), text: r.health}),
    el('td', {text: lower(r.slurm_state)}),
    el('td', {text: r.node || ''}),
    el('td', null, timeLeft(r)),
    el('td', {class: 'num', text: String(r.in_flight)}),
    el('td', {class: 'reason', text: r.reason || ''}),
    el('td', null, ['ready', 'running', 'pending'].includes(lower(r.phase))
      ? el('button', {type: 'button', class: 'drain', onclick: () => drain(s.service, r.job_id)}, 'Drain') : null)));
  if (!rows.length) rows.push(el('tr', null, el('td', {colspan: 9, class: 'empty', text: 'no replicas'})));
  return el('table', {class: 'replicas'}, el('thead', null, head), el('tbody', null, ...rows));
}

/** A bar of the time left until the job's Slurm limit; tick() moves it every second without any request. */
function timeLeft(r) {
  if (!r.ends_at) return el('span', {class: 'muted', text: r.started_at ? 'no limit' : '—'});
  return el('div', {class: 'bar', 'data-ends-at': r.ends_at, 'data-started-at': r.started_at || ''},
    el('div', {class: 'fill'}), el('span', {class: 'bar-text'}));
}

function tick() {
  const now = Date.now() + skewMs;
  for (const bar of document.querySelectorAll('.bar[data-ends-at]')) {
    const end = Date.parse(bar.dataset.endsAt);
    const start = Date.parse(bar.dataset.startedAt);
    const left = Math.max(0, end - now);
    const share = start < end ? Math.min(1, left / (end - start)) : 0;
    const fill = bar.firstElementChild;
    fill.style.width = (share * 100).toFixed(1) + '%';
    fill.className = 'fill ' + (share > 0.5 ? 'ok' : share > 0.15 ? 'warn' : 'low');
    bar.lastElementChild.textContent = duration(left);
  }
}

function drawTunnels(nodes) {
  if (!nodes.length) return [el('p', {class: 'empty', text: 'No answers from the gateway nodes yet.'})];
  return nodes.map((n) => {
    const rows = n.tunnels.map((t) => el('tr', null,
      el('td', {text: t.cluster}), el('td', {text: t.node}),
      el('td', {class: 'tunnel ' + lower(t.state), text: String(t.state).replace('_', ' ')}),
      el('td', {text: clock(t.since)}),
      el('td', {class: 'num', text: String(t.channels)}),
      el('td', {class: 'num', text: String(t.streams)}),
      el('td', {class: 'num', text: t.round_trip_millis == null ? '' : t.round_trip_millis.toFixed(1) + ' ms'}),
      el('td', {class: 'reason', text: t.reason || ''})));
    return el('div', {class: 'gateway', 'data-gateway': n.gateway},
      el('h3', null, n.gateway, n.self ? el('span', {class: 'muted', text: '(this node)'}) : null),
      rows.length ? el('table', null, el('thead', null, headRow(['Cluster', 'Login node', 'State', 'Since', 'Channels#', 'Streams#', 'RTT#', 'Reason'])), el('tbody', null, ...rows))
        : el('p', {class: 'empty', text: 'no login nodes'}));
  });
}

function drawEvents(events) {
  if (!events.length) return [el('p', {class: 'empty', text: 'No job changes seen since this gateway node started.'})];
  return [el('table', {class: 'events'}, el('tbody', null, ...events.map((e) => el('tr', null,
    el('td', {class: 'muted', text: clock(e.at)}), el('td', {text: e.service}), el('td', {class: 'job', text: e.job}),
    el('td', {text: (e.from || 'new') + ' → ' + e.to}), el('td', {class: 'reason', text: e.detail || ''})))))];
}

/** Requests per minute as bars, errors as red bars in front; TTFT p50 as a line on its own scale. */
function chart(values, errors, ttft) {
  const w = 240;
  const h = 40;
  const step = w / values.length;
  const top = Math.max(1, ...values);
  const g = svg('svg', {viewBox: '0 0 ' + w + ' ' + h, class: 'chart', role: 'img', preserveAspectRatio: 'none'});
  values.forEach((v, i) => {
    if (v > 0) g.append(svg('rect', {class: 'req', x: i * step, width: step * 0.8, y: h - (v / top) * h, height: (v / top) * h}));
    if (errors[i] > 0) {
      g.append(svg('rect', {class: 'err', x: i * step, width: step * 0.8, y: h - (errors[i] / top) * h, height: (errors[i] / top) * h}));
    }
  });
  const known = ttft.filter((v) => v !== null);
  if (known.length) {
    const high = Math.max(1, ...known);
    const points = [];
    ttft.forEach((v, i) => { if (v !== null) points.push((i * step + step / 2).toFixed(1) + ',' + (h - (v / high) * (h - 2) - 1).toFixed(1)); });
    if (points.length === 1) {
      const [x, y] = points[0].split(',');
      g.append(svg('circle', {class: 'ttft-dot', cx: x, cy: y, r: 1.5}));
    } else {
      g.append(svg('polyline', {class: 'ttft', points: points.join(' ')}));
    }
  }
  const title = svg('title');
  title.textContent = 'requests per minute (peak ' + top + '), errors in red' + (known.length ? ', time to first token as a line' : '');
  g.prepend(title);
  return g;
}

function drawTraffic(models, from) {
  if (!models.length) return [el('p', {class: 'empty', text: 'No models.'})];
  const head = headRow(['Model', 'Requests#', 'Errors#', 'TTFT p50 (last)#', 'Per minute since ' + clock(from)]);
  const rows = models.map((m) => {
    const lastTtft = [...m.ttft_p50_ms].reverse().find((v) => v !== null);
    return el('tr', {'data-traffic-model': m.model},
      el('td', {text: m.model}),
      el('td', {class: 'num total-requests', text: String(m.total_requests)}),
      el('td', {class: 'num total-errors' + (m.total_errors > 0 ? ' error' : ''), text: String(m.total_errors)}),
      el('td', {class: 'num', text: lastTtft === undefined ? '—' : lastTtft + ' ms'}),
      el('td', null, chart(m.requests, m.errors, m.ttft_p50_ms)));
  });
  return [el('table', {class: 'traffic'}, el('thead', null, head), el('tbody', null, ...rows))];
}

function drawUsers(top) {
  if (!top.users.length) return [el('p', {class: 'empty', text: 'No requests since ' + clock(top.since) + '.'})];
  return [el('table', null,
    el('thead', null, headRow(['User', 'Tokens#', 'Requests#'])),
    el('tbody', null, ...top.users.map((u) => el('tr', {'data-user': u.user},
      el('td', {text: u.user}), el('td', {class: 'num', text: u.tokens.toLocaleString()}),
      el('td', {class: 'num', text: u.requests.toLocaleString()})))))];
}

// ------------------------------------------------------------------ start

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('admin-key').value.trim();
    $('admin-key').value = '';
    if (!key) return;
    $('login-error').textContent = '';
    setConnection('reconnecting', 'connecting');
    connect(key);
  });
  $('logout').addEventListener('click', () => logout(''));
  $('scale-form').addEventListener('submit', submitScale);
  $('scale-cancel').addEventListener('click', () => $('scale-dialog').close());
  setInterval(tick, 1000);
  const key = sessionStorage.getItem(KEY);
  if (key) {
    setConnection('reconnecting', 'connecting');
    connect(key);
  } else {
    showLogin('');
  }
});
