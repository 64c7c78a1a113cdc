// Short ASCII strings (map keys, method names) built straight from their bytes: a call of
// String.fromCharCode with the bytes as arguments is several times faster than a native UTF-8
// decode for a few bytes. Anything not ASCII is left to the caller's UTF-8 decoder.

/** Strings this long or shorter are built here. */
export const SHORT_STRING_BYTES = 12;

const f = String.fromCharCode;

/** The `length` bytes of `b` from `s` as a string, or undefined if one of them is not ASCII. */
export function shortAscii(b: Uint8Array, s: number, length: number): string | undefined {
  switch (length) {
    case 0:
      return '';
    case 1: {
      const c0 = b[s] as number;
      return c0 < 0x80 ? f(c0) : undefined;
    }
    case 2: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      return (c0 | c1) < 0x80 ? f(c0, c1) : undefined;
    }
    case 3: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      return (c0 | c1 | c2) < 0x80 ? f(c0, c1, c2) : undefined;
    }
    case 4: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      return (c0 | c1 | c2 | c3) < 0x80 ? f(c0, c1, c2, c3) : undefined;
    }
    case 5: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      return (c0 | c1 | c2 | c3 | c4) < 0x80 ? f(c0, c1, c2, c3, c4) : undefined;
    }
    case 6: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5) < 0x80 ? f(c0, c1, c2, c3, c4, c5) : undefined;
    }
    case 7: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      const c6 = b[s + 6] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5 | c6) < 0x80 ? f(c0, c1, c2, c3, c4, c5, c6) : undefined;
    }
    case 8: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      const c6 = b[s + 6] as number;
      const c7 = b[s + 7] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) < 0x80 ? f(c0, c1, c2, c3, c4, c5, c6, c7) : undefined;
    }
    case 9: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      const c6 = b[s + 6] as number;
      const c7 = b[s + 7] as number;
      const c8 = b[s + 8] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8) < 0x80 ? f(c0, c1, c2, c3, c4, c5, c6, c7, c8) : undefined;
    }
    case 10: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      const c6 = b[s + 6] as number;
      const c7 = b[s + 7] as number;
      const c8 = b[s + 8] as number;
      const c9 = b[s + 9] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9) < 0x80
        ? f(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9)
        : undefined;
    }
    case 11: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      const c6 = b[s + 6] as number;
      const c7 = b[s + 7] as number;
      const c8 = b[s + 8] as number;
      const c9 = b[s + 9] as number;
      const c10 = b[s + 10] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10) < 0x80
        ? f(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10)
        : undefined;
    }
    case 12: {
      const c0 = b[s] as number;
      const c1 = b[s + 1] as number;
      const c2 = b[s + 2] as number;
      const c3 = b[s + 3] as number;
      const c4 = b[s + 4] as number;
      const c5 = b[s + 5] as number;
      const c6 = b[s + 6] as number;
      const c7 = b[s + 7] as number;
      const c8 = b[s + 8] as number;
      const c9 = b[s + 9] as number;
      const c10 = b[s + 10] as number;
      const c11 = b[s + 11] as number;
      return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11) < 0x80
        ? f(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11)
        : undefined;
    }
    default:
      return undefined;
  }
}

/** Slots of the map-key cache; a power of two. Keys are few (a message kind has five or so). */
const KEY_CACHE_SLOTS = 1024;
const keyCache: (string | undefined)[] = new Array(KEY_CACHE_SLOTS).fill(undefined);

/**
 * A short ASCII map key, the same string each time its bytes come again: no allocation, and a
 * string V8 has already internalized as a property name. Undefined if a byte is not ASCII.
 */
export function shortAsciiKey(b: Uint8Array, s: number, length: number): string | undefined {
  let hash = length;
  for (let i = 0; i < length; i++) hash = (Math.imul(hash, 31) + (b[s + i] as number)) | 0;
  const slot = hash & (KEY_CACHE_SLOTS - 1);
  const known = keyCache[slot];
  if (known !== undefined && known.length === length) {
    // A cached key is ASCII, so equal code units mean equal bytes.
    let i = 0;
    while (i < length && known.charCodeAt(i) === b[s + i]) i++;
    if (i === length) return known;
  }
  const made = shortAscii(b, s, length);
  if (made !== undefined) keyCache[slot] = made;
  return made;
}
