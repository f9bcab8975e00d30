/** Loads the server's ECDH key pair from the data directory, creating it (mode 0600) on first start. */
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ServerError } from './errors.ts';
import { generateServerKeys } from './crypto-util.ts';
import type { ServerKeys } from './context.ts';

export function loadOrCreateServerKeys(dataDir: string): ServerKeys {
  const file = join(dataDir, 'server-key.json');
  if (existsSync(file)) {
    try {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { publicKeySpki: string; privateKeyPkcs8: string };
      return { publicKeySpki: doc.publicKeySpki, privateKeyPkcs8: new Uint8Array(Buffer.from(doc.privateKeyPkcs8, 'base64')) };
    } catch (cause) {
      throw new ServerError('SRV_ERR_CONFIG', `unreadable ${file}`, {}, { cause });
    }
  }
  const keys = generateServerKeys();
  writeFileSync(file, JSON.stringify({ publicKeySpki: keys.publicKeySpki, privateKeyPkcs8: Buffer.from(keys.privateKeyPkcs8).toString('base64') }), { mode: 0o600 });
  chmodSync(file, 0o600);
  return keys;
}
