// Shared by the rich-call tests: the shape of test/fixtures/rich.ts's service, and starting it.
import fs from 'node:fs';
import path from 'node:path';
import type { Ref } from 'runtable';
import { type Fixture, spawnFixture } from '../helpers.ts';

export interface Counter {
  inc(by?: number): number;
  value(): number;
  measure(bytes: Uint8Array): number;
  _reset(): void;
}

/** What test/fixtures/rich.ts serves. */
export interface RichService {
  add(a: number, b: number): number;
  pid(): number;
  note(x: unknown): void;
  notes(): unknown[];
  failOneway(message: string): never;
  wait(ms: number, tag: string): Promise<string>;
  cancelled(): { tag: string; code: unknown }[];
  upload(bytes: Uint8Array, ms: number, tag: string): Promise<number>;
  started(): string[];
  tick(n: number, cb: (i: number) => string | Promise<string>): Promise<string[]>;
  keep(name: string, cb: (x: unknown) => unknown): string;
  fire(name: string, x: unknown): Promise<{ ok?: unknown; error?: string }>;
  drop(name: string): boolean;
  deep(arg: {
    a: { fn: (x: number) => number | Promise<number> };
    list: [number, { g: (s: string) => string | Promise<string> }];
  }): Promise<[number, string]>;
  counter(): Ref<Counter>;
  emitTicks(n: number): number[];
  touchMe(metadata: Record<string, unknown>): Promise<Date>;
  numbers(n: number, tag: string, delayMs?: number): AsyncGenerator<number>;
  numbersThenFail(n: number, message: string): AsyncGenerator<number>;
  produced(tag: string): number;
  finallyRan(tag: string): boolean;
  memory(): NodeJS.MemoryUsage;
  badResult(): { user: { session: Promise<string> } };
  weirdThrow(): Promise<never>;
  badItems(): AsyncGenerator<unknown>;
  weirdStream(): AsyncGenerator<number>;
  size(bytes: Uint8Array): number;
  bytes(n: number): Buffer;
}

export interface RichOwner extends Fixture {
  /** Everything the owner wrote to stderr so far. */
  stderr(): string;
}

/** Starts test/fixtures/rich.ts under `moniker` and waits for its "ready" line. */
export async function startRich(dir: string, moniker: string, env: NodeJS.ProcessEnv = {}): Promise<RichOwner> {
  const fixture = spawnFixture('rich', [moniker], dir, env);
  let stderr = '';
  fixture.child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  await fixture.waitForLine(/^ready \d+$/);
  return Object.assign(fixture, { stderr: () => stderr });
}

/** The owner's endpoint socket, found in the table directory by its name: o<pid>-*.sock. */
export function endpointOf(dir: string, pid: number): string {
  const names = fs.readdirSync(dir).filter((name) => name.startsWith(`o${pid}-`) && name.endsWith('.sock'));
  if (names.length !== 1) throw new Error(`expected one endpoint socket of ${pid} in ${dir}, found ${names}`);
  return path.join(dir, names[0] as string);
}
