// sloguard's page: firing alerts with "Acknowledge" and "Silence…" buttons, the silences and
// maintenance windows with "Expire", and a form to add one (POST /api/v1/silences).
// Data is only ever written with textContent (never innerHTML); the CSP forbids inline script.
// Writes send JSON; when the daemon asks for credentials (401) the page asks once for the
// ingest token and keeps it for the tab (sessionStorage). Basic-auth users need nothing more.
'use strict';

(() => {
  const byId = (id) => document.getElementById(id);
  const apiUrl = (path) => new URL('../api/v1/' + path, document.baseURI).toString();
  const TOKEN_KEY = 'sloguard.writeToken';
  const AUTHOR_KEY = 'sloguard.author';
  const at = (unix) => new Date(unix * 1000).toLocaleString();

  function node(tag, props = {}, ...children) {
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

  function say(message, bad) {
    const p = byId('silence-status');
    p.textContent = message;
    p.classList.toggle('anomaly', Boolean(bad));
  }

  async function call(method, path, body) {
    const send = (token) => {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (token) headers.Authorization = 'Bearer ' + token;
      return fetch(apiUrl(path), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    };
    let r = await send(sessionStorage.getItem(TOKEN_KEY));
    if (r.status === 401 && method !== 'GET') {
      const token = window.prompt('This daemon needs its ingest token to silence or acknowledge:');
      if (token) {
        sessionStorage.setItem(TOKEN_KEY, token);
        r = await send(token);
      }
    }
    let answer = null;
    try {
      answer = await r.json();
    } catch (e) { /* not JSON */ }
    if (!r.ok) throw new Error((answer && answer.detail) || r.statusText);
    return answer;
  }

  function author() {
    const value = byId('silence-author').value.trim();
    if (value) localStorage.setItem(AUTHOR_KEY, value);
    return value || null;
  }

  // 'slo="a,b", severity=~"x"' → ['slo="a,b"', 'severity=~"x"'] (commas inside quotes stay)
  function splitMatchers(text) {
    const out = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '\\' && quoted && i + 1 < text.length) { cur += c + text[++i]; continue; }
      if (c === '"') quoted = !quoted;
      if ((c === ',' || c === '\n') && !quoted) { if (cur.trim()) out.push(cur.trim()); cur = ''; continue; }
      cur += c;
    }
    if (cur.trim()) out.push(cur.trim());
    return out;
  }

  const quote = (v) => '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';

  function alertRow(a) {
    const labels = a.labels;
    const states = [];
    if (a.silenced_by.length) states.push(node('span', { class: 'badge silenced', text: 'silenced' }));
    if (a.acknowledged_by) {
      states.push(node('span', { class: 'badge acknowledged', text: 'acknowledged by ' + a.acknowledged_by }));
    }
    const ack = node('button', { type: 'button', class: 'ack', text: 'Acknowledge' });
    ack.disabled = Boolean(a.acknowledged_by);
    ack.addEventListener('click', async () => {
      let by = author();
      if (!by) by = window.prompt('Who acknowledges?') || null;
      try {
        await call('POST', 'alerts/' + encodeURIComponent(a.fingerprint) + '/ack', { by, comment: '' });
        say('acknowledged ' + (labels.slo || labels.alertname));
        await load();
      } catch (e) { say('cannot acknowledge: ' + e.message, true); }
    });
    const silence = node('button', { type: 'button', class: 'silence', text: 'Silence…' });
    silence.addEventListener('click', () => {
      const keep = Object.keys(labels).filter((k) => k !== 'severity').sort();
      byId('silence-matchers').value = keep.map((k) => k + '=' + quote(labels[k])).join(', ');
      byId('silence-comment').focus();
    });
    const instance = Object.entries(labels)
      .filter(([k]) => !['alertname', 'slo', 'severity'].includes(k))
      .map(([k, v]) => k + '=' + v).join(', ');
    return node('tr', { 'data-fingerprint': a.fingerprint },
      node('td', {}, node('code', { text: labels.alertname || '' })),
      node('td', { text: (labels.slo || '') + (instance ? ' (' + instance + ')' : '') }),
      node('td', {}, node('span', { class: 'badge ' + (labels.severity || ''), text: labels.severity || '' })),
      node('td', { text: at(a.started_at) }),
      node('td', {}, ...states),
      node('td', {}, ack, ' ', silence));
  }

  function silenceRow(s) {
    const matchers = s.matchers.map((m) => m.name + m.type + quote(m.value)).join(', ');
    const expire = node('button', { type: 'button', class: 'expire', text: 'Expire' });
    expire.hidden = s.status === 'expired';
    expire.addEventListener('click', async () => {
      try {
        await call('DELETE', 'silences/' + encodeURIComponent(s.id));
        say('silence expired');
        await load();
      } catch (e) { say('cannot expire: ' + e.message, true); }
    });
    return node('tr', { 'data-silence': s.id, 'data-status': s.status },
      node('td', {}, node('span', { class: 'badge ' + s.status, text: s.status })),
      node('td', {}, node('code', { text: matchers })),
      node('td', { text: at(s.starts_at) }),
      node('td', { text: at(s.ends_at) }),
      node('td', { text: s.created_by }),
      node('td', { text: s.comment }),
      node('td', {}, expire));
  }

  async function load() {
    let alerts;
    let silences;
    try {
      [alerts, silences] = await Promise.all([call('GET', 'alerts'), call('GET', 'silences')]);
    } catch (e) {
      byId('alerts').hidden = true; // exporter mode: no alerting here
      return;
    }
    byId('alerts').hidden = false;
    const rows = alerts.alerts.map(alertRow);
    byId('alert-table').tBodies[0].replaceChildren(...rows);
    byId('alerts-note').hidden = rows.length > 0;
    byId('silence-table').tBodies[0].replaceChildren(...silences.silences.map(silenceRow));
    document.body.dataset.alertsReady = 'true';
  }

  async function add(e) {
    e.preventDefault();
    const body = {
      matchers: splitMatchers(byId('silence-matchers').value),
      duration: byId('silence-duration').value.trim(),
      created_by: author(),
      comment: byId('silence-comment').value,
    };
    const start = byId('silence-start').value;
    if (start) body.starts_at = new Date(start).toISOString(); // local time → UTC
    try {
      const answer = await call('POST', 'silences', body);
      say(answer.silence.status === 'pending' ? 'maintenance window planned' : 'silence added');
      byId('silence-comment').value = '';
      await load();
    } catch (err) { say('cannot silence: ' + err.message, true); }
  }

  document.addEventListener('DOMContentLoaded', () => {
    byId('silence-author').value = localStorage.getItem(AUTHOR_KEY) || '';
    byId('silence-form').addEventListener('submit', add);
    load();
    setInterval(load, 10000);
  });
})();
