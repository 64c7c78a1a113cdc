// Workloads (e) to (g): runtable's broker against D-Bus's own name registry, in the same run and
// with the same counts. Owners are connections of this process (100 Tables, 100 buses); the
// owner that is killed in (f) is a peer process. Every figure is checked: all names listed, the
// right owner looked up, the killed owner's entry gone.

import type { MessageBus } from 'dbus-next';
import { NameFlag, RequestNameReply } from 'dbus-next';
import type { Table, TableEvent } from 'runtable';
import { Inbox, median } from './measure.ts';
import { callBus, connectBus, uniqueName } from './peers/dbus.ts';
import { echoObject, openTable } from './peers/runtable.ts';
import { kill, rssMiB, spawnPeer, startDbusDaemon, tempDir, track } from './procs.ts';

export interface NamingCounts {
  owners: number;
  perOwner: number;
  lookups: number;
  watches: number;
}

/** ms for registering and listing; µs for one lookup; ms for watch and kill; MiB for RSS. */
export interface NamingFigures {
  register: number;
  /** The first three Lists a new registry answers: its code not yet warm (a broker's JIT). */
  list: number;
  /** Lists after five untimed ones, on both sides, once the RSS is read: the steady cost. */
  listWarm: number;
  /**
   * Names only (runtable's listNames; ListNames and the same filter on D-Bus): the first three
   * a registry answers, after every other figure, so that none of those changes.
   */
  names: number;
  /** Names only, after five untimed ones: the steady cost. */
  namesWarm: number;
  lookup: number;
  watch: number;
  kill: number;
  rss: number;
  /** What the entries themselves added to the RSS: after registering less before. */
  rssGrowth: number;
}

const ms = () => performance.now();

/** Times `repeat` runs of `fn` and returns the median, in ms. */
async function timed(repeat: number, fn: (i: number) => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const start = ms();
    await fn(i);
    times.push(ms() - start);
  }
  return median(times);
}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

export async function namingRuntable(counts: NamingCounts): Promise<NamingFigures> {
  const dir = tempDir('naming');
  const client = await openTable(dir);
  const owners: Table[] = [];
  try {
    for (let i = 0; i < counts.owners; i++) owners.push(await openTable(dir));
    const brokerPid = (await client.status()).pid;
    const rssBefore = rssMiB(brokerPid);
    const total = counts.owners * counts.perOwner;
    const register = await timed(1, () =>
      Promise.all(
        owners.map(async (owner, i) => {
          for (let j = 0; j < counts.perOwner; j++) await owner.register(`bench/o${i}/m${j}`, echoObject);
        }),
      ).then(() => {}),
    );
    const listAll = async () => {
      const entries = await client.list('bench/');
      expect(entries.length === total, `list found ${entries.length} of ${total} entries`);
    };
    const list = await timed(3, listAll);
    const lookup = await timed(counts.lookups, async (k) => {
      const moniker = `bench/o${k % counts.owners}/m${k % counts.perOwner}`;
      expect((await client.lookup(moniker))?.moniker === moniker, `lookup of ${moniker} failed`);
    });

    const events = new Inbox<TableEvent>();
    const watcher = client.watch('watch/');
    void (async () => {
      for await (const event of watcher) events.push(event);
    })().catch(() => {});
    const seen = (type: string, moniker: string) =>
      events.wait((e) => e.type === type && e.entry.moniker === moniker, 10_000, `${type} ${moniker}`);
    const first = owners[0] as Table;
    // A first name seen means the watch is established before anything is timed.
    await Promise.all([first.register('watch/ready', echoObject), seen('registered', 'watch/ready')]);
    const watch = await timed(counts.watches, async (k) => {
      await Promise.all([first.register(`watch/w${k}`, echoObject), seen('registered', `watch/w${k}`)]);
    });

    const peer = await spawnPeer('runtable', ['serve', dir, 'watch/victim'], { bundled: true });
    await seen('registered', 'watch/victim');
    const start = ms();
    kill(peer.pid);
    await seen('revoked', 'watch/victim');
    const killed = ms() - start;
    expect((await client.lookup('watch/victim')) === undefined, 'the killed owner is still listed');
    await watcher.return();

    const rss = rssMiB(brokerPid);
    // After the RSS is read, so that these Lists' buffers are not counted in it as before.
    await timed(5, listAll);
    const listWarm = await timed(5, listAll);
    const namesAll = async () => {
      const names = await client.listNames('bench/');
      expect(names.length === total, `listNames found ${names.length} of ${total} names`);
      expect(names[0] === 'bench/o0/m0', `listNames began with ${names[0]}`);
    };
    const names = await timed(3, namesAll);
    await timed(5, namesAll);
    const namesWarm = await timed(5, namesAll);
    return {
      register,
      list,
      listWarm,
      names,
      namesWarm,
      lookup: lookup * 1000,
      watch,
      kill: killed,
      rss,
      rssGrowth: rss - rssBefore,
    };
  } finally {
    await Promise.all(owners.map((owner) => owner.close().catch(() => {})));
    const { pid } = await client.status().catch(() => ({ pid: 0 }));
    await client.close().catch(() => {});
    if (pid) kill(pid);
  }
}

export async function namingDbus(counts: NamingCounts): Promise<NamingFigures> {
  const daemon = await startDbusDaemon();
  const buses: MessageBus[] = [];
  try {
    const client = await connectBus(daemon.address);
    buses.push(client);
    const owners: MessageBus[] = [];
    for (let i = 0; i < counts.owners; i++) owners.push(await connectBus(daemon.address));
    buses.push(...owners);
    const rssBefore = rssMiB(daemon.pid);
    const total = counts.owners * counts.perOwner;
    const claim = async (bus: MessageBus, name: string) => {
      const reply = await bus.requestName(name, NameFlag.DO_NOT_QUEUE);
      expect(reply === RequestNameReply.PRIMARY_OWNER, `RequestName ${name} answered ${reply}`);
    };
    const register = await timed(1, () =>
      Promise.all(
        owners.map(async (owner, i) => {
          for (let j = 0; j < counts.perOwner; j++) await claim(owner, `org.runtable.bench.o${i}.m${j}`);
        }),
      ).then(() => {}),
    );
    const listAll = async () => {
      const [names] = (await callBus(client, 'ListNames')) as [string[]];
      const found = names.filter((name) => name.startsWith('org.runtable.bench.')).length;
      expect(found === total, `ListNames found ${found} of ${total} names`);
    };
    const list = await timed(3, listAll);
    const lookup = await timed(counts.lookups, async (k) => {
      const i = k % counts.owners;
      const [owner] = await callBus(client, 'GetNameOwner', 's', [`org.runtable.bench.o${i}.m${k % counts.perOwner}`]);
      expect(owner === uniqueName(owners[i] as MessageBus), `GetNameOwner answered ${owner}`);
    });

    const events = new Inbox<{ name: string; owner: string }>();
    const watcher = await connectBus(daemon.address);
    buses.push(watcher);
    watcher.on('message', (message) => {
      if (message.member === 'NameOwnerChanged' && message.sender === 'org.freedesktop.DBus') {
        const [name, , owner] = message.body as [string, string, string];
        events.push({ name, owner });
      }
    });
    const rule =
      "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0namespace='org.runtable.watch'";
    await callBus(watcher, 'AddMatch', 's', [rule]);
    const seen = (name: string, gone = false) =>
      events.wait((e) => e.name === name && (e.owner === '') === gone, 10_000, `NameOwnerChanged ${name}`);
    const first = owners[0] as MessageBus;
    await Promise.all([claim(first, 'org.runtable.watch.ready'), seen('org.runtable.watch.ready')]);
    const watch = await timed(counts.watches, async (k) => {
      await Promise.all([claim(first, `org.runtable.watch.w${k}`), seen(`org.runtable.watch.w${k}`)]);
    });

    const victim = 'org.runtable.watch.victim';
    const peer = await spawnPeer('dbus', [daemon.address, victim], { bundled: true });
    await seen(victim);
    const start = ms();
    kill(peer.pid);
    await seen(victim, true);
    const killed = ms() - start;
    const gone = await callBus(client, 'GetNameOwner', 's', [victim]).then(
      () => false,
      () => true,
    );
    expect(gone, 'the killed owner still owns its name');

    const rss = rssMiB(daemon.pid);
    await timed(5, listAll);
    const listWarm = await timed(5, listAll);
    // ListNames is already names only: the same call and filter, timed where runtable's listNames is.
    const names = await timed(3, listAll);
    await timed(5, listAll);
    const namesWarm = await timed(5, listAll);
    return {
      register,
      list,
      listWarm,
      names,
      namesWarm,
      lookup: lookup * 1000,
      watch,
      kill: killed,
      rss,
      rssGrowth: rss - rssBefore,
    };
  } finally {
    for (const bus of buses) bus.disconnect();
    daemon.stop();
  }
}

/** (g) connect() with no broker running until a first call is done, in a fresh process, ms. */
export async function coldStart(): Promise<number> {
  const peer = await spawnPeer('runtable', ['cold', tempDir('cold')]);
  const { ms: elapsed, brokerPid } = JSON.parse(peer.info) as { ms: number; brokerPid: number };
  track(brokerPid);
  kill(brokerPid);
  peer.stop();
  return elapsed;
}
