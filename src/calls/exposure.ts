// Which methods of a registered object a peer may call. Computed once, at register; a call for
// any other name is refused whatever the peer sends, so `constructor`, `__proto__`, `_private`,
// everything of Object.prototype and, unless named in `expose`, what the object inherits from
// Node's built-in classes (EventEmitter's emit, a stream's destroy) stay out of reach.

import { EventEmitter } from 'node:events';
import { Duplex, PassThrough, Readable, Stream, Transform, Writable } from 'node:stream';
import { RuntableError } from '../errors.js';

/**
 * Prototypes of Node's classes written in JavaScript, which a user's class commonly extends:
 * the walk up the prototype chain stops at them. Classes of native code (Map, Array, Error,
 * Promise...) are recognised by their constructor instead (see isBuiltIn).
 */
const BUILT_IN_PROTOTYPES: ReadonlySet<object> = new Set([
  Object.prototype,
  Function.prototype,
  EventEmitter.prototype,
  EventTarget.prototype,
  Event.prototype,
  Stream.prototype,
  Readable.prototype,
  Writable.prototype,
  Duplex.prototype,
  Transform.prototype,
  PassThrough.prototype,
  AbortController.prototype,
  AbortSignal.prototype,
]);

const nativeSource = /\{\s*\[native code\]\s*\}\s*$/;

/** A prototype of the platform's, not the user's: its methods are not the object's own API. */
function isBuiltIn(prototype: object): boolean {
  if (BUILT_IN_PROTOTYPES.has(prototype)) return true;
  const descriptor = Object.getOwnPropertyDescriptor(prototype, 'constructor');
  const maker = descriptor && 'value' in descriptor ? descriptor.value : undefined;
  return (
    typeof maker === 'function' &&
    maker.prototype === prototype &&
    nativeSource.test(Function.prototype.toString.call(maker))
  );
}

function isHidden(name: string): boolean {
  return name === 'constructor' || name.startsWith('_') || Object.hasOwn(Object.prototype, name);
}

/** The callable, non-hidden method names of one level of the prototype chain, into `into`. */
function collect(level: object, into: Set<string>): void {
  for (const name of Object.getOwnPropertyNames(level)) {
    if (isHidden(name) || into.has(name)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(level, name);
    // Accessors are never called to find out: a getter may have side effects.
    if (descriptor && 'value' in descriptor && typeof descriptor.value === 'function') into.add(name);
  }
}

/**
 * Own and prototype methods of `object` up to the first built-in prototype, minus the hidden ones;
 * exactly `expose` if given, which may also name methods inherited from built-in classes.
 */
export function exposedMethods(object: object, expose?: readonly string[]): string[] {
  const found = new Set<string>();
  let level: object | null = object;
  // The object itself is the user's, even when it is a plain function or a built-in's instance.
  for (let first = true; level && (first || !isBuiltIn(level)); first = false) {
    collect(level, found);
    level = Object.getPrototypeOf(level);
  }
  if (!expose) return [...found].sort();
  // Named explicitly, a built-in's method is the user's choice; Object.prototype's never are.
  const inherited = new Set<string>();
  for (; level && level !== Object.prototype; level = Object.getPrototypeOf(level)) collect(level, inherited);
  for (const name of expose) {
    if (!found.has(name) && !inherited.has(name)) {
      throw new RuntableError(
        'BAD_ARGUMENT',
        `expose names "${name}", which is not a callable method of the object (or is hidden: constructor, _names, Object.prototype)`,
      );
    }
  }
  return [...new Set(expose)].sort();
}
