// Throwaway certificate authorities and certificates for the TLS tests, made with openssl at test
// time (nothing secret is committed). Each certificate is valid for the loopback addresses.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Pem {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** A CA and one certificate it signed, for both server and client use on 127.0.0.1-3. */
export function makeCertificates(name: string): Pem {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-tls-'));
  const file = (f: string) => path.join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.pem'),
      '-days',
      '1',
      '-subj',
      `/CN=${name} CA`,
    );
    openssl('req', ...ec, '-keyout', file('node.key'), '-out', file('node.csr'), '-subj', `/CN=${name}`);
    fs.writeFileSync(
      file('ext'),
      'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file('node.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('node.pem'),
      '-days',
      '1',
      '-extfile',
      file('ext'),
    );
    return {
      ca: fs.readFileSync(file('ca.pem')),
      cert: fs.readFileSync(file('node.pem')),
      key: fs.readFileSync(file('node.key')),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
