// Whether a process still exists. Used to break a dead starter's lock, to sweep a dead owner's
// socket files and to judge entries missing after a broker restart.

import fs from 'node:fs';

export function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, it just isn't ours.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A process that has exited but not been reaped still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Fields of /proc/<pid>/stat after the command name; undefined off Linux or for a gone pid. */
function statFields(pid: number): string[] | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When the process started, in clock ticks since boot (Linux): with the pid, it names one
 * process, so a pid reused by another program is not taken for the one we started.
 */
export function processStart(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** The process group of `pid` (Linux), to recognise the children of a command we started. */
export function processGroup(pid: number): number | undefined {
  const group = statFields(pid)?.[2];
  return group === undefined ? undefined : Number(group);
}
