// Collects each round's figures and prints them: per workload and transport the median of the
// rounds with min and max, and the ratio of that median to the reference's (the raw socket for
// calls, D-Bus for naming). Also writes them as JSON for docs/PERFORMANCE.md and for CI.

import fs from 'node:fs';
import os from 'node:os';
import { median } from './measure.ts';

export interface Workload {
  id: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  /** The transport whose figure the others are divided by; none for cold start. */
  ref?: string;
}

export interface Figure {
  workload: string;
  label: string;
  transport: string;
  unit: string;
  better: 'lower' | 'higher';
  median: number;
  min: number;
  max: number;
  rounds: number[];
  ref?: string;
  ratio?: number;
}

export class Results {
  readonly #workloads: Workload[] = [];
  readonly #values = new Map<string, Map<string, number[]>>();
  /** Why a transport has no figure for a workload. */
  readonly notes: { workload: string; transport: string; note: string }[] = [];
  readonly failures: { workload: string; transport: string; error: string }[] = [];

  define(workload: Workload): void {
    this.#workloads.push(workload);
    this.#values.set(workload.id, new Map());
  }

  add(workload: string, transport: string, value: number): void {
    if (!Number.isFinite(value)) throw new Error(`${workload} for ${transport} is not a number: ${value}`);
    const byTransport = this.#values.get(workload);
    if (!byTransport) throw new Error(`unknown workload ${workload}`);
    const values = byTransport.get(transport) ?? [];
    values.push(value);
    byTransport.set(transport, values);
  }

  note(workload: string, transport: string, note: string): void {
    if (!this.notes.some((n) => n.workload === workload && n.transport === transport)) {
      this.notes.push({ workload, transport, note });
    }
  }

  fail(workload: string, transport: string, error: unknown): void {
    const text = error instanceof Error ? error.message : String(error);
    this.failures.push({ workload, transport, error: text });
    console.error(`FAILED ${transport} / ${workload}: ${text}`);
  }

  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const workload of this.#workloads) {
      const byTransport = this.#values.get(workload.id) ?? new Map<string, number[]>();
      const refValues = workload.ref ? byTransport.get(workload.ref) : undefined;
      const refMedian = refValues ? median(refValues) : undefined;
      for (const [transport, rounds] of byTransport) {
        const value = median(rounds);
        figures.push({
          workload: workload.id,
          label: workload.label,
          transport,
          unit: workload.unit,
          better: workload.better,
          median: value,
          min: Math.min(...rounds),
          max: Math.max(...rounds),
          rounds,
          ...(workload.ref ? { ref: workload.ref } : {}),
          ...(refMedian ? { ratio: value / refMedian } : {}),
        });
      }
    }
    return figures;
  }

  /** The table as text: one block per workload, the reference first. */
  table(): string {
    const figures = this.figures();
    const header = ['workload', 'transport', 'median', 'min', 'max', 'unit', 'x ref'];
    const rows: string[][] = [];
    for (const workload of this.#workloads) {
      const block = figures.filter((f) => f.workload === workload.id);
      block.sort((a, b) => Number(b.transport === workload.ref) - Number(a.transport === workload.ref));
      for (const [i, f] of block.entries()) {
        const ratio =
          f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}${f.transport === workload.ref ? ' (ref)' : ''}`;
        rows.push([i === 0 ? workload.label : '', f.transport, num(f.median), num(f.min), num(f.max), f.unit, ratio]);
      }
      for (const n of this.notes.filter((n) => n.workload === workload.id)) {
        rows.push([block.length ? '' : workload.label, n.transport, 'n/a', '', '', '', n.note]);
      }
    }
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
    const numeric = new Set([2, 3, 4]);
    const line = (cells: string[]) =>
      cells
        .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
        .join('  ')
        .trimEnd();
    return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
  }

  writeJson(file: string, options: Record<string, unknown>): void {
    const report = {
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cpus: os.availableParallelism(),
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.type()} ${os.release()}`,
        loadAverage: os.loadavg(),
      },
      options,
      figures: this.figures(),
      notes: this.notes,
      failures: this.failures,
    };
    fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  }
}

function num(value: number): string {
  if (value >= 10_000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
