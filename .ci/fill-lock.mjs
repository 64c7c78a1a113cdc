// Adds lock entries for optional platform binaries that the registry here does not serve (it has
// only linux-x64 builds), so that npm ci accepts the lock. Run after any dependency change:
//   npm install && node .ci/fill-lock.mjs package-lock.json
import fs from 'node:fs';

const file = process.argv[2];
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [key, entry] of Object.entries(pkgs)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const at = `node_modules/${name}`;
    if (pkgs[at] || pkgs[`${key}/node_modules/${name}`]) continue;
    const m =
      /(android|darwin|linux|win32|freebsd|openbsd|sunos|aix|netbsd)-(arm64|x64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el)(-(musl|gnu|msvc|gnueabihf))?$/.exec(
        name,
      );
    const rec = { version: range.replace(/^[\^~=]/, ''), optional: true };
    if (entry.dev) rec.dev = true;
    if (m) {
      rec.os = [m[1]];
      rec.cpu = [m[2]];
      if (m[4] === 'musl') rec.libc = ['musl'];
    }
    pkgs[at] = rec;
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log('added', added);
