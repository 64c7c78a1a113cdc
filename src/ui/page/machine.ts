// The picture of the machine: this viewer, the broker and every owner process with the objects
// it holds, as SVG. Lines show who talks to whom (each owner keeps a control connection to the
// broker; calls go straight from the viewer to the owner, never through the broker), labelled
// only with what is measured: the broker's own figures and the calls this viewer made.

import type { ViewerCounts, ViewerEntry } from '../shared/viewer.js';
import { plural, svg } from './dom.js';
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

export function renderMachine(
  container: HTMLElement,
  entries: ViewerEntry[],
  status: Status | undefined,
  counts: Record<string, ViewerCounts>,
  selected: string | undefined,
  select: (moniker: string) => void,
): void {
  const owners = new Map<number, ViewerEntry[]>();
  for (const entry of entries) owners.set(entry.pid, [...(owners.get(entry.pid) ?? []), entry]);

  let y = 16;
  const boxes = [...owners].map(([pid, objects]) => {
    const shown = Math.min(objects.length, OBJECTS_SHOWN) + (objects.length > OBJECTS_SHOWN ? 1 : 0);
    const box = { pid, objects, y, height: OWNER_HEAD + shown * OBJECT_LINE + 8 };
    y += box.height + OWNER_GAP;
    return box;
  });
  const height = Math.max(y + 8, BROKER.y + BROKER.height + VIEWER_SIZE.height + 90, 180);
  const viewer = { x: VIEWER_X, y: Math.max(BROKER.y + BROKER.height + 70, height / 2 - VIEWER_SIZE.height / 2) };

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
    const calls = box.objects.reduce((sum, entry) => sum + (counts[entry.moniker]?.calls ?? 0), 0);
    if (calls > 0) {
      const from = { x: viewerRight.x, y: viewerRight.y + 10 };
      const to = { x: OWNER_X, y: top + 6 };
      // Low until past the broker, then up to the owner: calls never go through the broker.
      const span = to.x - from.x;
      const d = `M${from.x},${from.y} C${from.x + span * 0.8},${from.y} ${to.x - span * 0.05},${to.y} ${to.x},${to.y}`;
      edges.append(svg('path', { d, class: 'edge calls' }));
      const events = box.objects.reduce((sum, entry) => sum + (counts[entry.moniker]?.events ?? 0), 0);
      const text = events > 0 ? `${plural(calls, 'call')}, ${plural(events, 'event')}` : plural(calls, 'call');
      // By the owner's end, where the lines of different owners have parted.
      edges.append(label(to.x - 10, to.y - 8, text, 'edge-label calls end'));
    }
    nodes.append(ownerNode(box, counts, selected, select));
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
  container.replaceChildren(root);
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
  counts: Record<string, ViewerCounts>,
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
    const count = counts[entry.moniker]?.calls ?? 0;
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
