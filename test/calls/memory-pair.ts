// Both ends of a call connection in this process, over the in-memory transport pair
// (src/transport/memory.ts): an owner's Endpoint, a client's Peers, and typed proxies between
// them, with no broker and no child process. leakCheck() is what each test ends with: nothing
// left on either side (requests, running calls, references, streams, subscriptions, timers).
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Remote } from 'runtable';
import { Endpoint } from '../../src/calls/endpoint.ts';
import { exposedMethods } from '../../src/calls/exposure.ts';
import { Peers } from '../../src/calls/peers.ts';
import { createRemote } from '../../src/calls/proxy.ts';
import type { CallSession } from '../../src/calls/session.ts';
import type { CallSettings } from '../../src/calls/settings.ts';
import { heldCount } from '../../src/transport/keep-alive.ts';
import { memoryNetwork } from '../../src/transport/memory.ts';
import { DEFAULT_LIMITS, type Limits } from '../../src/wire/limits.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** How long the leak check waits for releases and cancels to travel and settle. */
const SETTLE_MS = 5_000;
/**
 * Timers that live on past the work by design, one each: the process's keep-alive anchor
 * (unref'd while nothing is held; heldCount is checked instead), a connection's one shared
 * request timer, disarmed lazily when it fires rather than on every answer (pending.ts; the
 * requests themselves are checked), and its one stall timer for transfers being received, left
 * to lapse likewise (chunks.ts; the transfers being received are checked, `receiving`). Any
 * other timer left over is a leak.
 */
const LONG_LIVED_TIMERS = [/^hold \(.*keep-alive\.ts/, /^PendingRequests\.#arm /, /^ChunkAssembler\.#arm /];

/** The first frame of runtable's own code (or else of anything) on the stack: where a timer was made. */
function madeAt(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(2);
  const ours = frames.find((line) => line.includes('/src/')) ?? frames.find((line) => !line.includes('node:')) ?? '';
  return ours.trim().replace(/^at /, '');
}

export interface MemoryPair {
  endpoint: Endpoint;
  network: ReturnType<typeof memoryNetwork>;
  /** Serves `object` under `moniker`; returns its object id. */
  register(moniker: string, object: object): number;
  /** A proxy of object `id`, as table.get() would make it. */
  get<T>(moniker: string, id: number): Remote<T>;
  /** The client's session to the endpoint (opened on first use). */
  client(): Promise<CallSession>;
  /** Asserts that both sides hold nothing, once what is on its way has settled. */
  leakCheck(): Promise<void>;
  close(): Promise<void>;
}

export async function memoryPair(options: { limits?: Partial<Limits>; timeout?: number } = {}): Promise<MemoryPair> {
  // Timers made from here on (by either side) must all be gone at the leak check.
  // Each with where it was made, for the leak check's message.
  const timers = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const where = madeAt();
      if (!LONG_LIVED_TIMERS.some((pattern) => pattern.test(where))) timers.set(id, where);
    },
    destroy(id) {
      timers.delete(id);
    },
  }).enable();
  const heldAtStart = heldCount();
  const network = memoryNetwork();
  const settings: CallSettings = {
    timeout: options.timeout ?? 10_000,
    debug: false,
    token: 'a token both sides share',
    network,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
  };
  const endpoint = await Endpoint.open(settings);
  const peers = new Peers(settings);
  const client = () => peers.connect(endpoint.address, process.pid);

  const held = async (): Promise<Record<string, number>> => {
    const sides: [string, CallSession][] = [
      ['client', await client()],
      ...endpoint.sessions.map((session, index): [string, CallSession] => [`owner ${index}`, session]),
    ];
    const busy: Record<string, number> = {};
    for (const [side, session] of sides) {
      for (const [name, count] of Object.entries(session.outstanding)) if (count !== 0) busy[`${side} ${name}`] = count;
    }
    if (heldCount() !== heldAtStart) busy['process holds (keep-alive.ts)'] = heldCount() - heldAtStart;
    for (const where of timers.values()) busy[`timer made ${where}`] = (busy[`timer made ${where}`] ?? 0) + 1;
    return busy;
  };

  return {
    endpoint,
    network,
    register: (moniker, object) => endpoint.add(object, exposedMethods(object), moniker),
    get: <T>(moniker: string, id: number) =>
      createRemote<T>(moniker, async () => ({ session: await client(), object: id, pid: process.pid }), false),
    client,
    async leakCheck() {
      const deadline = Date.now() + SETTLE_MS;
      let busy = await held();
      while (Object.keys(busy).length > 0 && Date.now() < deadline) {
        // Imports are released when collected, and their Release travels a turn later.
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        busy = await held();
      }
      assert.deepEqual(busy, {}, 'something was left on one side of the pair');
    },
    async close() {
      hook.disable();
      peers.close();
      await endpoint.close();
    },
  };
}
