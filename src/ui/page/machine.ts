// The picture of the machine: this viewer, the broker, every owner process with the objects it
// holds, and every other process calling them, as SVG. Lines show who talks to whom (each owner
// keeps a control connection to the broker; calls go straight from caller to owner, never through
// the broker), labelled only with what is measured: the broker's figures and the table's monitor.

import type { TrafficPair, ViewerCounts, ViewerEntry, ViewerTraffic } from '../shared/viewer.js';
import { clock, h, plural, svg } from './dom.js';
import type { Status } from './state.js';

const WIDTH = 860;
const NODE_WIDTH = 230;
const OWNER_X = WIDTH - NODE_WIDTH - 16;
const BROKER = { x: 320, y: 16, width: 200, height: 64 };
const VIEWER_X = 16;
const VIEWER_SIZE = { width: 190, height: 64 };
const OWNER_HEAD = 30;
const OBJECT_LINE = 20;
const OWNER_GAP = 14;
/** Objects drawn per owner; more are summed up in one line. */
const OBJECTS_SHOWN = 6;
const CALLER_SIZE = { width: 190, height: 54 };
const CALLER_GAP = 12;
/** Client processes drawn; the rest are summed up in one line. */
const CALLERS_SHOWN = 5;
/** Failures listed under the picture. */
const ERRORS_SHOWN = 5;
/** How far left of the owners a line between two owners bends. */
const OWNER_LOOP = 70;

/** Calls from one process to one owner process. */
interface Link {
  callerPid: number;
  ownerPid: number;
  calls: number;
  errors: number;
}

/** What the picture is drawn from, besides the entries. */
export interface Measured {
  /** Calls this viewer sent itself, in flight included (the monitor sees a call once it ends). */
  counts: Record<string, ViewerCounts>;
  /** Every call of the table, from the monitor. */
  traffic: ViewerTraffic;
}

export function renderMachine(
  container: HTMLElement,
  entries: ViewerEntry[],
  status: Status | undefined,
  measured: Measured,
  selected: string | undefined,
  select: (moniker: string) => void,
): void {
  const { counts, traffic } = measured;
  const owners = new Map<number, ViewerEntry[]>();
  for (const entry of entries) owners.set(entry.pid, [...(owners.get(entry.pid) ?? []), entry]);
  const viewerPid = status?.viewerPid;
  const shown = new Set(entries.map((entry) => entry.moniker));
  const pairs = traffic.pairs.filter((pair) => shown.has(pair.moniker));
  const links = linksOf(pairs, entries, counts, viewerPid);
  const perObject = callsPerObject(pairs, entries, counts, viewerPid);
  // Callers that are neither this viewer nor an owner drawn: clients, busiest first.
  const clients = [...new Set(links.map((link) => link.callerPid))]
    .filter((pid) => pid !== viewerPid && !owners.has(pid))
    .map((pid) => ({ pid, calls: links.filter((l) => l.callerPid === pid).reduce((sum, l) => sum + l.calls, 0) }))
    .sort((a, b) => b.calls - a.calls || a.pid - b.pid);

  let y = 16;
  const boxes = [...owners].map(([pid, objects]) => {
    const shown = Math.min(objects.length, OBJECTS_SHOWN) + (objects.length > OBJECTS_SHOWN ? 1 : 0);
    const box = { pid, objects, y, height: OWNER_HEAD + shown * OBJECT_LINE + 8 };
    y += box.height + OWNER_GAP;
    return box;
  });
  const clientsDrawn = clients.slice(0, CALLERS_SHOWN);
  const clientsHeight =
    clientsDrawn.length * (CALLER_SIZE.height + CALLER_GAP) + (clients.length > CALLERS_SHOWN ? 20 : 0);
  const viewerTop = BROKER.y + BROKER.height + 70;
  const height = Math.max(y + 8, viewerTop + VIEWER_SIZE.height + CALLER_GAP + clientsHeight + 20, 180);
  const viewer = {
    x: VIEWER_X,
    y: clients.length > 0 ? viewerTop : Math.max(viewerTop, height / 2 - VIEWER_SIZE.height / 2),
  };

  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`,
    width: '100%',
    role: 'img',
    'aria-label': `${plural(owners.size, 'owner process')} holding ${plural(entries.length, 'object')}`,
  });
  const edges = svg('g', { class: 'edges' });
  const nodes = svg('g', { class: 'nodes' });
  root.append(edges, nodes);

  // The viewer watches the table through the broker.
  const broker = status?.broker;
  const brokerLeft = { x: BROKER.x, y: BROKER.y + BROKER.height / 2 };
  const viewerRight = { x: viewer.x + VIEWER_SIZE.width, y: viewer.y + VIEWER_SIZE.height / 2 };
  if (broker) {
    edges.append(curve(viewerRight.x, viewer.y + 14, brokerLeft.x, brokerLeft.y, 'edge control'));
    edges.append(label((viewerRight.x + brokerLeft.x) / 2 - 18, (viewer.y + brokerLeft.y) / 2 - 6, 'watch'));
  }

  for (const box of boxes) {
    const top = box.y + OWNER_HEAD / 2;
    // Every owner holds a control connection to the broker, which its entries live on.
    if (broker)
      edges.append(curve(BROKER.x + BROKER.width, BROKER.y + BROKER.height / 2, OWNER_X, top, 'edge control'));
    nodes.append(ownerNode(box, perObject, selected, select));
  }

  // Where each caller's lines start: this viewer, a client's node, or an owner's own box.
  const starts = new Map<number, { x: number; y: number }>();
  if (viewerPid !== undefined) starts.set(viewerPid, { x: viewerRight.x, y: viewerRight.y + 10 });
  clientsDrawn.forEach((client, index) => {
    const top = viewer.y + VIEWER_SIZE.height + CALLER_GAP + index * (CALLER_SIZE.height + CALLER_GAP);
    starts.set(client.pid, { x: VIEWER_X + CALLER_SIZE.width, y: top + CALLER_SIZE.height / 2 });
    nodes.append(callerNode(client.pid, client.calls, VIEWER_X, top));
  });
  if (clients.length > CALLERS_SHOWN) {
    const more = clients.slice(CALLERS_SHOWN);
    const calls = more.reduce((sum, client) => sum + client.calls, 0);
    const y = viewer.y + VIEWER_SIZE.height + CALLER_GAP + clientsHeight - 8;
    nodes.append(
      label(VIEWER_X + 4, y, `+${plural(more.length, 'other caller')}, ${plural(calls, 'call')}`, 'object-more'),
    );
  }
  const ownerTop = new Map(boxes.map((box) => [box.pid, box.y + OWNER_HEAD / 2]));
  // Several lines into one owner: their labels stack by its end instead of overwriting each other.
  const labelsAt = new Map<number, number>();
  for (const link of links) {
    const top = ownerTop.get(link.ownerPid);
    if (top === undefined || link.callerPid === link.ownerPid) continue;
    const to = { x: OWNER_X, y: top + 6 };
    const callerTop = ownerTop.get(link.callerPid);
    let d: string;
    if (callerTop !== undefined && link.callerPid !== viewerPid) {
      // One owner calling another: a loop out to the left of the owners and back.
      const from = { x: OWNER_X, y: callerTop + 10 };
      d = `M${from.x},${from.y} C${from.x - OWNER_LOOP},${from.y} ${to.x - OWNER_LOOP},${to.y} ${to.x},${to.y}`;
    } else {
      const from = starts.get(link.callerPid);
      if (!from) continue;
      // Low until past the broker, then up to the owner: calls never go through the broker.
      const span = to.x - from.x;
      d = `M${from.x},${from.y} C${from.x + span * 0.8},${from.y} ${to.x - span * 0.05},${to.y} ${to.x},${to.y}`;
    }
    const failing = link.errors > 0 ? ' failing' : '';
    edges.append(svg('path', { d, class: `edge calls${failing}` }));
    let text = plural(link.calls, 'call');
    if (link.errors > 0) text += `, ${link.errors} failed`;
    if (link.callerPid === viewerPid) {
      const box = boxes.find((b) => b.pid === link.ownerPid);
      const events = box?.objects.reduce((sum, entry) => sum + (counts[entry.moniker]?.events ?? 0), 0) ?? 0;
      if (events > 0) text += `, ${plural(events, 'event')}`;
    }
    const stacked = labelsAt.get(link.ownerPid) ?? 0;
    labelsAt.set(link.ownerPid, stacked + 1);
    // By the owner's end, where the lines of different owners have parted.
    const tag = label(to.x - 10, to.y - 8 - stacked * 14, text, `edge-label calls end${failing}`);
    tag.setAttribute('data-caller', String(link.callerPid));
    tag.setAttribute('data-owner', String(link.ownerPid));
    edges.append(tag);
  }

  nodes.append(
    node(
      BROKER.x,
      BROKER.y,
      BROKER.width,
      BROKER.height,
      broker ? 'node broker' : 'node broker absent',
      namesNode(status?.backend ?? 'broker', broker ?? null),
    ),
    node(viewer.x, viewer.y, VIEWER_SIZE.width, VIEWER_SIZE.height, 'node viewer', [
      `this viewer  pid ${status?.viewerPid ?? '?'}`,
      'calls go straight to owners',
    ]),
  );
  if (entries.length === 0) {
    nodes.append(label(OWNER_X, 40, broker ? 'no objects registered' : '', 'empty-label'));
  }
  container.replaceChildren(root, trafficNotes(traffic, viewerPid));
}

/** Calls per caller and owner process: the monitor's, and for this viewer at least what it sent. */
function linksOf(
  pairs: TrafficPair[],
  entries: ViewerEntry[],
  counts: Record<string, ViewerCounts>,
  viewerPid: number | undefined,
): Link[] {
  const links = new Map<string, Link>();
  const add = (callerPid: number, ownerPid: number, calls: number, errors: number) => {
    const key = `${callerPid}:${ownerPid}`;
    const link = links.get(key) ?? { callerPid, ownerPid, calls: 0, errors: 0 };
    link.calls += calls;
    link.errors += errors;
    links.set(key, link);
  };
  for (const pair of pairs) add(pair.callerPid, pair.ownerPid, pair.calls, pair.errors);
  if (viewerPid !== undefined) {
    for (const entry of entries) {
      const sent = counts[entry.moniker]?.calls ?? 0;
      const seen = pairs.find((pair) => pair.callerPid === viewerPid && pair.moniker === entry.moniker)?.calls ?? 0;
      if (sent > seen) add(viewerPid, entry.pid, sent - seen, 0);
    }
  }
  return [...links.values()];
}

/** Calls to each object from every caller (this viewer's in flight included). */
function callsPerObject(
  pairs: TrafficPair[],
  entries: ViewerEntry[],
  counts: Record<string, ViewerCounts>,
  viewerPid: number | undefined,
): Map<string, number> {
  const calls = new Map<string, number>();
  for (const pair of pairs) calls.set(pair.moniker, (calls.get(pair.moniker) ?? 0) + pair.calls);
  for (const entry of entries) {
    const sent = counts[entry.moniker]?.calls ?? 0;
    const seen = pairs.find((pair) => pair.callerPid === viewerPid && pair.moniker === entry.moniker)?.calls ?? 0;
    if (sent > seen) calls.set(entry.moniker, (calls.get(entry.moniker) ?? 0) + sent - seen);
  }
  return calls;
}

/** Under the picture: the latest failures, and the calls the monitor could not keep up with. */
function trafficNotes(traffic: ViewerTraffic, viewerPid: number | undefined): HTMLElement {
  const notes = h('div', { class: 'traffic-notes' });
  if (traffic.errors.length > 0) {
    const list = h('ul', { id: 'recent-errors', class: 'recent-errors', 'aria-label': 'Latest failed calls' });
    for (const error of traffic.errors.slice(0, ERRORS_SHOWN)) {
      const caller = error.callerPid === viewerPid ? 'this viewer' : `pid ${error.callerPid}`;
      list.append(
        h(
          'li',
          { class: 'recent-error', 'data-caller': error.callerPid, 'data-moniker': error.moniker },
          h('span', { class: 'muted' }, clock(new Date(error.at))),
          ` ${caller} → ${error.moniker}.${error.method || '(callback)'} `,
          h('span', { class: 'error-code' }, error.outcome),
        ),
      );
    }
    notes.append(list);
  }
  if (traffic.missed > 0) {
    notes.append(
      h('p', { class: 'muted small missed' }, `${plural(traffic.missed, 'call')} not seen: the viewer read too slowly`),
    );
  }
  return notes;
}

function callerNode(pid: number, calls: number, x: number, y: number): SVGGElement {
  const group = node(x, y, CALLER_SIZE.width, CALLER_SIZE.height, 'node caller', [
    `client  pid ${pid}`,
    `${plural(calls, 'call')} seen`,
  ]);
  group.setAttribute('data-pid', String(pid));
  group.append(svg('title', {}, `process ${pid}: ${plural(calls, 'call')} seen by the monitor`));
  return group;
}

/** Where the names live: the broker process, or etcd (which has no pid; its connections are this viewer's watches). */
function namesNode(backend: 'broker' | 'etcd', broker: Status['broker']): string[] {
  if (backend === 'etcd') {
    return broker ? ['etcd', plural(broker.entries, 'entry')] : ['etcd not answering', 'trying again'];
  }
  return broker
    ? [`broker  pid ${broker.pid}`, `${plural(broker.connections, 'connection')} · ${plural(broker.entries, 'entry')}`]
    : ['no broker running', 'waiting for one'];
}

function ownerNode(
  box: { pid: number; objects: ViewerEntry[]; y: number; height: number },
  calls: Map<string, number>,
  selected: string | undefined,
  select: (moniker: string) => void,
): SVGGElement {
  const group = svg('g', { class: 'owner', 'data-pid': box.pid });
  group.append(
    svg('rect', { x: OWNER_X, y: box.y, width: NODE_WIDTH, height: box.height, rx: 10, class: 'node-box owner-box' }),
    svg('text', { x: OWNER_X + 12, y: box.y + 20, class: 'node-title' }, `owner  pid ${box.pid}`),
  );
  box.objects.slice(0, OBJECTS_SHOWN).forEach((entry, index) => {
    const y = box.y + OWNER_HEAD + index * OBJECT_LINE;
    const count = calls.get(entry.moniker) ?? 0;
    const row = svg('g', {
      class: entry.moniker === selected ? 'object selected' : 'object',
      'data-moniker': entry.moniker,
    });
    row.append(
      svg('rect', {
        x: OWNER_X + 6,
        y: y - 2,
        width: NODE_WIDTH - 12,
        height: OBJECT_LINE - 2,
        rx: 5,
        class: 'object-box',
      }),
      svg('circle', { cx: OWNER_X + 16, cy: y + 7, r: 3.5, class: 'object-dot' }),
      svg('text', { x: OWNER_X + 26, y: y + 11, class: 'object-name' }, truncate(entry.moniker, count > 0 ? 22 : 28)),
    );
    if (count > 0)
      row.append(svg('text', { x: OWNER_X + NODE_WIDTH - 14, y: y + 11, class: 'object-count' }, `${count}×`));
    row.append(svg('title', {}, `${entry.moniker}\n${entry.methods.join(', ')}`));
    row.addEventListener('click', () => select(entry.moniker));
    group.append(row);
  });
  if (box.objects.length > OBJECTS_SHOWN) {
    const y = box.y + OWNER_HEAD + OBJECTS_SHOWN * OBJECT_LINE;
    group.append(
      svg('text', { x: OWNER_X + 26, y: y + 11, class: 'object-more' }, `+${box.objects.length - OBJECTS_SHOWN} more`),
    );
  }
  return group;
}

function node(x: number, y: number, width: number, height: number, className: string, lines: string[]): SVGGElement {
  const group = svg('g', { class: className });
  group.append(svg('rect', { x, y, width, height, rx: 10, class: 'node-box' }));
  lines.forEach((line, index) => {
    group.append(
      svg('text', { x: x + 12, y: y + 24 + index * 20, class: index === 0 ? 'node-title' : 'node-sub' }, line),
    );
  });
  return group;
}

function curve(x1: number, y1: number, x2: number, y2: number, className: string): SVGPathElement {
  const dx = (x2 - x1) / 2;
  return svg('path', { d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`, class: className });
}

function label(x: number, y: number, text: string, className = 'edge-label'): SVGTextElement {
  return svg('text', { x, y, class: className }, text);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
