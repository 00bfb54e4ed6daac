// rgate dashboard. Polls dashboard/data every second and updates the page in
// place: rows are keyed (route prefix, container ID or URL) and only text
// nodes and attributes that changed are written, so 50 routes and 500
// containers cost a few hundred string compares per second, not a rebuilt DOM.
// Counters in the data are cumulative; rates come from successive polls.
(() => {
  'use strict';

  const POLL_MS = 1000;
  const HISTORY_MS = 5 * 60 * 1000;
  const RATE_SPAN_MS = 5000; // tables show rates over the last ~5 s
  const OPEN_BACKENDS_MAX = 8; // with more backends, they start collapsed
  const SVGNS = 'http://www.w3.org/2000/svg';
  // Status classes as indexed in the data's "classes" arrays, drawing order.
  const CLASSES = [
    { i: 2, name: '2xx', cls: 'c-2xx' }, { i: 3, name: '3xx', cls: 'c-3xx' },
    { i: 4, name: '4xx', cls: 'c-4xx' }, { i: 5, name: '5xx', cls: 'c-5xx' },
    { i: 1, name: '1xx', cls: 'c-1xx' }, { i: 0, name: 'other', cls: 'c-other' },
  ];

  // ---- DOM helpers ----------------------------------------------------

  const byId = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function svgEl(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // textCell appends a <td> holding one text node and returns the node.
  function textCell(tr, cls) {
    const td = el('td', cls);
    const t = document.createTextNode('');
    td.appendChild(t);
    tr.appendChild(td);
    return t;
  }

  function setData(t, s) { if (t.data !== s) t.data = s; }
  // setText sets an element's text, writing to its text node in place when
  // it has one, so that an update adds no node.
  function setText(e, s) {
    const t = e.firstChild;
    if (t && t === e.lastChild && t.nodeType === Node.TEXT_NODE) setData(t, s);
    else if (e.textContent !== s) e.textContent = s;
  }
  function setClass(e, c) { if (e.className !== c) e.className = c; }
  function setAttr(e, k, v) { if (e.getAttribute(k) !== v) e.setAttribute(k, v); }
  function setHidden(e, h) { if (e.hidden !== h) e.hidden = h; }

  // ---- formatting -----------------------------------------------------

  function fmtRate(v) {
    if (v == null || !isFinite(v)) return '–';
    if (v === 0) return '0';
    if (v < 10) return v.toFixed(1);
    return INT.format(Math.round(v));
  }

  function fmtMs(v) {
    if (v == null || !(v > 0)) return '–';
    if (v < 1) return v.toFixed(2) + ' ms';
    if (v < 100) return v.toFixed(1) + ' ms';
    if (v < 10000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(1) + ' s';
  }

  function fmtPct(errors, requests) {
    if (!requests) return '–';
    const p = 100 * errors / requests;
    if (p === 0) return '0%';
    if (p < 0.1) return '<0.1%';
    return p.toFixed(p < 10 ? 1 : 0) + '%';
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  // One formatter for all: toLocaleString builds a new one per call, which
  // at 500 rows was most of the time of a poll.
  const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  function fmtInt(n) { return INT.format(n); }

  function fmtDuration(sec) {
    sec = Math.floor(sec);
    const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24;
    const m = Math.floor(sec / 60) % 60, s = sec % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }

  function fmtTick(v) {
    if (v >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
    if (v >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
    return String(+v.toFixed(2));
  }

  function fmtClock(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString('en-GB');
  }

  // ---- rates ----------------------------------------------------------

  // Rate turns samples of a cumulative counter into a per-second rate over
  // about RATE_SPAN_MS. A counter that goes down (gateway restarted) resets it.
  class Rate {
    constructor() { this.s = []; }
    push(t, n) {
      const s = this.s;
      if (s.length && (n < s[s.length - 1].n || t <= s[s.length - 1].t)) {
        if (n < s[s.length - 1].n) s.length = 0; else return;
      }
      s.push({ t, n });
      while (s.length > 2 && t - s[1].t >= RATE_SPAN_MS) s.shift();
    }
    // delta is the counter's increase over the span and its length in s.
    delta() {
      const s = this.s;
      if (s.length < 2) return null;
      return { n: s[s.length - 1].n - s[0].n, sec: (s[s.length - 1].t - s[0].t) / 1000 };
    }
    perSec() {
      const d = this.delta();
      return d && d.sec > 0 ? d.n / d.sec : null;
    }
  }

  // ---- charts ---------------------------------------------------------

  const M = { l: 46, r: 10, t: 18, b: 20 }; // plot margins, px

  // niceScale picks a y axis top and tick step (1, 2, 2.5 or 5 x 10^k) for
  // values up to v, at least floor.
  function niceScale(v, floor) {
    v = Math.max(v, floor);
    const raw = v / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const n = raw / mag;
    const step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
    return { step, max: Math.ceil(v / step - 1e-9) * step };
  }

  // Frame is the caption, legend, svg and axes shared by the charts.
  class Frame {
    constructor(fig, title, legendItems) {
      const cap = el('figcaption');
      const tt = el('span', 'title', title);
      this.sub = document.createTextNode('');
      const small = el('small');
      small.appendChild(this.sub);
      tt.appendChild(small);
      cap.appendChild(tt);
      const lg = el('span', 'legend');
      this.legend = legendItems.map((it) => {
        const span = el('span');
        span.appendChild(el('span', 'sw ' + it.cls));
        span.appendChild(document.createTextNode(it.label + ' '));
        const b = el('b');
        const t = document.createTextNode('–');
        b.appendChild(t);
        span.appendChild(b);
        lg.appendChild(span);
        return t;
      });
      cap.appendChild(lg);
      fig.appendChild(cap);
      this.svg = svgEl('svg', { class: 'plot', role: 'img', 'aria-label': title });
      fig.appendChild(this.svg);
      this.axes = svgEl('g', {}, this.svg);
      this.body = svgEl('g', {}, this.svg);
      this.axesKey = '';
      // The size is read once here and then kept by a ResizeObserver:
      // reading clientWidth while rendering would force a synchronous
      // layout of the whole page (500 rows) on every poll.
      this.W = this.svg.clientWidth || 600;
      this.H = this.svg.clientHeight || 170;
      new ResizeObserver((entries) => {
        const r = entries[entries.length - 1].contentRect;
        if (r.width > 0 && r.height > 0) { this.W = r.width; this.H = r.height; }
      }).observe(this.svg);
    }

    // layout maps values onto the svg (at its last known size) and redraws
    // the axes when the size or the y scale changed.
    layout(maxV, floor, unit) {
      const W = this.W, H = this.H;
      const sc = niceScale(maxV, floor);
      const pw = W - M.l - M.r, ph = H - M.t - M.b;
      const key = W + 'x' + H + ':' + sc.max;
      if (key !== this.axesKey) {
        this.axesKey = key;
        this.drawAxes(W, H, pw, ph, sc, unit);
      }
      return {
        x: (dt) => M.l + pw * (1 - dt / HISTORY_MS), // dt: ms before now
        y: (v) => M.t + ph * (1 - Math.min(v, sc.max) / sc.max),
        left: M.l, right: M.l + pw, base: M.t + ph,
      };
    }

    drawAxes(W, H, pw, ph, sc, unit) {
      const g = this.axes;
      while (g.firstChild) g.removeChild(g.firstChild);
      for (let v = 0; v <= sc.max + 1e-9; v += sc.step) {
        const y = Math.round(M.t + ph * (1 - v / sc.max)) + 0.5;
        svgEl('line', { class: 'gridline', x1: M.l, x2: M.l + pw, y1: y, y2: y }, g);
        const t = svgEl('text', { class: 'axis', x: M.l - 6, y: y + 3, 'text-anchor': 'end' }, g);
        t.textContent = fmtTick(v);
      }
      const u = svgEl('text', { class: 'axis', x: M.l - 6, y: M.t - 8, 'text-anchor': 'end' }, g);
      u.textContent = unit;
      for (let m = 5; m >= 0; m--) {
        const x = Math.round(M.l + pw * (1 - m / 5)) + 0.5;
        svgEl('line', { class: 'gridline', x1: x, x2: x, y1: M.t, y2: M.t + ph, opacity: 0.5 }, g);
        const anchor = m === 5 ? 'start' : m === 0 ? 'end' : 'middle';
        const t = svgEl('text', { class: 'axis', x, y: H - 5, 'text-anchor': anchor }, g);
        t.textContent = m === 0 ? 'now' : '−' + m + ' min';
      }
    }
  }

  // LineChart draws series over the last 5 minutes; points are
  // {t (server ms), v: [one value per series, or null]}.
  class LineChart {
    constructor(fig, title, series, opts) {
      this.fig = fig;
      this.series = series;
      this.opts = opts;
      this.frame = new Frame(fig, title, series);
      this.area = opts.area ? svgEl('path', { class: 'area ' + series[0].cls, d: '' }, this.frame.body) : null;
      this.lines = series.map((s) => svgEl('path', { class: 'line ' + s.cls, d: '' }, this.frame.body));
    }

    update(points, now, sub, latest) {
      setData(this.frame.sub, sub);
      let maxV = 0;
      for (const p of points) for (const v of p.v) if (v != null && v > maxV) maxV = v;
      const f = this.frame.layout(maxV, this.opts.floor, this.opts.unit);
      this.series.forEach((s, i) => {
        // A run of points is one subpath; a lone point becomes a short
        // level stroke, so that it shows.
        let d = '', area = '', prevT = null, first = null, lastX = 0, run = 0;
        const close = () => {
          if (run === 1) d += 'm-3 0h6';
          if (first != null && i === 0) area += 'L' + lastX + ' ' + f.base + 'L' + first + ' ' + f.base + 'Z';
        };
        for (const p of points) {
          const v = p.v[i];
          if (v == null || now - p.t > HISTORY_MS) { prevT = null; continue; }
          const x = f.x(now - p.t).toFixed(1), y = f.y(v).toFixed(1);
          const gap = prevT == null || p.t - prevT > this.opts.gapMs;
          if (gap) { close(); first = x; run = 0; }
          d += (gap ? 'M' : 'L') + x + ' ' + y;
          area += (gap ? 'M' : 'L') + x + ' ' + y;
          prevT = p.t;
          lastX = x;
          run++;
        }
        close();
        setAttr(this.lines[i], 'd', d);
        if (i === 0 && this.area) setAttr(this.area, 'd', area);
      });
      latest.forEach((v, i) => setData(this.frame.legend[i], this.opts.fmt(v)));
      setAttr(this.fig, 'data-latest', latest[0] == null ? '' : String(latest[0]));
    }
  }

  // MixChart stacks the status classes of each 10 s slot of the last 5
  // minutes, from successive samples of the cumulative class counters. The
  // newest (still filling) slot is the rightmost bar.
  class MixChart {
    constructor(fig) {
      this.fig = fig;
      this.frame = new Frame(fig, 'Status codes', CLASSES.slice(0, 4).map((c) => ({ label: c.name, cls: c.cls })));
      this.slot = 10000;
      this.n = HISTORY_MS / this.slot;
      this.bars = []; // [slot][class] rects, oldest slot first
    }

    update(hist, now) {
      const SLOT = this.slot, n = this.n, first = Math.floor(now / SLOT) - n + 1;
      const slots = Array.from({ length: n }, () => [0, 0, 0, 0, 0, 0]);
      const totals = [0, 0, 0, 0, 0, 0];
      for (let i = 1; i < hist.length; i++) {
        const a = hist[i - 1], b = hist[i];
        const k = Math.floor(b.t / SLOT) - first;
        if (k < 0 || k >= n) continue;
        for (let c = 0; c < 6; c++) {
          const d = b.cls[c] - a.cls[c];
          if (d > 0) { slots[k][c] += d; totals[c] += d; }
        }
      }
      let maxV = 0;
      for (const s of slots) maxV = Math.max(maxV, s.reduce((x, y) => x + y, 0));
      const f = this.frame.layout(maxV, 4, 'req');
      while (this.bars.length < n) {
        this.bars.push(CLASSES.map((c) => svgEl('rect', { class: c.cls, x: 0, y: 0, width: 0, height: 0 }, this.frame.body)));
      }
      const w = (f.right - f.left) / n;
      for (let k = 0; k < n; k++) {
        const x = (f.left + k * w + 1).toFixed(1), width = Math.max(1, w - 2).toFixed(1);
        let y = f.base;
        CLASSES.forEach((c, j) => {
          const r = this.bars[k][j], v = slots[k][c.i];
          const h = v > 0 ? f.base - f.y(v) : 0;
          y -= h;
          setAttr(r, 'x', x);
          setAttr(r, 'width', width);
          setAttr(r, 'y', y.toFixed(1));
          setAttr(r, 'height', h.toFixed(1));
        });
      }
      const sum = totals.reduce((x, y) => x + y, 0);
      CLASSES.slice(0, 4).forEach((c, j) => setData(this.frame.legend[j], fmtPct(totals[c.i], sum)));
      const since = hist.length && now - hist[0].t < HISTORY_MS - SLOT ? ' since this page opened' : ' in 5 min';
      setData(this.frame.sub, 'per 10 s · ' + fmtInt(sum) + since);
      setAttr(this.fig, 'data-total', String(sum));
    }
  }

  // ---- header and totals ------------------------------------------------

  function renderHeader(doc) {
    setText(byId('version'), doc.version || '');
    setText(byId('uptime'), 'up ' + fmtDuration(doc.uptime_seconds));

    const dk = doc.docker, pill = byId('docker'), banner = byId('docker-error');
    let text, cls;
    if (!dk.enabled) { text = 'Docker: off (no label backends)'; cls = 'pill'; }
    else if (dk.connected) { text = 'Docker connected'; cls = 'pill ok'; }
    else { text = 'Docker disconnected'; cls = 'pill bad'; }
    const eps = dk.endpoints || [];
    if (eps.length) {
      const up = eps.filter((e) => e.connected).length;
      text = 'Docker ' + up + '/' + eps.length + ' engines connected';
      cls = up === eps.length ? 'pill ok' : up ? 'pill warn' : 'pill bad';
    }
    setText(pill, text);
    setClass(pill, cls);
    const epLines = eps.map((e) => e.name + ' (' + e.host + '): ' + (e.connected ? 'connected' : 'down') +
      ' since ' + fmtClock(e.since) + (e.last_error ? ', last error: ' + e.last_error : '')).join('\n');
    setAttr(pill, 'title', !dk.enabled ? 'no backend uses match_labels' : epLines ||
      (dk.connected ? 'since ' : 'down since ') + fmtClock(dk.since) + (dk.last_error ? '\nlast error: ' + dk.last_error : ''));
    const dkErr = dk.enabled && !dk.connected && dk.last_error ? 'Docker: ' + dk.last_error : '';
    setText(banner, dkErr);
    setHidden(banner, !dkErr);

    const cp = byId('config'), rb = byId('reload-error'), c = doc.config;
    setHidden(cp, !c);
    if (!c) { setHidden(rb, true); return; }
    const ct = 'config gen ' + c.generation + (c.last_reload_at ? ' · reloaded ' + fmtClock(c.last_reload_at) : '');
    setText(cp, ct);
    setClass(cp, c.last_reload_error ? 'pill bad' : 'pill ok');
    setAttr(cp, 'title', c.file || '');
    const re = c.last_reload_error ? 'Last reload of ' + c.file + ' failed; still serving generation ' +
      c.generation + ':\n' + c.last_reload_error : '';
    setText(rb, re);
    setHidden(rb, !re);
  }

  function setLink(ok, why) {
    const p = byId('link');
    const text = ok ? 'live' : 'gateway unreachable, retrying';
    setText(p, text);
    setClass(p, ok ? 'pill ok' : 'pill bad');
    setAttr(p, 'title', ok ? 'polling every second' : String(why));
    document.body.classList.toggle('stale', !ok);
  }

  function setTile(id, text, bad) {
    const e = byId(id);
    setText(e, text);
    setClass(e, bad ? 'v bad' : 'v');
  }

  // ---- certificates -----------------------------------------------------

  // renderCerts fills the certificates panel (hidden without TLS). A
  // certificate within 14 days of expiry, or whose last reload or renewal
  // failed, is marked bad.
  function renderCerts(doc, now) {
    const list = doc.certificates || [], panel = byId('certs');
    setHidden(panel, list.length === 0);
    if (!list.length) return;
    setText(byId('certs-count'), String(list.length));
    const body = byId('certs-table').tBodies[0];
    while (body.rows.length > list.length) body.deleteRow(-1);
    while (body.rows.length < list.length) {
      const tr = body.insertRow();
      for (let i = 0; i < 5; i++) textCell(tr, '');
    }
    list.forEach((c, i) => {
      const tr = body.rows[i], cells = tr.cells;
      const left = (Date.parse(c.not_after) - now) / 86400000;
      const names = (c.names || []).join(', ') || '(no certificate yet)';
      setText(cells[0], names);
      setText(cells[1], c.source + (c.file ? ' · ' + c.file : ''));
      setText(cells[2], c.issuer || '');
      const exp = c.not_after && !c.not_after.startsWith('0001') ?
        c.not_after.slice(0, 10) + ' (' + (left < 1 ? left < 0 ? 'expired' : '< 1 day' : Math.floor(left) + ' days') + ')' : '–';
      setText(cells[3], exp);
      setText(cells[4], c.last_error || '');
      setAttr(tr, 'data-name', names);
      setClass(tr, c.last_error || left < 14 ? 'bad' : '');
    });
  }

  // ---- routes -----------------------------------------------------------

  class RoutesTable {
    constructor() {
      this.table = byId('routes');
      this.tbody = this.table.tBodies[0];
      this.rows = new Map();
      this.order = '';
      this.sortKey = '';
      this.asc = false;
      this.filter = '';
      for (const th of this.table.tHead.rows[0].cells) {
        if (th.dataset.sort) th.addEventListener('click', () => this.sortBy(th));
      }
      byId('routes-filter').addEventListener('input', (e) => {
        this.filter = e.target.value.trim().toLowerCase();
        for (const row of this.rows.values()) this.applyFilter(row);
      });
    }

    sortBy(th) {
      const key = th.dataset.sort;
      if (this.sortKey === key) this.asc = !this.asc;
      else { this.sortKey = key; this.asc = key === 'prefix' || key === 'backend'; }
      for (const h of this.table.tHead.rows[0].cells) {
        h.classList.toggle('sorted', h === th);
        h.classList.toggle('asc', h === th && this.asc);
      }
      this.reorder([...this.rows.values()].sort((a, b) => a.index - b.index));
    }

    makeRow(prefix) {
      const tr = el('tr');
      tr.dataset.key = prefix;
      const row = { tr, rate: new Rate(), errRate: new Rate(), policies: null, sv: {} };
      row.prefix = textCell(tr, 'mono');
      row.backend = textCell(tr);
      row.policyCell = el('td');
      tr.appendChild(row.policyCell);
      for (const k of ['rps', 'err', 'p50', 'p95', 'p99', 'total']) row[k] = textCell(tr, 'num');
      return row;
    }

    update(doc, now) {
      const seen = new Set();
      doc.routes.forEach((r, index) => {
        let row = this.rows.get(r.prefix);
        if (!row) {
          row = this.makeRow(r.prefix);
          this.rows.set(r.prefix, row);
        }
        seen.add(r.prefix);
        row.index = index;
        this.fill(row, r, now);
        this.applyFilter(row);
      });
      for (const [k, row] of this.rows) {
        if (!seen.has(k)) { row.tr.remove(); this.rows.delete(k); }
      }
      this.reorder([...this.rows.values()].sort((a, b) => a.index - b.index));
      setText(byId('routes-count'), String(doc.routes.length));
      setHidden(byId('routes-empty'), doc.routes.length > 0);
    }

    // fill shows r: rates over the last ~5 s from the cumulative counters,
    // latency percentiles as the gateway computed them over its window.
    fill(row, r, now) {
      row.rate.push(now, r.requests);
      row.errRate.push(now, r.errors);
      const d = row.rate.delta(), e = row.errRate.delta();
      const rps = row.rate.perSec(), reqs = d ? d.n : 0, errs = e ? e.n : 0;
      row.sv = { prefix: r.prefix, backend: r.backend, rps: rps || 0, err: reqs ? errs / reqs : 0,
        p50: r.p50, p95: r.p95, p99: r.p99, total: r.requests };
      setData(row.prefix, r.prefix);
      setData(row.backend, r.backend);
      const consumers = r.consumers || [];
      const pol = r.policies.join(',') + '|' + consumers.join(',');
      if (pol !== row.policies) {
        row.policies = pol;
        row.policyCell.textContent = '';
        if (!r.policies.length) row.policyCell.appendChild(el('span', 'muted', '—'));
        for (const p of r.policies) row.policyCell.appendChild(el('span', 'chip', p));
        // the authenticated callers of the latest requests
        for (const c of consumers) row.policyCell.appendChild(el('span', 'chip muted', 'consumer: ' + c));
      }
      setData(row.rps, fmtRate(rps));
      setData(row.err, fmtPct(errs, reqs));
      setClass(row.err.parentNode, 'num' + (reqs && errs / reqs >= 0.05 ? ' bad-text' : ''));
      setData(row.p50, fmtMs(r.p50));
      setData(row.p95, fmtMs(r.p95));
      setData(row.p99, fmtMs(r.p99));
      setData(row.total, fmtInt(r.requests));
    }

    applyFilter(row) {
      const f = this.filter;
      setHidden(row.tr, !!f && !(row.sv.prefix || '').toLowerCase().includes(f) &&
        !(row.sv.backend || '').toLowerCase().includes(f));
    }

    reorder(rows) {
      if (this.sortKey) {
        const k = this.sortKey, dir = this.asc ? 1 : -1;
        rows.sort((a, b) => {
          const x = a.sv[k], y = b.sv[k];
          const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
          return c * dir || a.index - b.index;
        });
      }
      const order = rows.map((r) => r.sv.prefix).join('\n');
      if (order === this.order) return;
      this.order = order;
      for (const r of rows) this.tbody.appendChild(r.tr);
    }
  }

  // ---- backends ---------------------------------------------------------

  const BREAKER_TEXT = { closed: 'breaker closed', open: 'breaker open', half_open: 'breaker half-open' };
  const BREAKER_CLS = { closed: 'badge ok', open: 'badge bad', half_open: 'badge warn' };
  const STATE_DOT = { serving: 'dot ok', warming: 'dot warn', ejected: 'dot warn', excluded: 'dot' };

  // upKey identifies an upstream's row: its container ID, else its URL.
  const upKey = (u) => (u.endpoint ? u.endpoint + '/' : '') + (u.id || u.address);
  // withEngine adds a container's Docker engine to its name, when named.
  const withEngine = (name, endpoint) => endpoint ? (name || '—') + ' @ ' + endpoint : name;

  // upReason is an upstream's reasons and, while it is ejected, how long
  // the ejection has left by the server's clock (now, Unix ms).
  const upReason = (u, now) => u.ejected_until > now
    ? u.reason + '; back in ' + fmtDuration(Math.ceil((u.ejected_until - now) / 1000)) : u.reason;

  class BackendsView {
    constructor() {
      this.root = byId('backends');
      this.items = new Map();
      this.order = '';
      this.filter = '';
      this.lastDoc = null;
      byId('backends-filter').addEventListener('input', (e) => {
        this.filter = e.target.value.trim().toLowerCase();
        for (const it of this.items.values()) this.applyFilter(it);
      });
      byId('expand-all').addEventListener('click', () => this.setOpen(true));
      byId('collapse-all').addEventListener('click', () => this.setOpen(false));
    }

    setOpen(open) { for (const it of this.items.values()) it.details.open = open; }

    makeItem(name, open) {
      const details = el('details', 'backend');
      details.open = open;
      details.dataset.backend = name;
      const sum = el('summary');
      const span = (cls) => {
        const s = el('span', cls);
        const t = document.createTextNode('');
        s.appendChild(t);
        sum.appendChild(s);
        return t;
      };
      const it = { details, rows: new Map(), rates: new Map(), order: '', data: null, now: 0 };
      it.name = span('b-name');
      it.sel = span('b-sel');
      it.serving = span('badge');
      it.breaker = span('badge');
      it.excluded = span('b-num muted');
      it.rps = span('b-num');
      it.err = span('b-num');
      it.p95 = span('b-num');
      details.appendChild(sum);
      const scroll = el('div', 'scroll mid');
      const table = el('table', 'grid');
      const head = table.createTHead().insertRow();
      for (const [h, num] of [['Container', 0], ['ID', 0], ['Address', 0], ['Health', 0], ['Breaker', 0],
        ['In flight', 1], ['req/s', 1], ['Requests', 1], ['State', 0]]) {
        head.appendChild(el('th', num ? 'num' : null, h));
      }
      it.tbody = table.createTBody();
      scroll.appendChild(table);
      details.appendChild(scroll);
      details.addEventListener('toggle', () => { if (details.open && it.data) this.fillRows(it); });
      return it;
    }

    update(doc, now) {
      this.lastDoc = doc;
      const seen = new Set();
      let serving = 0, total = 0, excluded = 0, inflight = 0;
      for (const b of doc.backends) {
        let it = this.items.get(b.name);
        if (!it) {
          it = this.makeItem(b.name, doc.backends.length <= OPEN_BACKENDS_MAX);
          this.items.set(b.name, it);
        }
        seen.add(b.name);
        it.data = b;
        it.now = now;
        this.track(it, b, now);
        this.fillSummary(it, b);
        if (it.details.open) this.fillRows(it);
        this.applyFilter(it);
        serving += b.serving;
        total += b.upstreams.length;
        excluded += b.excluded.length;
        for (const u of b.upstreams) inflight += u.in_flight;
      }
      for (const [k, it] of this.items) {
        if (!seen.has(k)) { it.details.remove(); this.items.delete(k); }
      }
      const order = doc.backends.map((b) => b.name).join('\n');
      if (order !== this.order) {
        this.order = order;
        for (const b of doc.backends) this.root.appendChild(this.items.get(b.name).details);
      }
      const cnt = byId('backends-count');
      const ct = plural(doc.backends.length, 'backend') + ' · ' + total + ' upstreams · ' + excluded + ' excluded';
      setText(cnt, ct);
      return { serving, total, inflight };
    }

    // track samples every upstream's request counter, open or not, so a
    // backend shows its rates as soon as it is expanded.
    track(it, b, now) {
      const seen = new Set();
      for (const u of b.upstreams) {
        const k = upKey(u);
        let r = it.rates.get(k);
        if (!r) { r = new Rate(); it.rates.set(k, r); }
        r.push(now, u.requests);
        seen.add(k);
      }
      for (const k of it.rates.keys()) if (!seen.has(k)) it.rates.delete(k);
      if (!it.rate) { it.rate = new Rate(); it.errRate = new Rate(); }
      it.rate.push(now, b.requests);
      it.errRate.push(now, b.errors);
    }

    fillSummary(it, b) {
      setData(it.name, b.name);
      setData(it.sel, b.selector || (b.upstreams.length ? 'static URLs' : ''));
      const n = b.upstreams.length;
      setData(it.serving, n ? b.serving + '/' + n + ' serving' : 'no upstreams');
      setClass(it.serving.parentNode, 'badge ' + (n && b.serving === n ? 'ok' : b.serving > 0 ? 'warn' : 'bad'));
      setData(it.breaker, BREAKER_TEXT[b.breaker] || 'no breaker');
      setClass(it.breaker.parentNode, BREAKER_CLS[b.breaker] || 'badge none');
      setAttr(it.breaker.parentNode, 'title', b.breaker_reason || '');
      setData(it.excluded, b.excluded.length ? b.excluded.length + ' excluded' : '');
      setData(it.rps, fmtRate(it.rate.perSec()) + ' req/s');
      const d = it.rate.delta(), e = it.errRate.delta();
      setData(it.err, (d && d.n ? fmtPct(e ? e.n : 0, d.n) : '–') + ' err');
      setData(it.p95, 'p95 ' + fmtMs(b.p95));
    }

    makeRow(key) {
      const tr = el('tr');
      tr.dataset.key = key;
      const row = { tr };
      const td = el('td');
      row.dot = el('span', 'dot');
      td.appendChild(row.dot);
      row.name = document.createTextNode('');
      td.appendChild(row.name);
      tr.appendChild(td);
      row.id = textCell(tr, 'mono');
      row.addr = textCell(tr, 'mono');
      row.health = textCell(tr);
      row.breaker = textCell(tr);
      row.inflight = textCell(tr, 'num');
      row.rps = textCell(tr, 'num');
      row.reqs = textCell(tr, 'num');
      row.state = textCell(tr, 'reason wrap');
      return row;
    }

    fillRows(it) {
      const b = it.data, seen = new Set(), keys = [];
      const breaker = b.breaker ? b.breaker.replace('_', '-') : '—';
      const rowFor = (key) => {
        let row = it.rows.get(key);
        if (!row) { row = this.makeRow(key); it.rows.set(key, row); }
        seen.add(key);
        keys.push(key);
        return row;
      };
      for (const u of b.upstreams) {
        const row = rowFor(upKey(u));
        this.fillRow(row, u.name || '', u.id || '', u.address, u.state, upReason(u, it.now), u.endpoint);
        setData(row.health, u.health);
        setClass(row.health.parentNode, u.health === 'unhealthy' ? 'bad-text' : u.health === 'healthy' ? 'ok-text' : 'muted');
        setData(row.breaker, breaker);
        setData(row.inflight, String(u.in_flight));
        const rate = it.rates.get(upKey(u));
        setData(row.rps, fmtRate(rate ? rate.perSec() : null));
        setData(row.reqs, fmtInt(u.requests));
        setClass(row.tr, '');
      }
      for (const x of b.excluded) {
        const row = rowFor((x.endpoint ? x.endpoint + '/' : '') + x.id);
        this.fillRow(row, x.name, x.id, '—', 'excluded', x.reason, x.endpoint);
        for (const t of [row.health, row.breaker, row.inflight, row.rps, row.reqs]) setData(t, '—');
        setClass(row.health.parentNode, 'muted');
        setClass(row.tr, x.warn ? 'st-excluded warn' : 'st-excluded');
      }
      for (const [k, row] of it.rows) if (!seen.has(k)) { row.tr.remove(); it.rows.delete(k); }
      const order = keys.join('\n');
      if (order !== it.order) {
        it.order = order;
        for (const k of keys) it.tbody.appendChild(it.rows.get(k).tr);
      }
      if (this.filter) this.applyFilter(it);
    }

    // fillRow fills a container or URL row; endpoint, when set, is the
    // container's Docker engine, shown after its name.
    fillRow(row, name, id, addr, state, reason, endpoint) {
      setData(row.name, withEngine(name, endpoint) || '—');
      setData(row.id, id || '—');
      setData(row.addr, addr);
      setAttr(row.tr, 'data-name', name);
      setAttr(row.tr, 'data-state', state);
      setClass(row.dot, STATE_DOT[state] || 'dot bad');
      let text = state.replace('_', ' ');
      if (state === 'excluded') text = 'excluded: ' + reason;
      else if (reason) text += ': ' + reason;
      setData(row.state, text);
      row.search = (name + ' ' + id + ' ' + addr + ' ' + (endpoint || '')).toLowerCase();
    }

    applyFilter(it) {
      const f = this.filter, b = it.data;
      if (!f || b.name.toLowerCase().includes(f) || (b.selector || '').toLowerCase().includes(f)) {
        setHidden(it.details, false);
        for (const row of it.rows.values()) setHidden(row.tr, false);
        return;
      }
      let any = false;
      for (const u of b.upstreams) if ((u.name + ' ' + u.id + ' ' + u.address).toLowerCase().includes(f)) any = true;
      for (const x of b.excluded) if ((x.name + ' ' + x.id).toLowerCase().includes(f)) any = true;
      setHidden(it.details, !any);
      for (const row of it.rows.values()) setHidden(row.tr, !(row.search || '').includes(f));
    }
  }

  // ---- explain ----------------------------------------------------------

  function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

  // renderValue shows any JSON: objects as key/value lists, arrays of
  // objects as tables, scalars as text.
  function renderValue(v) {
    if (v === null || v === undefined || v === '') return el('span', 'muted', '—');
    if (Array.isArray(v)) {
      if (!v.length) return el('span', 'muted', 'none');
      if (v.every(isObj)) return tableOf(v);
      return el('span', null, v.map((x) => (isObj(x) ? JSON.stringify(x) : String(x))).join(', '));
    }
    if (isObj(v)) {
      const dl = el('dl');
      for (const [k, x] of Object.entries(v)) {
        dl.appendChild(el('dt', null, k));
        const dd = el('dd');
        dd.appendChild(renderValue(x));
        dl.appendChild(dd);
      }
      return dl;
    }
    return el('span', null, String(v));
  }

  function tableOf(list) {
    const keys = [];
    for (const o of list) for (const k of Object.keys(o)) if (!keys.includes(k)) keys.push(k);
    const table = el('table', 'grid');
    const head = table.createTHead().insertRow();
    for (const k of keys) head.appendChild(el('th', null, k));
    const body = table.createTBody();
    for (const o of list) {
      const tr = body.insertRow();
      for (const k of keys) {
        const td = tr.insertCell();
        const x = o[k];
        if (Array.isArray(x) || isObj(x)) td.appendChild(renderValue(x));
        else td.textContent = x == null || x === '' ? '—' : String(x);
      }
    }
    const wrap = el('div', 'scroll');
    wrap.appendChild(table);
    return wrap;
  }

  async function explain(path) {
    const out = byId('explain-out');
    out.textContent = 'asking…';
    try {
      const resp = await fetch('explain?path=' + encodeURIComponent(path), { cache: 'no-store' });
      if (!resp.ok) { out.textContent = 'HTTP ' + resp.status + ': ' + (await resp.text()); return; }
      const v = await resp.json();
      out.textContent = '';
      out.appendChild(renderValue(v));
    } catch (e) {
      out.textContent = 'could not ask the gateway: ' + e.message;
    }
  }

  // ---- main loop --------------------------------------------------------

  const hist = []; // global samples for the status mix: {t, req, cls}
  const globalRate = new Rate(), globalErr = new Rate();
  let polls = 0;
  let charts, routes, backends;

  function setup() {
    charts = {
      rps: new LineChart(byId('chart-rps'), 'Requests',
        [{ label: 'req/s', cls: 's-req' }, { label: 'errors/s', cls: 's-err' }],
        { floor: 4, unit: 'req/s', fmt: fmtRate, gapMs: 25000, area: true }),
      lat: new LineChart(byId('chart-lat'), 'Latency',
        [{ label: 'p50', cls: 's-p50' }, { label: 'p95', cls: 's-p95' }, { label: 'p99', cls: 's-p99' }],
        { floor: 4, unit: 'ms', fmt: fmtMs, gapMs: 25000 }),
      mix: new MixChart(byId('chart-mix')),
    };
    routes = new RoutesTable();
    backends = new BackendsView();
    byId('explain-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const p = byId('explain-path').value.trim();
      if (p) explain(p.startsWith('/') ? p : '/' + p);
    });
  }

  function record(doc) {
    const g = doc.global, now = doc.time;
    const prev = hist[hist.length - 1];
    if (prev && (g.requests < prev.req || now <= prev.t)) {
      if (g.requests < prev.req) hist.length = 0; else return;
    }
    hist.push({ t: now, req: g.requests, cls: g.classes || [0, 0, 0, 0, 0, 0] });
    while (hist.length && now - hist[0].t > HISTORY_MS + 15000) hist.shift();
    globalRate.push(now, g.requests);
    globalErr.push(now, g.errors);
  }

  // chartPoints turns the gateway's timeline into chart points, each at the
  // end of its interval. The last, partial interval is drawn at "now" once
  // it is 2 s old, its rate taken over the time it has covered.
  function chartPoints(doc) {
    const tl = doc.timeline, rps = [], lat = [];
    tl.points.forEach((p, i) => {
      let end = p.t + tl.step_ms;
      if (i === tl.points.length - 1) {
        if (doc.time - p.t < 2000) return;
        end = Math.min(end, doc.time);
      }
      const sec = (end - p.t) / 1000;
      rps.push({ t: end, v: [p.requests / sec, p.errors / sec] });
      lat.push({ t: end, v: p.requests ? [p.p50, p.p95, p.p99] : [null, null, null] });
    });
    return { rps, lat };
  }

  function render(doc) {
    const started = performance.now(), now = doc.time;
    record(doc);
    renderHeader(doc);
    renderCerts(doc, now);
    setHidden(byId('explain'), !doc.explain);
    // cluster.js offers the cluster's figures when the gateway has a cluster.
    if (doc.cluster) document.body.dataset.cluster = doc.cluster.instance;
    else delete document.body.dataset.cluster;
    routes.update(doc, now);
    const ups = backends.update(doc, now);

    const g = doc.global, d = globalRate.delta(), e = globalErr.delta();
    const reqs = d ? d.n : 0, errs = e ? e.n : 0;
    setTile('t-rps', fmtRate(globalRate.perSec()));
    setTile('t-err', fmtPct(errs, reqs), reqs > 0 && errs / reqs >= 0.05);
    setTile('t-p50', fmtMs(g.p50));
    setTile('t-p95', fmtMs(g.p95));
    setTile('t-p99', fmtMs(g.p99));
    setTile('t-inflight', fmtInt(ups.inflight));
    setTile('t-routes', String(doc.routes.length));
    setTile('t-ups', ups.serving + ' / ' + ups.total, ups.serving < ups.total);

    const pts = chartPoints(doc), step = fmtTick(doc.timeline.step_ms / 1000) + ' s';
    const lastRps = pts.rps.length ? pts.rps[pts.rps.length - 1].v : [null, null];
    const lastLat = pts.lat.length ? pts.lat[pts.lat.length - 1].v : [null, null, null];
    charts.rps.opts.gapMs = charts.lat.opts.gapMs = doc.timeline.step_ms * 2.5;
    charts.rps.update(pts.rps, now, 'per second, ' + step + ' intervals', lastRps);
    charts.lat.update(pts.lat, now, 'per ' + step + ' interval, ms', lastLat);
    charts.mix.update(hist, now);

    polls++;
    document.body.dataset.polls = String(polls);
    document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  async function fetchDoc() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 4000);
    try {
      const resp = await fetch('dashboard/data', { cache: 'no-store', signal: ctl.signal });
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      return await resp.json();
    } finally {
      clearTimeout(timer);
    }
  }

  async function poll() {
    const started = performance.now();
    let doc = null;
    try {
      doc = await fetchDoc();
      setLink(true);
    } catch (err) {
      setLink(false, err && err.message);
    }
    try {
      if (doc) render(doc); // outside the catch: a rendering bug must surface, not look like a network error
    } finally {
      setTimeout(poll, Math.max(50, POLL_MS - (performance.now() - started)));
    }
  }

  setup();
  poll();
})();
