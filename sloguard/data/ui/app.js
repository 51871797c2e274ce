// sloguard's page: reads the daemon's JSON API and shows SLOs, alerts and traces.
// Data is only ever written with textContent (never innerHTML); the CSP forbids inline script.
'use strict';

const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);

// The API lives next to /ui/, wherever the daemon is mounted (relative URL).
const api = (path) => new URL('../api/v1/' + path, document.baseURI).toString();

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function fetchApi(path, as = 'json') {
  let r;
  try {
    r = await fetch(api(path), { headers: { Accept: as === 'json' ? 'application/json' : '*/*' } });
  } catch (e) {
    throw new ApiError(0, 'the daemon does not answer: ' + e.message);
  }
  if (!r.ok) {
    let detail = r.statusText;
    try {
      detail = (await r.json()).detail || detail;
    } catch (e) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  return as === 'json' ? r.json() : r.text();
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function badge(text, kind) {
  return el('span', { class: 'badge ' + (kind || text), text });
}

const pct = (v, digits = 3) => (v === null || v === undefined ? '—' : (v * 100).toFixed(digits) + ' %');
const money = (v) => (v === null || v === undefined ? '—' : '$' + (v > 0 && v < 0.0001 ? v.toPrecision(2) : v.toFixed(4)));
const when = (unix) => new Date(unix * 1000).toLocaleString();

function showProblem(message) {
  const p = $('problem');
  p.textContent = message || '';
  p.hidden = !message;
}

// --- SLOs and alerts ---------------------------------------------------------------------------
function instanceText(instance) {
  const keys = Object.keys(instance || {}).sort();
  return keys.length ? keys.map((k) => `${k}=${instance[k]}`).join(', ') : '—';
}

function alertsFor(slo, alerts) {
  return alerts.filter((a) => {
    if (a.labels.slo !== slo.slo) return false;
    return Object.entries(slo.instance || {}).every(([k, v]) => a.labels[k] === v);
  });
}

// A calendar SLO's budget resets when its period ends: "month, resets 1 Apr 00:00 (in 3d)".
function periodNote(s) {
  if (!s.calendar || !s.period_end) return '';
  const end = new Date(s.period_end * 1000).toLocaleString([], { timeZone: s.calendar.time_zone,
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  const days = (s.period_left_seconds || 0) / 86400;
  const left = days >= 1 ? `${Math.floor(days)}d` : `${Math.round(days * 24)}h`;
  return `${s.calendar.unit}, resets ${end} (in ${left})`;
}

function budgetCell(remaining, note = '') {
  const fill = el('div', { class: 'fill' });
  const label = el('span', { class: 'label' });
  if (remaining === null || remaining === undefined) {
    label.textContent = 'unknown';
  } else {
    const shown = Math.max(0, Math.min(1, remaining));
    fill.style.width = (shown * 100).toFixed(1) + '%'; // CSSOM: allowed by the CSP
    if (remaining <= 0) fill.classList.add('exhausted');
    else if (remaining < 0.25) fill.classList.add('low');
    label.textContent = remaining <= 0 ? 'exhausted' : pct(remaining, 1);
  }
  const bar = el('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 1,
    'aria-valuenow': remaining ?? '', 'data-remaining': remaining ?? '' }, fill);
  const cell = el('td', {}, el('div', { class: 'budget' }, bar, label));
  if (note) {
    cell.title = note;
    cell.append(el('div', { class: 'period-note' }, note));
  }
  return cell;
}

const burnAll = (rates) => Object.entries(rates || {})
  .filter(([, b]) => b !== null).map(([w, b]) => `${w} ${b.toFixed(2)}×`).join(', ');

// The burn rates of the fastest tier that fires (else the first tier): long and short window.
function burnText(s) {
  const tiers = s.tiers || [];
  const t = tiers.find((x) => x.firing) || tiers[0];
  if (!t || t.long_burn === null) return '—';
  const short = t.short_burn === null ? '' : ` / ${t.short_burn.toFixed(1)}×`;
  return `${t.long_burn.toFixed(1)}×${short} (${t.name}, fires at ${t.factor}×)`;
}

function sloRow(s, alerts) {
  const firing = alertsFor(s, alerts);
  const alertCell = el('td');
  if (firing.length) {
    for (const a of firing) alertCell.append(badge(a.labels.severity || 'firing'), ' ');
  } else {
    alertCell.textContent = '—';
  }
  const state = el('td', {}, badge(s.state.replace(/_/g, ' '), s.state));
  if (s.error) state.title = s.error;
  return el('tr', { 'data-slo': s.slo, 'data-state': s.state, 'data-alerts': firing.length },
    el('td', { title: s.description || '' }, el('a', { href: historyHash(s.slo, s.instance) }, s.slo)),
    el('td', {}, instanceText(s.instance)),
    state,
    el('td', { class: 'num' }, pct(s.sli)),
    el('td', { class: 'num' }, pct(s.objective)),
    budgetCell(s.error_budget_remaining, periodNote(s)),
    el('td', { title: burnAll(s.burn_rates) }, burnText(s)),
    alertCell);
}

async function loadSlos() {
  const body = $('slo-table').tBodies[0];
  const note = $('slos-note');
  let slos;
  let alerts = [];
  try {
    slos = (await fetchApi('slos')).slos;
    alerts = (await fetchApi('alerts')).alerts;
  } catch (e) {
    if (e.status === 404) {
      body.replaceChildren();
      note.textContent = 'SLO evaluation is not running in this daemon (exporter mode).';
      note.hidden = false;
      return;
    }
    throw e;
  }
  note.hidden = slos.length > 0;
  note.textContent = 'No SLO has been evaluated yet.';
  body.replaceChildren(...slos.map((s) => sloRow(s, alerts)));
}

// --- traces -------------------------------------------------------------------------------------
function traceQuery() {
  const q = new URLSearchParams({ limit: '50' });
  const agent = $('agent-filter').value.trim();
  if (agent) q.set('agent', agent);
  if ($('failed-only').checked) q.set('status', 'error');
  return q.toString();
}

function traceRow(t, selected) {
  const link = el('a', { href: '#/traces/' + encodeURIComponent(t.trace_id) }, t.trace_id);
  return el('tr', { 'data-trace': t.trace_id, class: t.trace_id === selected ? 'selected' : null },
    el('td', {}, when(t.started_at)),
    el('td', {}, el('code', {}, link)),
    el('td', {}, t.agent || '—'),
    el('td', {}, badge(t.status === 'error' ? 'failed' : 'ok')),
    el('td', { class: 'num' }, t.steps),
    el('td', { class: 'num' }, money(t.cost)));
}

async function loadTraces() {
  const traces = (await fetchApi('traces?' + traceQuery())).traces;
  const note = $('traces-note');
  note.hidden = traces.length > 0;
  note.textContent = 'No stored trace matches.';
  $('trace-table').tBodies[0].replaceChildren(...traces.map((t) => traceRow(t, selectedTrace())));
}

// --- one trace ----------------------------------------------------------------------------------
function selectedTrace() {
  const m = location.hash.match(/^#\/traces\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function summaryList(s) {
  const pairs = [
    ['root agent', s.agent || '—'], ['status', s.status === 'error' ? 'failed' : 'ok'],
    ['started', when(s.started_at)], ['steps', s.steps], ['cost', money(s.cost)],
  ];
  return pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]);
}

function describeEvent(e) {
  if (!e) return 'nothing';
  const target = e.target ? ' → ' + e.target : '';
  return `${e.type} by ${e.agent || '?'}${target}`;
}

async function loadComparison(id) {
  const box = $('comparison');
  box.replaceChildren();
  let c;
  try {
    c = await fetchApi('traces/compare?a=' + encodeURIComponent(id));
  } catch (e) {
    if (e.status === 404) {
      box.append(el('p', { class: 'muted' }, e.message));
      return;
    }
    throw e;
  }
  const base = el('a', { href: '#/traces/' + encodeURIComponent(c.baseline) }, c.baseline);
  box.append(el('h3', {}, 'Compared with the most similar successful run'));
  const p = el('p', { id: 'first-divergence' }, 'Baseline ', el('code', {}, base),
    ` (similarity ${(c.similarity * 100).toFixed(0)} %): `);
  const d = c.first_divergence;
  if (d) {
    p.append(`first divergence (${d.divergence.replace(/_/g, ' ')}): the good run had `,
      el('strong', {}, describeEvent(d.run_a)), ', this run had ', el('strong', {}, describeEvent(d.run_b)),
      `; ${c.divergence_count} difference(s) in all.`);
  } else {
    p.append('no difference in the sequence of events.');
  }
  box.append(p);
}

async function loadTrace(id) {
  const section = $('trace');
  section.hidden = false;
  $('trace-id').textContent = id;
  const note = $('trace-note');
  for (const part of ['trace-summary', 'anomalies', 'comparison', 'tree', 'mermaid']) {
    $(part).replaceChildren();
  }
  $('diagram').removeAttribute('src');
  note.textContent = 'loading…';
  let detail;
  try {
    detail = await fetchApi('traces/' + encodeURIComponent(id));
  } catch (e) {
    note.textContent = e.status === 404 ? e.message : 'could not load the trace: ' + e.message;
    return;
  }
  note.textContent = '';
  $('trace-summary').replaceChildren(...summaryList(detail.summary));
  $('tree').textContent = detail.tree;
  const anomalies = detail.anomalies || [];
  if (anomalies.length) {
    $('anomalies').append(el('h3', {}, 'Anomalies'),
      el('ul', {}, ...anomalies.map((a) => el('li', { class: 'anomaly', 'data-kind': a.kind },
        `${a.kind.replace(/_/g, ' ')} (${a.agent}): ${a.message}`))));
  }
  $('diagram').src = api('traces/' + encodeURIComponent(id) + '/svg');
  fetchApi('traces/' + encodeURIComponent(id) + '/mermaid', 'text')
    .then((text) => { $('mermaid').textContent = text; })
    .catch((e) => { $('mermaid').textContent = 'unavailable: ' + e.message; });
  if (detail.summary.status === 'error') await loadComparison(id);
  section.scrollIntoView({ block: 'start' });
}

// --- wiring -------------------------------------------------------------------------------------
async function refresh() {
  try {
    await Promise.all([loadSlos(), loadTraces()]);
    showProblem('');
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    showProblem(e.message);
  }
}

function route() {
  const id = selectedTrace();
  if (id === null) {
    $('trace').hidden = true;
  } else {
    loadTrace(id).catch((e) => showProblem(e.message));
  }
  for (const row of $('trace-table').tBodies[0].rows) {
    row.classList.toggle('selected', row.dataset.trace === id);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('trace-filters').addEventListener('submit', (e) => e.preventDefault());
  $('trace-filters').addEventListener('input', () => loadTraces().catch((e) => showProblem(e.message)));
  window.addEventListener('hashchange', route);
  refresh().then(() => {
    document.body.dataset.ready = 'true';
  });
  route();
  setInterval(refresh, REFRESH_MS);
});
