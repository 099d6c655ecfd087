// Switchyard web view: polls /api/state every second and draws each network as a picture (its
// switch, the gateway and its uplink, overlays, and every port with who is behind it), with live
// throughput from counter deltas, and the gateway's leases, forwards and flows as tables.
// No framework, no build step: DOM nodes are kept per network and per port and updated in place,
// so ports appear and disappear as guests come and go. Every string from the daemon goes through
// textContent and is never parsed as markup.
'use strict';

const POLL_MS = 1000;
const KINDS = ['vhost-user', 'stream', 'dgram', 'tap', 'gateway', 'overlay'];
const KIND_COLOURS = { 'vhost-user': '#8b6cff', stream: '#2bb3ff', dgram: '#19c3a6', tap: '#f5a524', gateway: '#3ddc84', overlay: '#ff6b9a' };
const SVG = 'http://www.w3.org/2000/svg';
const views = new Map();
let previous = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function kindClass(kind) { return KINDS.includes(kind) ? 'k-' + kind : 'k-other'; }

function si(value, unit) {
  const steps = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, prefix] of steps) {
    if (value >= size) return (value / size).toFixed(value >= size * 100 ? 0 : 1) + ' ' + prefix + unit;
  }
  return (value >= 10 || value === 0 ? Math.round(value) : value.toFixed(1)) + ' ' + unit;
}
const bits = bps => si(bps, 'bit/s');
const pps = n => si(n, 'fr/s');
const bytes = n => si(n, 'B');
const count = n => n >= 1e4 ? si(n, '') .trim() : String(n);

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24, m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

function sum(o) { let t = 0; for (const k in o) t += o[k]; return t; }

function setStatus(state, text) {
  const s = document.getElementById('status');
  s.className = 'status ' + state;
  s.dataset.status = state;
  s.querySelector('b').textContent = text;
}

// Rates per port from the difference between two snapshots (a port that reappears with smaller
// counters, a new connection under an old name, starts again from zero).
function rates(state) {
  const now = Date.parse(state.takenAt);
  const current = new Map();
  const result = new Map();
  for (const n of state.networks) {
    for (const p of n.ports) {
      const key = n.name + '\u0000' + p.name;
      current.set(key, p);
      const before = previous && previous.ports.get(key);
      const dt = previous ? (now - previous.time) / 1000 : 0;
      if (before && dt > 0) {
        const d = (a, b) => Math.max(0, a - b) / dt;
        result.set(key, { rxBps: d(p.rxBytes, before.rxBytes) * 8, txBps: d(p.txBytes, before.txBytes) * 8, rxFps: d(p.rxFrames, before.rxFrames), txFps: d(p.txFrames, before.txFrames) });
      } else {
        result.set(key, { rxBps: 0, txBps: 0, rxFps: 0, txFps: 0 });
      }
    }
  }
  previous = { time: now, ports: current };
  return result;
}

function networkView(name) {
  let v = views.get(name);
  if (v) return v;
  const section = el('section', 'network');
  section.dataset.network = name;
  const h = el('h2');
  const title = el('span', null, 'network ' + name);
  const sub = el('span', 'sub');
  h.append(title, sub);
  const diagram = el('div', 'diagram');
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'edges');
  // The core row is three columns, so the switch stays centred above the guests: the gateway side
  // (host network, gateway) to its left, overlays to its right.
  const core = el('div', 'row core');
  const left = el('div', 'side left');
  const right = el('div', 'side right');
  const ports = el('div', 'row ports');
  diagram.append(svg, core, ports);
  const tables = el('div', 'tables');
  section.append(h, diagram, tables);
  document.getElementById('networks').append(section);

  const sw = el('div', 'node switch');
  sw.dataset.role = 'switch';
  core.append(left, sw, right);
  v = { section, sub, diagram, svg, core, left, right, ports, tables, sw, uplink: null, nodes: new Map(), rates: new Map() };
  views.set(name, v);
  return v;
}

function appendRate(grid, label, value, hot, attr) {
  const k = el('span', 'k', label);
  const val = el('span', 'v' + (hot ? ' hot' : ''), value);
  if (attr) val.classList.add(attr);
  grid.append(k, val);
}

function portNode(v, port, rate) {
  let node = v.nodes.get(port.name);
  if (!node) {
    node = el('div', 'node entering');
    node.dataset.port = port.name;
    v.nodes.set(port.name, node);
    requestAnimationFrame(() => requestAnimationFrame(() => node.classList.remove('entering')));
  }
  node.classList.remove('leaving');
  for (const k of KINDS.concat(['other'])) node.classList.remove('k-' + k);
  node.classList.add(kindClass(port.kind));
  node.dataset.kind = port.kind;
  node.dataset.rxBps = String(Math.round(rate.rxBps));
  node.dataset.txBps = String(Math.round(rate.txBps));
  node.replaceChildren();

  const title = el('div', 'title');
  title.append(el('span', 'name', port.name), el('span', 'kind', port.kind));
  node.append(title);
  if (port.peer) node.append(el('div', 'peer', port.peer));

  const ids = el('div', 'ids');
  for (const h of port.hostnames || []) ids.append(el('div', 'host', h));
  for (const a of port.addresses || []) ids.append(el('div', 'ip', a));
  for (const m of port.macs || []) ids.append(el('div', 'mac', m));
  if (ids.childElementCount === 0 && port.kind !== 'gateway') ids.append(el('div', 'mac', 'no MAC learned yet'));
  node.append(ids);

  const grid = el('div', 'rates');
  const total = rate.rxBps + rate.txBps;
  appendRate(grid, 'in', `${bits(rate.rxBps)} · ${pps(rate.rxFps)}`, rate.rxBps > 0, 'rx');
  appendRate(grid, 'out', `${bits(rate.txBps)} · ${pps(rate.txFps)}`, rate.txBps > 0, 'tx');
  grid.title = 'in: frames from the peer into the switch; out: frames from the switch to the peer';
  node.append(grid);
  node.dataset.active = total > 0 ? 'true' : 'false';
  node.dataset.link = port.linkUp === false ? 'down' : 'up';
  if (port.linkUp === false) title.append(el('span', 'linkdown', 'link down'));

  if (port.queues && port.queues.length) {
    const q = el('div', 'queues');
    for (const ring of port.queues) {
      const tag = el('span', ring.broken ? 'broken' : ring.enabled ? 'on' : '', `${ring.direction}${ring.index >> 1}${ring.size ? ':' + ring.size : ''}`);
      tag.title = `ring ${ring.index} (${ring.direction}) ${ring.started ? 'started' : 'not started'}, ${ring.enabled ? 'enabled' : 'disabled'}${ring.broken ? ', BROKEN' : ''}; next_avail ${ring.nextAvail}, used ${ring.usedIdx}`;
      q.append(tag);
    }
    node.append(q);
  }

  const drops = sum(port.drops);
  const foot = el('div', 'foot2');
  foot.append(el('span', null, `${count(port.rxFrames)} in / ${count(port.txFrames)} out`), el('span', 'drops' + (drops ? ' bad' : ''), `${drops} dropped`));
  if (port.vlan && port.vlan !== 'access vlan 1') foot.append(el('span', null, port.vlan));
  node.append(foot);
  return node;
}

function switchNode(v, n) {
  const sw = v.sw;
  sw.replaceChildren();
  const title = el('div', 'title');
  title.append(el('span', 'name', n.hub ? 'hub' : 'switch'));
  const c = n.switchCounters;
  sw.append(title,
    el('div', 'peer', `${n.hub ? 'hub' : 'learning switch'} · ${n.ports.length} port${n.ports.length === 1 ? '' : 's'}`),
    el('div', 'peer', `FDB ${n.fdbEntries} MAC${n.fdbEntries === 1 ? '' : 's'} · ${count(c.unicast_forwarded || 0)} unicast · ${count(c.flooded || 0)} flooded`));
}

function gatewayExtras(node, g) {
  const ids = node.querySelector('.ids');
  ids.replaceChildren();
  const line = (cls, text) => ids.append(el('div', cls, text));
  line('ip', `router ${g.host}`);
  line('ip', `DNS ${g.dns}`);
  line('mac', `DHCP ${g.dhcpStart}+ on ${g.network}`);
  if (g.network6) line('mac', `IPv6 ${g.network6} (SLAAC)`);
  line('mac', g.mac);
  const active = g.leases.filter(l => l.active).length;
  const flows = sum(g.flows);
  node.querySelector('.peer')?.remove();
  const facts = el('div', 'peer', `${active} lease${active === 1 ? '' : 's'} · ${flows} flow${flows === 1 ? '' : 's'} · ${g.forwards.length} forward${g.forwards.length === 1 ? '' : 's'} · MTU ${g.mtu}${g.restrict ? ' · restricted' : ''}`);
  node.querySelector('.title').after(facts);
}

function uplinkNode(v, g) {
  if (!v.uplink) {
    v.uplink = el('div', 'node uplink');
    v.uplink.dataset.role = 'uplink';
  }
  v.uplink.replaceChildren(el('div', 'name', 'host network'), el('div', 'peer', g.restrict ? 'restricted: no outside access' : 'NAT via host sockets'), el('div', 'peer', 'DNS forwarded'));
  return v.uplink;
}

function table(titleText, headers, rows, rowClass) {
  const card = el('div', 'card');
  card.append(el('h3', null, titleText));
  if (rows.length === 0) { card.append(el('div', 'empty', 'none')); return card; }
  const t = el('table');
  const head = el('tr');
  for (const h of headers) head.append(el('th', null, h));
  t.append(head);
  for (const r of rows) {
    const tr = el('tr', rowClass ? rowClass(r) : '');
    for (const cell of r.cells) tr.append(el('td', typeof cell === 'number' ? 'num' : '', cell));
    t.append(tr);
  }
  card.append(t);
  return card;
}

function chips(titleText, entries, bad) {
  const card = el('div', 'card');
  card.append(el('h3', null, titleText));
  const box = el('div', 'chips');
  const shown = entries.filter(([, v]) => v !== 0);
  if (shown.length === 0) box.append(el('div', 'empty', 'none'));
  for (const [k, v] of shown) {
    const chip = el('span', 'chip' + (bad ? ' bad' : ''));
    chip.append(document.createTextNode(k + ' '), el('b', null, count(v)));
    box.append(chip);
  }
  card.append(box);
  return card;
}

function tables(v, n) {
  const cards = [];
  const g = n.gateway;
  if (g) {
    cards.push(table('DHCP leases', ['MAC', 'address', 'hostname', 'expires'],
      g.leases.map(l => ({ active: l.active, cells: [l.mac, l.address, l.hostname || '', l.active ? 'in ' + duration(l.expiresInSeconds) : 'expired'] })),
      r => r.active ? '' : 'inactive'));
    cards.push(table('Port forwards', ['rule', 'host', 'guest'],
      g.forwards.map(f => ({ cells: [f.rule, `${f.protocol} ${f.hostAddress || '*'}:${f.hostPort}`, `${f.guestAddress}:${f.guestPort}`] }))));
    cards.push(chips('NAT flows', Object.entries(g.flows).map(([k, x]) => [k, x]).concat([['total', sum(g.flows)]]).filter(([k, x]) => k === 'total' || x > 0)));
  }
  const portDrops = [];
  for (const p of n.ports) for (const [reason, x] of Object.entries(p.drops)) if (x) portDrops.push([`${p.name} ${reason}`, x]);
  for (const [reason, x] of Object.entries(n.closedPortDrops)) if (x) portDrops.push([`closed ports ${reason}`, x]);
  if (g) for (const [reason, x] of Object.entries(g.drops)) if (x) portDrops.push([`gateway ${reason}`, x]);
  cards.push(chips('Switch counters', Object.entries(n.switchCounters)));
  cards.push(chips('Drops', portDrops, true));
  v.tables.replaceChildren(...cards);
}

function render(state) {
  document.getElementById('rundir').textContent = state.runDirectory;
  document.getElementById('uptime').textContent = 'up ' + duration(state.uptimeSeconds);
  const r = rates(state);
  const seen = new Set();
  for (const n of state.networks) {
    seen.add(n.name);
    const v = networkView(n.name);
    let netBps = 0;
    const gatewaySide = [];
    const overlays = [];
    const wantPorts = [];
    const livePorts = new Set();
    for (const p of n.ports) {
      const rate = r.get(n.name + '\u0000' + p.name);
      netBps += rate.rxBps;
      livePorts.add(p.name);
      const node = portNode(v, p, rate);
      v.rates.set(p.name, rate);
      if (p.kind === 'gateway' && n.gateway) {
        gatewayExtras(node, n.gateway);
        gatewaySide.push(uplinkNode(v, n.gateway), node);
      } else if (p.kind === 'overlay') {
        overlays.push(node);
      } else {
        wantPorts.push(node);
      }
    }
    switchNode(v, n);
    v.sub.textContent = `${n.ports.length} port${n.ports.length === 1 ? '' : 's'} · ${bits(netBps)} through the switch${n.gateway ? ' · gateway ' + n.gateway.host : ' · no gateway'}`;
    place(v.left, gatewaySide);
    place(v.right, overlays);
    place(v.ports, wantPorts);
    if (wantPorts.length === 0 && !v.ports.querySelector('.empty')) v.ports.append(el('div', 'empty', 'no guests connected'));
    if (wantPorts.length > 0) v.ports.querySelector('.empty')?.remove();
    for (const [name, node] of v.nodes) {
      if (!livePorts.has(name)) {
        v.nodes.delete(name);
        v.rates.delete(name);
        node.classList.add('leaving');
        node.removeAttribute('data-port');
        setTimeout(() => node.remove(), 350);
      }
    }
    if (!n.gateway && v.uplink) { v.uplink.remove(); v.uplink = null; }
    tables(v, n);
    requestAnimationFrame(() => drawEdges(v));
  }
  for (const [name, v] of views) {
    if (!seen.has(name)) { v.section.remove(); views.delete(name); }
  }
}

// Puts the wanted nodes into the row in order, leaving nodes that are fading out where they are.
function place(row, wanted) {
  let cursor = row.firstChild;
  for (const node of wanted) {
    while (cursor && cursor.classList && cursor.classList.contains('leaving')) cursor = cursor.nextSibling;
    if (cursor !== node) row.insertBefore(node, cursor);
    else cursor = cursor.nextSibling;
  }
}

function drawEdges(v) {
  const box = v.diagram.getBoundingClientRect();
  const rect = e => { const r = e.getBoundingClientRect(); return { x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height }; };
  const s = rect(v.sw);
  const paths = [];
  const edge = (d, kind, bps) => {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    if (bps > 0) {
      p.setAttribute('class', 'active');
      p.style.setProperty('--kind-color', KIND_COLOURS[kind] || '#9aa3c7');
      p.style.strokeWidth = String(2 + Math.min(5, Math.log10(1 + bps / 1000)));
    }
    paths.push(p);
  };
  for (const [name, node] of v.nodes) {
    if (!node.isConnected || node.classList.contains('leaving')) continue;
    const rate = v.rates.get(name) || { rxBps: 0, txBps: 0 };
    const n = rect(node);
    const bps = rate.rxBps + rate.txBps;
    if (v.core.contains(node)) {
      const fromRight = n.x > s.x;
      const x1 = fromRight ? s.x + s.w : s.x, x2 = fromRight ? n.x : n.x + n.w;
      edge(`M ${x1} ${s.y + s.h / 2} L ${x2} ${n.y + n.h / 2}`, node.dataset.kind, bps);
    } else {
      const x1 = s.x + s.w / 2, y1 = s.y + s.h, x2 = n.x + n.w / 2, y2 = n.y;
      const my = (y1 + y2) / 2;
      edge(`M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`, node.dataset.kind, bps);
    }
  }
  if (v.uplink && v.uplink.isConnected) {
    const gw = [...v.nodes.values()].find(x => x.dataset.kind === 'gateway');
    if (gw) {
      const a = rect(v.uplink), b = rect(gw);
      const p = document.createElementNS(SVG, 'path');
      p.setAttribute('d', `M ${a.x + a.w} ${a.y + a.h / 2} L ${b.x} ${b.y + b.h / 2}`);
      p.setAttribute('stroke-dasharray', '3 5');
      paths.push(p);
    }
  }
  v.svg.replaceChildren(...paths);
}

async function poll() {
  try {
    const response = await fetch('api/state', { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    render(await response.json());
    setStatus('live', 'live');
  } catch (e) {
    setStatus('down', 'daemon unreachable');
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

window.addEventListener('resize', () => { for (const v of views.values()) drawEdges(v); });
poll();
