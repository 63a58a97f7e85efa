// The plant engineer's dashboard: plain browser JavaScript over the HTTP API (/api), charts by
// uPlot. It polls every few seconds; the key (a function key in Azure, the local API key) comes
// from ?code= once and is kept in this browser.
(() => {
  'use strict';
  const API = '/api';
  const POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c.nodeType ? c : String(c));
    return e;
  };
  const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));
  const health = (h) => (['normal', 'warning', 'critical'].includes(h) ? h : 'unknown');

  // ---- the key ----------------------------------------------------------------------------------
  const params = new URLSearchParams(location.search);
  if (params.get('code')) {
    localStorage.setItem('twins.apiKey', params.get('code'));
    params.delete('code');
    history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
  }
  let key = localStorage.getItem('twins.apiKey') || '';

  async function api(path, options = {}) {
    const res = await fetch(`${API}${path}`, { ...options, headers: { 'x-functions-key': key, ...(options.body ? { 'content-type': 'application/json' } : {}), ...(options.headers || {}) } });
    const type = res.headers.get('content-type') || '';
    const body = type.includes('json') ? await res.json() : await res.text();
    if (res.status === 401) askForKey();
    if (!res.ok) throw Object.assign(new Error(body && body.detail ? body.detail : `HTTP ${res.status}`), { status: res.status, body });
    return body;
  }

  function askForKey() {
    $('key-form').hidden = false;
    $('key-input').focus();
  }
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    key = $('key-input').value.trim();
    localStorage.setItem('twins.apiKey', key);
    $('key-form').hidden = true;
    refresh();
  });

  // ---- plant graph ------------------------------------------------------------------------------
  let selected = location.hash.startsWith('#/equipment/') ? decodeURIComponent(location.hash.slice('#/equipment/'.length)) : undefined;
  let plant = { factories: [] };

  function renderPlant() {
    // Not while a line's status is being chosen: the poll would close the list under the pointer.
    if (document.activeElement && document.activeElement.matches('select[data-line-status]')) return;
    const tree = el('ul', { class: 'tree', role: 'tree', 'aria-label': 'Factory, lines and equipment' });
    for (const f of plant.factories) {
      const lines = el('ul', { role: 'group' });
      for (const line of f.lines) {
        const machines = el('ul', { role: 'group' });
        for (const eq of line.equipment) {
          const id = eq.$dtId;
          // A dead sensor, or a machine gone silent, shows on the plant too, not only once its machine is opened.
          const blind = [...notMeasuredSince(eq).keys()];
          const silent = silentFor(eq, line);
          machines.append(el('li', { role: 'treeitem', 'aria-selected': id === selected },
            el('button', { class: 'equipment-node', 'data-twin': id, 'data-health': health(eq.healthStatus), 'data-not-measured': blind.length ? blind.join(',') : undefined, 'data-silent': silent === undefined ? undefined : String(silent), 'aria-pressed': id === selected, onclick: () => select(id) },
              el('span', { class: `dot ${health(eq.healthStatus)}`, 'aria-hidden': 'true' }),
              el('span', {}, id),
              el('span', { class: 'meta' }, `${eq.status || '—'} · ${health(eq.healthStatus)}${blind.length ? ` · not measured: ${blind.map(labelOf).join(', ')}` : ''}${silent === undefined ? '' : ` · ${silentText(silent, eq)}`}`))));
        }
        const status = LINE_STATUSES.includes(line.lineStatus) ? line.lineStatus : 'running';
        lines.append(el('li', { class: 'line', role: 'treeitem', 'aria-expanded': 'true', 'data-line': line.$dtId },
          el('span', { class: 'node' }, line.name || line.$dtId), ' ',
          el('select', { class: 'line-status', 'data-line-status': line.$dtId, 'aria-label': `Status of ${line.name || line.$dtId}`, onchange: (e) => setLineStatus(line.$dtId, e.target.value) },
            LINE_STATUSES.map((s) => el('option', { value: s, selected: s === status }, s))),
          LINE_AT_REST.has(status) ? el('span', { class: 'meta', 'data-testid': 'line-at-rest' }, ` · ${status}: a machine that sends nothing is not alarmed`) : undefined,
          line.workingHours ? el('span', { class: 'meta', 'data-testid': 'line-hours' }, ` · ${line.workingHours.working ? 'on' : 'off'} shift (its own hours ${line.workingHours.hours})${line.workingHours.working ? '' : ': a machine that sends nothing is not alarmed'}`) : undefined,
          machines));
      }
      tree.append(el('li', { class: 'factory', role: 'treeitem', 'aria-expanded': 'true' }, el('span', { class: 'node' }, f.name || f.$dtId), offShift() ? el('span', { class: 'meta', 'data-testid': 'off-shift' }, ` · off shift (working hours ${plant.workingHours.hours}, ${plant.workingHours.timeZone}${plant.workingHours.holidays ? `; closed ${plant.workingHours.holidays}` : ''}): a machine that sends nothing is not alarmed${f.lines.some((l) => l.workingHours) ? ' (on the lines that keep their own hours, by those)' : ''}`) : undefined, lines));
    }
    $('plant-graph').replaceChildren(plant.factories.length ? tree : el('p', {}, 'No factory twins yet.'));
  }

  function findEquipment(id) {
    for (const f of plant.factories) for (const l of f.lines) for (const e of l.equipment) if (e.$dtId === id) return { ...e, line: l.$dtId };
    return undefined;
  }
  function findLine(id) {
    for (const f of plant.factories) for (const l of f.lines) if (l.$dtId === id) return l;
    return undefined;
  }

  /** A line's status, as whoever runs it sets it: stopped, in changeover or in maintenance, its machines may be quiet. */
  async function setLineStatus(lineId, status) {
    const by = user('Set the line status');
    if (by) {
      try {
        await api(`/lines/${encodeURIComponent(lineId)}/status`, { method: 'POST', body: JSON.stringify({ status, by }) });
        setStatus(`${lineId}: ${status}`);
      } catch (error) {
        setStatus(`Line status: ${error.message}`);
      }
    }
    document.activeElement.blur();
    await refresh();
  }

  function select(id) {
    if (id !== selected) units = {};
    selected = id;
    history.replaceState(null, '', `#/equipment/${encodeURIComponent(id)}`);
    renderPlant();
    renderEquipment();
    loadHistory();
    $('equipment').focus();
  }

  // ---- one machine ------------------------------------------------------------------------------
  const SKIP = new Set(['$dtId', '$etag', '$metadata', 'equipmentId', 'line', 'offNetworkAfterMs', 'heardAt']);
  function renderEquipment() {
    const eq = selected && findEquipment(selected);
    $('equipment-hint').hidden = Boolean(eq);
    $('equipment-detail').hidden = !eq;
    if (!eq) return;
    $('equipment-title').textContent = `${eq.$dtId} (${eq.equipmentType || 'equipment'}, ${eq.line})`;
    const facts = Object.entries(eq).filter(([k, v]) => !SKIP.has(k) && typeof v !== 'object');
    const stale = notMeasuredSince(eq);
    const silent = silentFor(eq, findLine(eq.line));
    $('readings').replaceChildren(...facts.map(([k, v]) => {
      const at = stale.get(k);
      const since = at !== undefined ? el('span', { class: 'stale' }, `last measured ${new Date(at).toLocaleString()}`)
        : k === 'lastTelemetryTime' && silent !== undefined ? el('span', { class: 'stale', 'data-silent': String(silent) }, silentText(silent, eq))
        : null;
      return el('div', {}, el('dt', { title: k }, labelOf(k)), el('dd', { 'data-reading': k, 'data-last-measured': at === undefined ? undefined : new Date(at).toISOString() }, factText(k, v), since));
    }));
    const shelved = eq.shelvedUntil && Date.parse(eq.shelvedUntil) > Date.now();
    $('shelve-state').textContent = shelved ? `Notifications shelved until ${new Date(eq.shelvedUntil).toLocaleTimeString()} by ${eq.shelvedBy || 'someone'}.` : 'Notifications on.';
    $('shelve-toggle').textContent = shelved ? 'Unshelve' : 'Shelve alarms 1 h';
    $('shelve-toggle').onclick = () => shelve(eq.$dtId, shelved ? 0 : 60);
  }

  /**
   * When a sensor was last measured, where the twin's telemetry has moved on without it: the
   * pipeline patches each value with ADT's sourceTime (when it was measured), and a value sent as
   * null (a probe that stopped answering) leaves the last one measured. Two minutes behind the twin's
   * lastTelemetryTime (the device's own clock, as sourceTime is) is said beside the value: long
   * enough for a counter a device sends once a minute.
   */
  const STALE_MS = 120_000;
  /** The twin's values so behind, by name, with when each was last measured. */
  function notMeasuredSince(eq) {
    const meta = eq.$metadata && typeof eq.$metadata === 'object' ? eq.$metadata : {};
    const newest = typeof eq.lastTelemetryTime === 'string' ? Date.parse(eq.lastTelemetryTime) : NaN;
    const out = new Map();
    for (const [k, v] of Object.entries(eq)) {
      // Numbers only: a status is reported when it changes, so an old one is no dead sensor.
      if (typeof v !== 'number' || !Object.hasOwn(meta, k)) continue;
      const at = meta[k] && typeof meta[k].sourceTime === 'string' ? Date.parse(meta[k].sourceTime) : NaN;
      if (newest - at > STALE_MS) out.set(k, at);
    }
    return out;
  }

  /**
   * How long, in whole minutes, the service has heard nothing from a machine in service: since the plant API's
   * heardAt (when IoT Hub took its newest reading in, or when it reached the twin if it came late: the
   * service's clock, not the device's, so a device clock set wrong does not make it look silent), as
   * the alarm counts it; a listing without one, since its lastTelemetryTime was written. From the delay of the
   * communication-loss alarm on (the plant API says it; ten minutes unless set otherwise, or the
   * machine's own when it reports more slowly), far past the patch interval and the refresh sweep's
   * minute: only a machine that stopped sending (its gateway down, its network cut) shows. A machine
   * stopped, idle, in maintenance or stopped by an emergencyStop is expected to be quiet.
   */
  const positive = (ms) => (typeof ms === 'number' && ms > 0 ? ms : undefined);
  const silentAfterMs = (eq) => positive(eq.silentAfterMs) ?? positive(plant.silentAfterMs) ?? 10 * 60_000;
  const AT_REST = new Set(['stopped', 'idle', 'maintenance', 'emergencyStopped']);
  /** Outside the plant's working hours (when it has some, PLANT_WORKING_HOURS), or its line's own (LINE_WORKING_HOURS): its machines are expected to be quiet, as the alarm has it. */
  const hoursOf = (line) => (line && line.workingHours) || plant.workingHours;
  const offShift = (line) => Boolean(hoursOf(line) && hoursOf(line).working === false);
  /** A line stopped, in changeover or in maintenance (its twin's lineStatus): its machines are expected to be quiet, as the alarm has it. */
  const LINE_STATUSES = ['running', 'stopped', 'changeover', 'maintenance'];
  const LINE_AT_REST = new Set(['stopped', 'changeover', 'maintenance']);
  /** When Digital Twins took a property of the twin in (its $metadata lastUpdateTime), or NaN. */
  function updatedAt(twin, name) {
    const meta = twin && twin.$metadata && typeof twin.$metadata === 'object' && twin.$metadata[name];
    return meta && typeof meta.lastUpdateTime === 'string' ? Date.parse(meta.lastUpdateTime) : NaN;
  }
  function silentFor(eq, line) {
    if (AT_REST.has(eq.status) || offShift(line) || (line && LINE_AT_REST.has(line.lineStatus))) return undefined;
    const heard = typeof eq.heardAt === 'string' ? Date.parse(eq.heardAt) : NaN;
    const at = Number.isNaN(heard) ? updatedAt(eq, 'lastTelemetryTime') : heard;
    // On shift, a silence counts from the shift's start at the earliest (the machine was off before it), as the alarm's does; the text says the whole gap.
    const shiftBegan = hoursOf(line) && typeof hoursOf(line).since === 'string' ? Date.parse(hoursOf(line).since) : -Infinity;
    // And from when its line was set running again, likewise.
    const lineBegan = line && line.lineStatus === 'running' ? updatedAt(line, 'lineStatus') : NaN;
    const now = Date.now();
    const began = Math.max(shiftBegan, Number.isNaN(lineBegan) ? -Infinity : lineBegan);
    return now - Math.max(at, began) > (offNetwork(eq, began) ? eq.offNetworkAfterMs : silentAfterMs(eq)) ? Math.floor((now - at) / 60_000) : undefined;
  }
  /** IoT Hub saw its device disconnect after its shift or its line began (the plant API lists when): the alarm's shorter delay is its. */
  function offNetwork(eq, began) {
    const at = typeof eq.disconnectedAt === 'string' ? Date.parse(eq.disconnectedAt) : NaN;
    return !Number.isNaN(at) && at >= began && positive(eq.offNetworkAfterMs) !== undefined;
  }
  /** Whole minutes silent, as the page says them, and whether IoT Hub saw the device go. */
  function silentText(minutes, eq) {
    const gone = eq && typeof eq.disconnectedAt === 'string' ? ', off the network' : '';
    return minutes < 120 ? `no telemetry for ${minutes} min${gone}` : `no telemetry for ${Math.floor(minutes / 60)} h${gone}`;
  }

  /** Charts by key, each drawn into its own box. */
  const charts = new Map();
  function chart(key, box, series, data, scales = {}, height = 200) {
    const width = Math.max(280, box.clientWidth || 600);
    // Ticks at least 24 px apart: a sensor's small chart then still shows three or four values (the default 30 px left one or none).
    const opts = { width, height, scales, series: [{}, ...series], axes: [{}, { size: 56, space: 24 }], legend: { live: true } };
    // Rebuilt when the series or the range change; otherwise only the data moves.
    const shape = JSON.stringify([series.map((s) => s.label), scales]);
    const known = charts.get(key);
    if (known && known.box === box && known.shape === shape) known.plot.setData(data, true);
    else {
      known?.plot.destroy();
      box.replaceChildren();
      charts.set(key, { plot: new uPlot(opts, data, box), box, shape, height });
    }
    box.dataset.points = String(data[0].length);
  }

  // Charts take their box's width: follow it when the window (or a tablet's orientation) changes.
  let resizing;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const c of charts.values()) c.plot.setSize({ width: Math.max(280, c.box.clientWidth), height: c.height });
    }, 100);
  });

  /** The selected machine's telemetry units as the API writes them (°C, g, bar), from its history. */
  let units = {};
  const unitOf = (name) => (Object.hasOwn(units, name) && typeof units[name] === 'string' ? units[name] : '');
  const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
  const hoursText = (h) => (h < 1 ? `${Math.round(h * 60)} min` : h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`);
  /** A probability as the incidents and the cards give it. */
  const percent = (p) => `${Math.round(p * 100)} %`;
  /**
   * A twin property or telemetry name as a person reads it ("remainingUsefulLifeHours": "Remaining
   * useful life", whose value is written with its own unit); the name itself stays in the tooltip,
   * for the query console.
   */
  function labelOf(name) {
    const words = name.replace(/Hours$/, '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /** A twin property as an engineer reads it: with its unit, times in local time, the remaining life in minutes, hours or days. */
  function factText(name, value) {
    if (typeof value === 'number') {
      if (name === 'remainingUsefulLifeHours') return hoursText(value);
      if (name === 'failureProbability') return percent(value);
      const unit = unitOf(name);
      return unit ? `${fmt(value)} ${unit}` : fmt(value);
    }
    if (typeof value === 'string' && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toLocaleString();
    return String(value);
  }

  const PALETTE = ['#1a73e8', '#e37400', '#188038', '#a142f4', '#d93025', '#12b5cb', '#9334e6'];
  async function loadHistory() {
    if (!selected) return;
    const span = Number($('range').value);
    const to = new Date();
    const from = new Date(to.getTime() - span);
    try {
      const asked = selected;
      const h = await api(`/equipment/${encodeURIComponent(asked)}/history?from=${from.toISOString()}&to=${to.toISOString()}&bucket=auto`);
      if (asked !== selected) return;
      const unitsBefore = JSON.stringify(units);
      units = h.unitSymbols ?? {};
      if (JSON.stringify(units) !== unitsBefore) renderEquipment();
      const xs = h.buckets.map((b) => Date.parse(b.t) / 1000);
      // Measurements only: counters (cycles, inspections) would flatten every other line.
      const names = [...new Set(h.buckets.flatMap((b) => Object.keys(b.values)))].filter((n) => !h.measured || h.measured.includes(n)).sort();
      const x = { time: true, range: [from.getTime() / 1000, to.getTime() / 1000] };
      // One small chart per sensor, each on its own scale: on one axis 65 °C would flatten 0.5 g of vibration to a line.
      const box = $('chart-readings');
      if (box.dataset.sensors !== names.join(',')) {
        for (const key of [...charts.keys()]) if (key.startsWith('reading:')) { charts.get(key).plot.destroy(); charts.delete(key); }
        box.replaceChildren(...names.map((n) => el('div', { class: 'chart sensor', 'data-sensor': n })));
        box.dataset.sensors = names.join(',');
      }
      names.forEach((n, i) => {
        const unit = unitOf(n);
        chart(`reading:${n}`, box.children[i], [{ label: unit ? `${labelOf(n)} (${unit})` : labelOf(n), stroke: PALETTE[i % PALETTE.length], width: 1.5 }], [xs, h.buckets.map((b) => (b.values[n] ? b.values[n].avg : null))], { x }, 140);
      });
      box.dataset.points = String(xs.length);
      const markers = h.buckets.map((b) => (b.anomalies > 0 ? b.anomalyScore : null));
      chart('health', $('chart-health'), [
        { label: 'anomaly score', stroke: '#b26a00', width: 1.5 },
        { label: 'failure probability', stroke: '#c62828', width: 1.5, dash: [6, 4] },
        { label: 'anomalous', stroke: '#c62828', width: 0, points: { show: true, size: 8, fill: '#c62828' } },
      ], [xs, h.buckets.map((b) => b.anomalyScore), h.buckets.map((b) => b.failureProbability), markers], { x, y: { range: [0, 1] } });
    } catch (error) {
      setStatus(`History: ${error.message}`);
    }
  }
  $('range').addEventListener('change', loadHistory);

  // ---- alerts -----------------------------------------------------------------------------------
  /** What was done about the incident automatically, as the store records it: the equipment's emergencyStop, whatever came of it. */
  const ACTION_TEXT = { executed: 'sent', 'dry-run': 'dry run (not sent)', blocked: 'blocked', failed: 'failed' };
  function actionLine(a) {
    const act = a.action;
    if (!act) return null;
    const what = Object.hasOwn(ACTION_TEXT, act.outcome) ? ACTION_TEXT[act.outcome] : act.outcome;
    return el('div', { class: `stop ${act.outcome === 'executed' ? '' : 'not-sent'}`.trim(), 'data-stop': act.time, 'data-outcome': act.outcome },
      `${act.name} ${what} ${new Date(act.time).toLocaleTimeString()}${act.detail ? `: ${act.detail}` : ''}`);
  }
  const figures = (f) => `score ${fmt(f.anomalyScore)}${f.failureProbability !== null ? `, failure ${percent(f.failureProbability)}` : ''}`;

  /**
   * Cards Teams has not taken (down, or refusing them): kept and sent once it does, oldest first.
   * Until then nobody in the Teams channel hears of the incidents below, so it is said at the top.
   */
  function showUndelivered(u) {
    const waiting = u ? u.waiting : 0;
    $('undelivered').dataset.waiting = waiting === null ? '' : String(waiting);
    $('undelivered').hidden = waiting === 0;
    if (waiting === 0) return;
    $('undelivered-summary').textContent = waiting === null
      ? `Cannot tell whether alert cards reach Teams: ${u.detail}`
      : `${plural(waiting, 'alert card waits', 'alert cards wait')} for Teams since ${new Date(u.oldest).toLocaleString()}${u.error ? ` (${u.error.code}: ${u.error.message})` : ''}. `
        + 'Teams is not taking cards, so people on the channel are not being told of the incidents below: they are sent, oldest first, once it does (checked every minute). Check the Teams webhook.';
  }

  async function loadAlerts() {
    const { items, undelivered } = await api('/alerts?limit=50');
    showUndelivered(undelivered);
    $('alert-list').replaceChildren(...(items.length ? items.map((a) => {
      const acked = a.acknowledged;
      const drivers = a.drivers ?? [];
      // Cleared by the line's status rather than by readings: the machine is quiet on a line at rest.
      const state = a.state === 'cleared' ? `cleared ${new Date(a.clearedAt).toLocaleTimeString()}${a.clearedAtRest ? ` (its line ${a.clearedAtRest === 'stopped' ? 'stopped' : `in ${a.clearedAtRest}`})` : ''}` : 'active';
      return el('li', { class: `${a.priority} ${a.state}${acked ? ' acknowledged' : ''}`, 'data-alert': a.alertId, 'data-device': a.deviceId, 'data-state': a.state },
        el('strong', {}, `${a.priority.toUpperCase()} ${a.deviceId}`), ' ',
        el('span', { class: 'state' }, state), ' ',
        // As it stood at its latest raise or escalation; as it was raised too, when that differs.
        el('span', { class: 'figures' }, figures(a.latest ?? a)),
        a.conditionText ? el('div', { class: 'condition', 'data-condition': a.condition }, a.conditionText) : null,
        actionLine(a),
        drivers.length ? el('div', { class: 'drivers', 'data-drivers': drivers.join(',') }, `driven by ${drivers.join(', ')}`) : null,
        el('div', { class: 'when' }, `raised ${new Date(a.time).toLocaleString()}`, a.latest && figures(a.latest) !== figures(a) ? ` at ${figures(a)}` : '', acked ? ` · acknowledged by ${acked.by}` : ''),
        el('div', { class: 'buttons' },
          el('button', { type: 'button', onclick: () => select(a.deviceId) }, 'Show'),
          acked ? null : el('button', { type: 'button', 'data-ack': a.alertId, onclick: () => acknowledge(a.alertId) }, 'Acknowledge'),
          el('button', { type: 'button', 'data-shelve': a.deviceId, onclick: () => shelve(a.deviceId, 60) }, 'Shelve 1 h')));
    }) : [el('li', { class: 'empty' }, 'No incidents in the last 7 days.')]));
  }

  function user(action) {
    const by = localStorage.getItem('twins.user') || prompt(`${action} as (your name):`) || '';
    if (by) localStorage.setItem('twins.user', by);
    return by;
  }

  /** Shelving (ISA-18.2): the equipment's alarms are still recorded; nobody is told until it ends. */
  async function shelve(deviceId, minutes) {
    const by = user(minutes ? 'Shelve' : 'Unshelve');
    if (!by) return;
    try {
      const r = await api(`/equipment/${encodeURIComponent(deviceId)}/shelve`, { method: 'POST', body: JSON.stringify({ by, minutes }) });
      setStatus(r.shelvedUntil ? `${deviceId}: notifications shelved until ${new Date(r.shelvedUntil).toLocaleTimeString()}` : `${deviceId}: notifications back on`);
    } catch (error) {
      setStatus(`Shelve: ${error.message}`);
    }
    await refresh();
  }

  async function acknowledge(id) {
    const by = user('Acknowledge');
    if (!by) return;
    try {
      await api(`/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST', body: JSON.stringify({ by }) });
    } catch (error) {
      if (error.status !== 409) setStatus(`Acknowledge: ${error.message}`);
    }
    await loadAlerts();
  }

  // ---- query console ----------------------------------------------------------------------------
  let nextToken = null;
  /** The query the rows shown answer: Next page goes on with it, whatever the box holds by then. */
  let shownQuery = '';
  async function runQuery(continuationToken) {
    $('query-error').hidden = true;
    const query = continuationToken ? shownQuery : $('query-text').value;
    try {
      const page = await api('/twins/query', { method: 'POST', body: JSON.stringify({ query, ...(continuationToken ? { continuationToken } : {}) }) });
      shownQuery = query;
      nextToken = page.continuationToken;
      $('query-next').disabled = !nextToken;
      const cols = [...new Set(page.items.flatMap((r) => Object.keys(r)))];
      const cell = (v) => (v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : fmt(v));
      $('query-results').replaceChildren(
        el('caption', {}, `${plural(page.items.length, 'row', 'rows')}${nextToken ? ', more on the next page' : ''}`),
        el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { scope: 'col' }, c)))),
        el('tbody', {}, ...page.items.map((r) => el('tr', {}, ...cols.map((c) => el('td', {}, cell(r[c])))))));
    } catch (error) {
      // Rows left under the error would read as its answer: cleared, and no next page of them.
      nextToken = null;
      $('query-next').disabled = true;
      $('query-results').replaceChildren();
      $('query-error').textContent = error.message;
      $('query-error').hidden = false;
    }
  }
  $('query-form').addEventListener('submit', (e) => { e.preventDefault(); runQuery(); });
  $('query-text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runQuery(); } });
  $('query-next').addEventListener('click', () => runQuery(nextToken));

  // ---- models -----------------------------------------------------------------------------------
  async function loadModels() {
    const { items } = await api('/models');
    $('model-list').replaceChildren(...items.map((m) => el('li', {}, el('code', {}, m.id), m.displayName ? ` — ${m.displayName}` : '', m.decommissioned ? ' (decommissioned)' : '')));
  }

  // ---- telemetry held back ----------------------------------------------------------------------
  // Batches the telemetry function kept after their retries: their readings are missing from the
  // charts and Data Explorer until a redelivery (every 5 minutes) gets them through. Shown only
  // while there are some, or while the app cannot tell.
  const KEPT_SHOWN = 5;
  let keptLoading = false;
  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
  async function loadKept() {
    if (keptLoading) return; // a storage account that is slow to answer must not stack requests up
    keptLoading = true;
    try {
      const kept = await api(`/telemetry/kept?limit=${KEPT_SHOWN}`);
      $('kept').dataset.batches = String(kept.batches);
      $('kept').dataset.events = String(kept.events);
      $('kept').hidden = kept.batches === 0;
      if (kept.batches === 0) return;
      const since = kept.oldestFailedAt ? `, the first at ${new Date(kept.oldestFailedAt).toLocaleString()}` : '';
      $('kept-summary').textContent = `${plural(kept.batches, 'batch', 'batches')}${kept.counted ? '' : ' or more'} (${plural(kept.events, 'reading', 'readings')}) kept after failing${since}. `
        + `${kept.batches === 1 ? 'It is' : 'They are'} tried again every 5 minutes; until then ${kept.batches === 1 ? 'its' : 'their'} readings are missing from the history.`;
      $('kept-list').replaceChildren(...kept.items.map((b) => el('li', { 'data-kept': b.name },
        b.partitionId === null ? b.name : `partition ${b.partitionId}, events ${b.firstSequenceNumber}–${b.lastSequenceNumber}`,
        b.events === null ? '' : ` (${plural(b.events, 'reading', 'readings')})`,
        b.error ? `: ${b.error.code}, ${b.error.message}` : '')),
        ...(kept.batches > kept.items.length ? [el('li', { class: 'more' }, `and ${plural(kept.batches - kept.items.length, 'more batch', 'more batches')}`)] : []));
    } catch (error) {
      if (error.status === 401) return;
      $('kept').hidden = false;
      $('kept').dataset.batches = '';
      $('kept-summary').textContent = `Cannot tell whether telemetry is held back: ${error.message}`;
      $('kept-list').replaceChildren();
    } finally {
      keptLoading = false;
    }
  }

  /** One redelivery round now, for whoever has just mended why the batches failed. */
  async function retryKept() {
    $('kept-retry').disabled = true;
    try {
      const r = await api('/telemetry/kept/redeliver', { method: 'POST' });
      const outcome = `Kept batches tried again: ${r.redelivered} through, ${r.narrowed} in part, ${r.failed} still failing`;
      $('kept-retry').dataset.outcome = outcome; // the status line is the next refresh's soon
      setStatus(outcome);
    } catch (error) {
      setStatus(`Try again: ${error.message}`);
    } finally {
      $('kept-retry').disabled = false;
    }
    await loadKept();
  }
  $('kept-retry').addEventListener('click', retryKept);

  // ---- readings refused -------------------------------------------------------------------------
  // What devices sent that the pipeline could not take, by device and reason: what to fix on a device.
  const BODY_SHOWN = 200;
  async function loadRefused() {
    const { items, keptWhole } = await api('/telemetry/dead-letters?limit=20');
    // Kept whole (not only as an excerpt) in the storage account: once their cause is mended, they can be taken in.
    const kept = keptWhole && keptWhole.events > 0;
    $('refused-kept').hidden = !kept;
    $('refused-kept').dataset.events = String(keptWhole ? keptWhole.events : 0);
    if (kept) {
      $('refused-kept-summary').textContent = `${plural(keptWhole.events, 'refused reading is', 'refused readings are')}${keptWhole.counted ? '' : ' (at least)'} kept whole. `
        + 'Once their cause is mended (the twin registered, the model extended), take them in again: what is accepted now is stored, the rest stays kept.';
    }
    const table = $('refused-list');
    table.dataset.groups = String(items.length);
    if (!items.length) return table.replaceChildren(el('caption', {}, 'No reading refused in the last 7 days.'));
    table.replaceChildren(
      el('caption', {}, `${plural(items.length, 'device and reason pair', 'device and reason pairs')}, the most recently refused first`),
      el('thead', {}, el('tr', {}, ...['Device', 'Reason', 'Count', 'Latest', 'Why', 'Latest body'].map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {}, ...items.map((g) => el('tr', { 'data-refused': `${g.deviceId ?? ''}|${g.reason}` },
        el('td', {}, g.deviceId ?? '(no device)'),
        el('td', {}, el('code', {}, g.reason)),
        el('td', {}, g.count.toLocaleString()),
        el('td', {}, new Date(g.lastAt).toLocaleString()),
        el('td', { class: 'detail' }, g.detail),
        el('td', { class: 'body' }, g.body.length > BODY_SHOWN ? `${g.body.slice(0, BODY_SHOWN)}…` : g.body)))));
  }

  /**
   * One readmission round. Kept batches refused for what the message itself is (not JSON…) are
   * passed by, unless `all`: offered only once a round has passed some by, for after an upgrade
   * that reads more than the version that refused them (a body with a byte order mark, say).
   */
  async function readmitRefused(all) {
    const button = all ? $('refused-readmit-all') : $('refused-readmit');
    button.disabled = true;
    try {
      const r = await api(`/telemetry/dead-letters/readmit${all ? '?all=true' : ''}`, { method: 'POST' });
      const outcome = `Refused readings taken in again: ${plural(r.stored, 'reading', 'readings')} stored; ${plural(r.stillRefused, 'kept batch', 'kept batches')} still refused${r.failed ? `, ${r.failed} failed` : ''}${r.passedBy ? `; ${r.passedBy} not JSON or the like, kept as evidence` : ''}`;
      button.dataset.outcome = outcome;
      $('refused-readmit-all').hidden = all || !r.passedBy;
      setStatus(outcome);
    } catch (error) {
      setStatus(`Take them in again: ${error.message}`);
    } finally {
      button.disabled = false;
    }
    await loadRefused().catch(() => {});
  }
  $('refused-readmit').addEventListener('click', () => readmitRefused(false));
  $('refused-readmit-all').addEventListener('click', () => readmitRefused(true));

  // ---- alarm system performance -----------------------------------------------------------------
  // The alarm load measured as the standards measure it, so that it is reviewed rather than guessed.
  const VERDICT_TEXT = { acceptable: 'very likely acceptable', manageable: 'manageable at most', over: 'over target', ok: 'within target' };
  /** The lines to choose from, as the plant has them now; the choice kept while it still exists. */
  function renderPerformanceLines() {
    const select = $('performance-line');
    const lines = plant.factories.flatMap((f) => f.lines.map((l) => l.$dtId));
    const have = [...select.options].slice(1).map((o) => o.value);
    if (have.join('\n') === lines.join('\n')) return;
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, 'Whole plant'), ...lines.map((id) => el('option', { value: id }, id)));
    select.value = lines.includes(chosen) ? chosen : '';
  }
  /** Seconds as a person reads a wait: 45 s, 3 min 10 s, 2 h 5 min. */
  function duration(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    const minutes = Math.round(s / 60);
    return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }
  function responseText(r) {
    if (r.incidents === 0) return 'no incident carded';
    const ack = `${r.acknowledged} of ${r.incidents} acknowledged${r.ackSeconds.median === null ? '' : `, after ${duration(r.ackSeconds.median)} (median; 90 % within ${duration(r.ackSeconds.p90)})`}`;
    const cleared = `${r.cleared} cleared${r.clearedMinutes.median === null ? '' : `, after ${duration(r.clearedMinutes.median * 60)} (median)`}`;
    return `${ack}; ${cleared}`;
  }
  /** A plant first heard from within the period is rated from then: say so, and how long before the end that was. */
  function ratedText(p) {
    if (!p.ratedFrom || p.ratedFrom === p.from) return '';
    const watched = (Date.parse(p.to) - Date.parse(p.ratedFrom)) / 1000;
    return `, rated from its first reading, ${duration(watched)} before${watched < 600 ? ' (as 10 minutes, the least a rate is taken over)' : ''}`;
  }
  async function loadPerformance() {
    const span = Number($('performance-period').value);
    const line = $('performance-line').value;
    const to = new Date();
    const p = await api(`/alarms/performance?from=${new Date(to.getTime() - span).toISOString()}&to=${to.toISOString()}${line ? `&line=${encodeURIComponent(line)}` : ''}`);
    const pct = (x) => `${(x * 100).toLocaleString(undefined, { maximumFractionDigits: 1 })} %`;
    const row = (key, metric, value, target, verdict) => el('tr', { 'data-metric': key, 'data-verdict': verdict ?? '' },
      el('th', { scope: 'row' }, metric), el('td', { class: 'value' }, value), el('td', {}, target), el('td', {}, verdict ? VERDICT_TEXT[verdict] ?? verdict : ''));
    const table = $('performance-table');
    table.dataset.alarms = String(p.alarms);
    table.dataset.line = p.line ?? '';
    const scope = p.line ? `${p.line} (${p.equipment.length} machines)` : 'The whole plant';
    table.replaceChildren(
      el('caption', {}, `${scope}, ${new Date(p.from).toLocaleString()} to ${new Date(p.to).toLocaleString()}${ratedText(p)}${p.truncated ? ' (more events than are read: figures up to the last read)' : ''}`),
      el('thead', {}, el('tr', {}, ...['Measure', 'Value', 'Target (one operator)', ''].map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {},
        row('alarms', 'Alarms', `${p.alarms.toLocaleString()} (${fmt(p.perDay)} a day)`, 'about 150 a day, 300 at most', null),
        // Two decimals would show a quiet week's 0.007 as 0.00: small rates keep two significant digits.
        row('rate', 'Average per 10 minutes', p.per10Min > 0 && p.per10Min < 0.1 ? String(Number(p.per10Min.toPrecision(2))) : fmt(p.per10Min), `≤ ${p.targets.acceptablePer10Min} very likely acceptable, ≤ ${p.targets.manageablePer10Min} manageable`, p.verdicts.rate),
        row('peak', 'Busiest 10 minutes', p.peak.at ? `${p.peak.alarms} at ${new Date(p.peak.at).toLocaleString()}` : '0', `≤ ${p.targets.max10Min}`, p.verdicts.peak),
        row('flood', '10-minute periods in flood (more than 10 alarms)', `${p.flood.periods} of ${p.flood.of.toLocaleString()} (${pct(p.flood.share)})`, `< ${pct(p.targets.floodShare)}`, p.verdicts.flood),
        row('busyHours', 'Hours with more than 30 alarms', `${p.busyHours.hours} of ${p.busyHours.of.toLocaleString()} (${pct(p.busyHours.share)})`, `< ${pct(p.targets.busyHourShare)}`, p.verdicts.busyHours),
        row('chattering', 'Chattering (raised 3 times within a minute)', p.chattering.episodes ? `${p.chattering.episodes}: ${p.chattering.devices.join(', ')}` : '0', '0', p.verdicts.chattering),
        row('stale', 'Stale (standing over 24 hours)', p.stale.length ? `${p.stale.length}: ${p.stale.map((s) => s.deviceId).join(', ')}` : '0', `fewer than ${p.targets.staleBelow}`, p.verdicts.stale),
        row('priorities', 'By priority', `warning ${p.priorities.warning}, critical ${p.priorities.critical}`, 'most at the lower priority', null),
        row('withheld', 'Recorded, nobody told', `flood suppression ${p.withheld.flood}, shelved ${p.withheld.shelved}, low ${p.withheld.low}, came in late ${p.withheld.late ?? 0}`, '', null),
        row('response', 'Answered', responseText(p.response), 'no standard target: an alarm left unacknowledged is one nobody read', null),
        row('sources', 'Most frequent sources', p.topSources.length ? p.topSources.slice(0, 5).map((s) => `${s.deviceId} ${s.alarms} (${pct(s.share)})`).join(', ') : 'none', 'a few sources carrying most of the load are the first to fix', null)));
  }
  for (const id of ['performance-period', 'performance-line']) $(id).addEventListener('change', () => loadPerformance().catch((error) => setStatus(`Alarm performance: ${error.message}`)));

  // ---- live updates -----------------------------------------------------------------------------
  function setStatus(text) { $('status').textContent = text; }
  let refreshes = 0;
  async function refresh() {
    if (!key) return askForKey();
    try {
      plant = await api('/plant');
      loadKept();
      renderPlant();
      renderPerformanceLines();
      renderEquipment();
      // Refused readings change slowly and their query scans a week: every sixth refresh (30 s); the
      // alarm performance reads a week of alarm events: every twelfth (a minute).
      const n = refreshes++;
      await Promise.all([loadAlerts(), loadHistory(), n % 6 === 0 ? loadRefused() : undefined, n % 12 === 0 ? loadPerformance() : undefined]);
      setStatus(`Updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      setStatus(error.status === 401 ? 'The API key was refused.' : `Cannot reach the API: ${error.message}`);
    }
  }
  refresh().then(() => key && loadModels().catch(() => {}));
  setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
})();
