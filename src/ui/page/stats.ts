// The selected object's call statistics, asked of its owner (through the viewer) every second while
// it is shown: per method calls, errors and latency percentiles, and the totals. Counts are the
// owner's, so calls from every process appear, not only this viewer's.

import type { ViewerMethodStats, ViewerStats } from '../shared/viewer.js';
import { fetchStats } from './api.js';
import { h } from './dom.js';

/** How often the figures are asked for while the object is shown. */
export const STATS_REFRESH_MS = 1000;

export class StatsPanel {
  readonly element: HTMLElement;
  readonly #moniker: string;
  readonly #body: HTMLElement;
  readonly #stop = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(moniker: string) {
    this.#moniker = moniker;
    this.#body = h('div', { class: 'stats-body muted small' }, 'asking the owner…');
    this.element = h('section', { class: 'stats', id: 'stats' }, h('h3', {}, 'Calls (all callers)'), this.#body);
    void this.#refresh();
  }

  /** Stops asking; what was shown stays. */
  stop(): void {
    this.#stop.abort();
    clearTimeout(this.#timer);
  }

  async #refresh(): Promise<void> {
    try {
      const answer = await fetchStats(this.#moniker, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      if ('error' in answer) {
        this.#body.className = 'stats-body muted small';
        this.#body.textContent = `no statistics: ${answer.error.code} ${answer.error.message}`;
      } else this.#show(answer.stats);
    } catch {
      if (this.#stop.signal.aborted) return;
      this.#body.textContent = 'the viewer could not be reached';
    }
    this.#timer = setTimeout(() => void this.#refresh(), STATS_REFRESH_MS);
  }

  #show(stats: ViewerStats): void {
    const row = (name: string, figures: ViewerMethodStats, total = false) =>
      h(
        'tr',
        { class: total ? 'stats-total' : 'stats-method', 'data-method': total ? '' : name },
        h('th', { scope: 'row' }, total ? 'all' : h('code', {}, name)),
        h('td', { class: 'calls' }, String(figures.calls)),
        h('td', { class: figures.errors > 0 ? 'errors bad' : 'errors' }, String(figures.errors)),
        h('td', { class: 'p50' }, duration(figures.p50, figures.calls)),
        h('td', { class: 'p90' }, duration(figures.p90, figures.calls)),
        h('td', { class: 'p99' }, duration(figures.p99, figures.calls)),
        h('td', { class: 'max' }, duration(figures.max, figures.calls)),
        h('td', { class: 'codes' }, errorCodes(figures)),
      );
    const table = h(
      'table',
      { class: 'stats-table', id: 'stats-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['method', 'calls', 'errors', 'p50', 'p90', 'p99', 'max', 'errors by code'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        ...Object.entries(stats.methods).map(([name, figures]) => row(name, figures)),
        row('', stats.total, true),
      ),
    );
    this.#body.className = 'stats-body';
    this.#body.replaceChildren(
      table,
      h('div', { class: 'muted small' }, `counted by pid ${stats.pid} since ${new Date(stats.since).toLocaleString()}`),
    );
  }
}

function errorCodes(figures: ViewerMethodStats): string {
  return Object.entries(figures.outcomes)
    .filter(([code]) => code !== 'ok')
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
}

/** "35µs", "4.2ms", "180ms", "2.50s"; "–" without calls. */
function duration(ms: number, calls: number): string {
  if (calls === 0) return '–';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}
