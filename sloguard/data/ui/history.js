// sloguard's page, history of one SLO instance: #/slos/{name}?{label}={value}&range={duration}.
// The chart is the daemon's SVG (../api/v1/slos/{name}/history/svg), drawn server-side; the same
// numbers come from the JSON (../api/v1/slos/{name}/history) as text: the summary under the chart
// and a table of every point. Data is only ever written with textContent.
'use strict';

const HISTORY_REFRESH_MS = 30000;

// The page's link to an instance's history (used by app.js for the SLO table).
function historyHash(slo, instance) {
  const q = new URLSearchParams(Object.entries(instance || {}).sort());
  const query = q.toString();
  return '#/slos/' + encodeURIComponent(slo) + (query ? '?' + query : '');
}

function selectedHistory() {
  const m = location.hash.match(/^#\/slos\/([^?]+)(?:\?(.*))?$/);
  return m ? { slo: decodeURIComponent(m[1]), query: new URLSearchParams(m[2] || '') } : null;
}

function historyUrl(sel, suffix) {
  const path = 'slos/' + encodeURIComponent(sel.slo) + '/history' + suffix;
  return new URL('../api/v1/' + path + '?' + sel.query.toString(), document.baseURI).toString();
}

function historyCell(tag, text) {
  const c = document.createElement(tag);
  c.textContent = text;
  return c;
}

const historyPct = (v) => (v === null || v === undefined ? '—' : (v * 100).toFixed(2) + ' %');
const historyBurn = (v) => (v === null || v === undefined ? '—' : v.toFixed(2) + '×');

function historyTable(inst) {
  const windows = Object.keys(inst.burn_rates);
  const head = document.createElement('tr');
  for (const h of ['time', 'budget left', ...windows.map((w) => 'burn ' + w)]) {
    head.append(historyCell('th', h));
  }
  const rows = inst.points.map(([t, budget], i) => {
    const tr = document.createElement('tr');
    tr.append(historyCell('td', new Date(t * 1000).toLocaleString()), historyCell('td', historyPct(budget)));
    for (const w of windows) tr.append(historyCell('td', historyBurn(inst.burn_rates[w][i][1])));
    return tr;
  });
  const table = document.getElementById('history-table');
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows.reverse());
  const alerts = inst.alerts.map((a) => {
    const note = a.suppressed ? ` (${a.suppressed})` : '';
    const li = historyCell('li', `${new Date(a.at * 1000).toLocaleString()}: ${a.alertname} ${a.severity} ${a.kind}${note}`);
    li.className = 'alert-moment ' + a.kind;
    return li;
  });
  if (!alerts.length) alerts.push(historyCell('li', 'No alert fired or resolved in this range.'));
  document.getElementById('history-alerts').replaceChildren(...alerts);
}

async function loadHistory() {
  const section = document.getElementById('history');
  const sel = selectedHistory();
  section.hidden = sel === null;
  if (sel === null) return;
  const note = document.getElementById('history-note');
  const img = document.getElementById('history-chart');
  const labels = [...sel.query.entries()].filter(([k]) => k !== 'range' && k !== 'step');
  document.getElementById('history-name').textContent =
    sel.slo + (labels.length ? ' (' + labels.map(([k, v]) => `${k}=${v}`).join(', ') + ')' : '');
  const span = document.getElementById('history-span');
  const asked = sel.query.get('range') || '';
  if (![...span.options].some((o) => o.value === asked)) span.append(historyCell('option', asked));
  span.value = asked;
  delete section.dataset.loaded;
  delete section.dataset.chart;
  note.textContent = 'loading…';
  let body;
  try {
    const r = await fetch(historyUrl(sel, ''), { headers: { Accept: 'application/json' } });
    body = await r.json();
    if (!r.ok) throw new Error(body.detail || r.statusText);
  } catch (e) {
    note.textContent = 'could not load the history: ' + e.message;
    section.dataset.loaded = 'failed';
    return;
  }
  if (body.instances.length !== 1) {
    note.textContent = body.instances.length
      ? 'Pick one instance in the SLO table to see its chart.'
      : 'No data for this instance in this range.';
    img.hidden = true;
    section.dataset.loaded = 'empty';
    return;
  }
  const inst = body.instances[0];
  note.textContent = `Over ${body.range} at ${body.step} steps; burn-rate thresholds: ` +
    body.tiers.map((t) => `${t.severity} ${t.name} ${t.factor}×`).join(', ') + '.';
  img.hidden = false;
  img.alt = `Chart of SLO ${body.slo}: error budget remaining and burn rate per alert window over ${body.range}`;
  img.onload = () => { section.dataset.chart = 'loaded'; };
  img.src = historyUrl(sel, '/svg');
  document.getElementById('history-summary').textContent = inst.summary;
  historyTable(inst);
  section.dataset.loaded = 'true';
}

function showHistory() {
  loadHistory().catch((e) => { document.getElementById('history-note').textContent = e.message; });
  const section = document.getElementById('history');
  if (selectedHistory() !== null) section.scrollIntoView({ block: 'start' });
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('history-range').addEventListener('submit', (e) => e.preventDefault());
  document.getElementById('history-span').addEventListener('change', (e) => {
    const sel = selectedHistory();
    if (sel === null) return;
    if (e.target.value) sel.query.set('range', e.target.value); else sel.query.delete('range');
    sel.query.delete('step');
    location.hash = '#/slos/' + encodeURIComponent(sel.slo) + '?' + sel.query.toString();
  });
  window.addEventListener('hashchange', showHistory);
  showHistory();
  setInterval(() => { if (selectedHistory() !== null) loadHistory().catch(() => {}); }, HISTORY_REFRESH_MS);
});
