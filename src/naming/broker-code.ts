// The broker program as one string of JavaScript, for an app bundled into a single file where no
// broker-main.js lies beside runtable's code. `npm run build` (scripts/build-broker.mjs) writes
// the real string into dist; the sources carry none, since they run broker-main.ts through tsx.

/** broker-main and everything it imports (cbor-x included), bundled; undefined in the sources. */
export const BROKER_CODE: string | undefined = undefined;
