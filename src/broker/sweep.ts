// Endpoint socket files of owners that died: a killed process cannot remove its own, so the
// broker does, for the owners it saw leave and, at start, for any left from before. It removes
// only files named for a process that no longer exists.

import fs from 'node:fs';
import path from 'node:path';
import { isAlive } from '../naming/liveness.js';
import type { WireEntry } from '../wire/protocol.js';

/** After an owner's connection closes, when to look whether its process is gone. */
const SWEEP_DELAYS_MS = [10, 50, 200, 1000, 5000];

/** Removes endpoint sockets of owners that died while no broker ran; returns how many are alive. */
export function sweepDeadEndpoints(dir: string): number {
  let alive = 0;
  for (const name of fs.readdirSync(dir)) {
    const pid = /^o(\d+)-\d+\.sock$/.exec(name)?.[1];
    if (!pid) continue;
    if (isAlive(Number(pid))) alive++;
    else fs.rmSync(path.join(dir, name), { force: true });
  }
  return alive;
}

/**
 * A dead owner's endpoint socket file would linger in the table directory: remove it. Its
 * connection closes while the process is still exiting, so look again a few times.
 */
export function sweepEndpoints(dir: string, pid: number, revoked: WireEntry[], attempt = 0): void {
  if (isAlive(pid)) {
    if (attempt < SWEEP_DELAYS_MS.length) {
      setTimeout(() => sweepEndpoints(dir, pid, revoked, attempt + 1), SWEEP_DELAYS_MS[attempt]).unref();
    }
    return;
  }
  for (const endpoint of new Set(revoked.map((entry) => entry.endpoint))) {
    if (path.dirname(endpoint) !== dir || !path.basename(endpoint).startsWith(`o${pid}-`)) continue;
    fs.rmSync(endpoint, { force: true });
  }
}
