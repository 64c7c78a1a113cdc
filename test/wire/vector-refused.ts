// Bad input as golden vectors: frames an endpoint (the accepting side of a call connection) must
// refuse after a good handshake, each with the Failure it answers and whether it then closes.
// The Node test sends them to a Node endpoint, the Python tests to a Python one: same codes.

export interface RefusedCase {
  name: string;
  description: string;
  /** The whole frame, length prefix included. */
  frame: string;
  /** The Failure that comes back. */
  answer: { id: number; code: string };
  /** Whether the receiver then closes the connection. */
  closes: boolean;
}

/** A frame around a CBOR body given in hex. */
function frame(body: string): string {
  const bytes = body.replace(/\s+/g, '');
  return (bytes.length / 2).toString(16).padStart(8, '0') + bytes;
}

/** A Call of `method` on `target` with `args` (hex of the items), the id's encoding given in hex. */
function call(idHex: string, targetHex: string, argsHex: string): string {
  return frame(
    `a5 646b696e64 181e 626964 ${idHex} 66746172676574 ${targetHex} 666d6574686f64 6473656e64 6461726773 ${argsHex}`,
  );
}

export const refusedCases: RefusedCase[] = [
  {
    name: 'refused-empty-frame',
    description: 'A frame of length 0.',
    frame: '00000000',
    answer: { id: 0, code: 'PROTOCOL' },
    closes: true,
  },
  {
    name: 'refused-frame-too-large',
    description: 'A length prefix of 1 MiB + 1 (1,048,577): refused before the body is read or allocated.',
    frame: '00100001',
    answer: { id: 0, code: 'FRAME_TOO_LARGE' },
    closes: true,
  },
  {
    name: 'refused-trailing-bytes',
    description: 'A body with a byte after its one CBOR item: undecodable.',
    frame: frame('a2 646b696e64 1820 6463616c6c 01 00'),
    answer: { id: 0, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'refused-truncated',
    description: 'A map that announces three pairs and holds one: undecodable.',
    frame: frame('a3 646b696e64 1820'),
    answer: { id: 0, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'refused-indefinite-text',
    description: 'An indefinite-length text string as an argument: undecodable (the JS decoder takes none).',
    frame: call('07', '1863', '81 7f 6161 ff'),
    answer: { id: 0, code: 'PROTOCOL' },
    closes: false,
  },
  ...[6, 28, 29, 51].map((tag) => ({
    name: `refused-tag-${tag}`,
    description: `A Call whose argument is tag ${tag} (cbor-x packed tables and shared values): undecodable, so no id can be trusted.`,
    frame: call('07', '1863', `81 d8${tag.toString(16).padStart(2, '0')} 00`),
    answer: { id: 0, code: 'PROTOCOL' },
    closes: false,
  })),
  {
    name: 'refused-id-8-bytes',
    description:
      'A Call whose id is 7 in the 8-byte form (1b 00 00 00 00 00 00 00 07): malformed; the id is not taken, so the Failure has id 0.',
    frame: call('1b0000000000000007', '1863', '80'),
    answer: { id: 0, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'refused-target-8-bytes',
    description: 'A Call with id 7 whose target is 99 in the 8-byte form: malformed, answered with id 7.',
    frame: call('07', '1b0000000000000063', '80'),
    answer: { id: 7, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'refused-unknown-kind',
    description: 'A map with kind 99 and id 7: malformed, answered with id 7.',
    frame: frame('a2 646b696e64 1863 626964 07'),
    answer: { id: 7, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'refused-not-a-map',
    description: 'An array where a message should be: malformed, id 0.',
    frame: frame('82 181e 07'),
    answer: { id: 0, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'refused-broker-request',
    description: 'A Status request (kind 17, id 7) sent to an endpoint: a kind it does not take, answered with id 7.',
    frame: frame('a2 646b696e64 11 626964 07'),
    answer: { id: 7, code: 'PROTOCOL' },
    closes: false,
  },
  {
    name: 'accepted-id-2-bytes',
    description:
      'Not refused: a Call with id 7 in the 2-byte form (19 00 07) to target 99, which does not exist. The id is taken by value: the Failure NOT_REGISTERED echoes it in the shortest form (62 69 64 07).',
    frame: call('190007', '1863', '80'),
    answer: { id: 7, code: 'NOT_REGISTERED' },
    closes: false,
  },
  {
    name: 'accepted-float-id',
    description: 'Not refused: a Call whose id is 7.0 as a float64 (integral): taken as 7.',
    frame: call('fb401c000000000000', '1863', '80'),
    answer: { id: 7, code: 'NOT_REGISTERED' },
    closes: false,
  },
];
