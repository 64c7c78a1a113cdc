// Whether a process still exists. Used to break a dead starter's lock, to sweep a dead owner's
// socket files and to judge entries missing after a broker restart.

export function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it just isn't ours.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
