// The references one connection's two ends handed each other: functions and ref() objects this
// side exported (and may be called through), and those it imported (local stand-ins that call
// back). An export lives until the peer has released every copy it received; an import is
// released when it is garbage collected here, but never while a call through it is on its way.

import { RuntableError } from '../errors.js';
import { RefKind } from '../wire/codec.js';
import { exposedMethods } from './exposure.js';

/** References one connection may hold exported at once. */
export const MAX_EXPORTED_REFERENCES = 100_000;

export interface Exported {
  kind: RefKind;
  value: object;
  /** For ref() objects: the methods the peer may call. */
  methods?: ReadonlySet<string>;
  /** Times sent; the peer releases them all before the reference is freed. */
  count: number;
}

export class References {
  readonly #exports = new Map<number, Exported>();
  readonly #exportIds = new Map<object, number>();
  readonly #nextId: () => number;
  readonly #imports = new Map<number, WeakRef<object>>();
  readonly #importCounts = new Map<number, number>();
  readonly #collected = new FinalizationRegistry<number>((id) => this.#release(id));
  /** Calls in flight per imported reference, and references to release once they end. */
  readonly #invoking = new Map<number, number>();
  readonly #releaseWhenIdle = new Set<number>();
  /** Tells the peer it may free `count` copies of its reference `ref`. */
  readonly #sendRelease: (ref: number, count: number) => void;

  constructor(nextId: () => number, sendRelease: (ref: number, count: number) => void) {
    this.#nextId = nextId;
    this.#sendRelease = sendRelease;
  }

  /** Exports a function or ref() object; the same value keeps the same id. */
  export(kind: RefKind, value: object): unknown[] {
    let id = this.#exportIds.get(value);
    let exported = id === undefined ? undefined : this.#exports.get(id);
    if (!exported) {
      if (this.#exports.size >= MAX_EXPORTED_REFERENCES) {
        throw new RuntableError('BAD_ARGUMENT', `more than ${MAX_EXPORTED_REFERENCES} references held by one peer`);
      }
      id = this.#nextId();
      exported = { kind, value, count: 0 };
      if (kind === RefKind.Object) exported.methods = new Set(exposedMethods(value));
      this.#exports.set(id, exported);
      this.#exportIds.set(value, id);
    }
    exported.count++;
    return kind === RefKind.Object ? [kind, id, [...(exported.methods ?? [])]] : [kind, id];
  }

  exported(ref: number): Exported | undefined {
    return this.#exports.get(ref);
  }

  /** The peer released `count` copies of `ref`. */
  unexport(ref: number, count: number): void {
    const exported = this.#exports.get(ref);
    if (!exported) return;
    exported.count -= count;
    if (exported.count > 0) return;
    this.#exports.delete(ref);
    this.#exportIds.delete(exported.value);
  }

  /** The local stand-in for the peer's reference `id`, made by `make` the first time. */
  import(id: number, make: () => object): object {
    this.#importCounts.set(id, (this.#importCounts.get(id) ?? 0) + 1);
    const known = this.#imports.get(id)?.deref();
    if (known) return known;
    const made = make();
    this.#imports.set(id, new WeakRef(made));
    this.#collected.register(made, id);
    return made;
  }

  /** Runs a call through imported reference `ref`, holding back its release until it ends. */
  async through<T>(ref: number, call: () => Promise<T>): Promise<T> {
    this.#invoking.set(ref, (this.#invoking.get(ref) ?? 0) + 1);
    try {
      return await call();
    } finally {
      const left = (this.#invoking.get(ref) ?? 1) - 1;
      if (left > 0) this.#invoking.set(ref, left);
      else {
        this.#invoking.delete(ref);
        if (this.#releaseWhenIdle.delete(ref)) this.#release(ref);
      }
    }
  }

  /** What is held now, for the leak checks of the tests: all zero once the peers are done. */
  get held(): { exported: number; imported: number; invoking: number } {
    return { exported: this.#exports.size, imported: this.#imports.size, invoking: this.#invoking.size };
  }

  clear(): void {
    this.#exports.clear();
    this.#exportIds.clear();
    this.#imports.clear();
    this.#importCounts.clear();
    this.#invoking.clear();
    this.#releaseWhenIdle.clear();
  }

  /** An imported reference was garbage collected here: the peer may free it. */
  #release(id: number): void {
    if (this.#imports.get(id)?.deref()) return;
    // A Release must not overtake a call through the reference that is still on its way.
    if (this.#invoking.has(id)) {
      this.#releaseWhenIdle.add(id);
      return;
    }
    this.#imports.delete(id);
    const count = this.#importCounts.get(id) ?? 0;
    this.#importCounts.delete(id);
    if (count > 0) this.#sendRelease(id, count);
  }
}
