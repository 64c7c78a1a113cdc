// Which methods of a registered object a peer may call. Computed once, at register; a call for
// any other name is refused whatever the peer sends, so `constructor`, `__proto__`, `_private`
// and everything of Object.prototype stay out of reach.

import { RuntableError } from '../errors.js';

function isHidden(name: string): boolean {
  return name === 'constructor' || name.startsWith('_') || Object.hasOwn(Object.prototype, name);
}

/** Own and prototype methods of `object`, minus the hidden ones; narrowed by `expose` if given. */
export function exposedMethods(object: object, expose?: readonly string[]): string[] {
  const found = new Set<string>();
  for (let level: object | null = object; level && level !== Object.prototype; level = Object.getPrototypeOf(level)) {
    if (level === Function.prototype) break;
    for (const name of Object.getOwnPropertyNames(level)) {
      if (isHidden(name) || found.has(name)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(level, name);
      // Accessors are never called to find out: a getter may have side effects.
      if (descriptor && 'value' in descriptor && typeof descriptor.value === 'function') found.add(name);
    }
  }
  if (!expose) return [...found].sort();
  for (const name of expose) {
    if (!found.has(name)) {
      throw new RuntableError(
        'BAD_ARGUMENT',
        `expose names "${name}", which is not a callable method of the object (or is hidden: constructor, _names, Object.prototype)`,
      );
    }
  }
  return [...new Set(expose)].sort();
}
