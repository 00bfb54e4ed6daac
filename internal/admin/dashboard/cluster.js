// rgate dashboard: the "this replica" / "cluster" switch. Shown only when
// the gateway has a cluster: section (app.js sets body[data-cluster] from
// dashboard/data). In the cluster view the page polls
// stats?scope=cluster every second and shows the live replicas' merged
// figures and each replica's; the local tiles are hidden, the charts and
// tables stay this replica's. The choice is kept in the URL (#scope=cluster).
(() => {
  'use strict';

  const POLL_MS = 1000;
  const RATE_SPAN_MS = 5000;
  const byId = (id) => document.getElementById(id);
  const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

  function setText(e, s) { if (e.textContent !== s) e.textContent = s; }
  function fmtMs(v) {
    if (v == null || !(v > 0)) return '–';
    if (v < 1) return v.toFixed(2) + ' ms';
    if (v < 100) return v.toFixed(1) + ' ms';
    if (v < 10000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(1) + ' s';
  }
  function fmtRate(v) {
    if (v == null || !isFinite(v)) return '–';
    return v < 10 ? v.toFixed(1) : INT.format(Math.round(v));
  }

  let scope = location.hash === '#scope=cluster' ? 'cluster' : 'local';
  let running = false;
  const samples = []; // {t, n}: the cluster's request count over time

  function apply() {
    const offered = document.body.dataset.cluster !== undefined;
    byId('scope').hidden = !offered;
    const cluster = offered && scope === 'cluster';
    document.body.dataset.scope = cluster ? 'cluster' : 'local';
    byId('scope-local').setAttribute('aria-pressed', String(!cluster));
    byId('scope-cluster').setAttribute('aria-pressed', String(cluster));
    byId('cluster').hidden = !cluster;
    byId('tiles').hidden = cluster;
    if (cluster) loop();
  }

  function choose(s) {
    scope = s;
    samples.length = 0;
    history.replaceState(null, '', s === 'cluster' ? '#scope=cluster' : location.pathname + location.search);
    apply();
  }

  function rate(t, n) {
    const last = samples[samples.length - 1];
    if (last && n < last.n) samples.length = 0;
    samples.push({ t, n });
    while (samples.length > 2 && t - samples[1].t >= RATE_SPAN_MS) samples.shift();
    if (samples.length < 2) return null;
    const a = samples[0], b = samples[samples.length - 1];
    return b.t > a.t ? (b.n - a.n) / ((b.t - a.t) / 1000) : null;
  }

  function render(doc) {
    const c = doc.requests_count, l = doc.latency_ms, total = c.success + c.error;
    setText(byId('cluster-count'), doc.replicas + (doc.replicas === 1 ? ' replica' : ' replicas') + ' live');
    byId('cluster').dataset.replicas = String(doc.replicas);
    byId('cluster').dataset.total = String(total);
    setText(byId('c-replicas'), String(doc.replicas));
    setText(byId('c-rps'), fmtRate(rate(Date.now(), total)));
    setText(byId('c-total'), INT.format(total));
    setText(byId('c-err'), INT.format(c.error));
    setText(byId('c-avg'), fmtMs(l.average));
    setText(byId('c-p95'), fmtMs(l.p95));
    setText(byId('c-p99'), fmtMs(l.p99));
    const tbody = byId('cluster-instances').tBodies[0];
    const rows = doc.instances.map((i) => {
      const tr = document.createElement('tr');
      tr.dataset.key = i.id;
      const cells = [i.id + (i.self ? ' (this replica)' : ''), INT.format(i.requests_count.success + i.requests_count.error),
        INT.format(i.requests_count.error), fmtMs(i.latency_ms.average), fmtMs(i.latency_ms.p95), fmtMs(i.latency_ms.p99),
        i.published_at ? new Date(i.published_at).toLocaleTimeString('en-GB') : 'live'];
      cells.forEach((text, k) => {
        const td = document.createElement('td');
        if (k === 0) td.className = 'mono';
        else if (k < 6) td.className = 'num';
        td.textContent = text;
        tr.appendChild(td);
      });
      return tr;
    });
    tbody.replaceChildren(...rows);
  }

  function showError(msg) {
    const b = byId('cluster-error');
    setText(b, msg);
    b.hidden = !msg;
  }

  // loop polls while the cluster view is chosen; one loop at a time.
  async function loop() {
    if (running) return;
    running = true;
    while (document.body.dataset.scope === 'cluster') {
      await poll();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    running = false;
  }

  async function poll() {
    const ctl = new AbortController();
    const abort = setTimeout(() => ctl.abort(), 4000);
    try {
      const resp = await fetch('stats?scope=cluster', { cache: 'no-store', signal: ctl.signal });
      const doc = await resp.json();
      if (!resp.ok) throw new Error(doc.error || 'HTTP ' + resp.status);
      render(doc);
      showError('');
    } catch (err) {
      showError('Cluster figures unavailable: ' + (err && err.message));
    } finally {
      clearTimeout(abort);
    }
  }

  byId('scope-local').addEventListener('click', () => choose('local'));
  byId('scope-cluster').addEventListener('click', () => choose('cluster'));
  // body[data-cluster] appears with the first dashboard/data document.
  new MutationObserver(apply).observe(document.body, { attributes: true, attributeFilter: ['data-cluster'] });
  apply();
})();
