/**
 * The terminal's identity in its data directory, written by enrolment and read by the agent:
 * `enrolment-key.pem` (P-256 private key, PKCS#8 PEM, 0600) and `identity.json` (terminal id,
 * group, MQTT credentials, the server's public key; 0600), in a 0700 directory. The private key
 * never leaves the file except as a KeyObject in memory.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { TerminalError } from '../errors.ts';
import { ensurePrivateDir, writeFileAtomic } from './secure-files.ts';

export const KEY_FILE = 'enrolment-key.pem';
export const IDENTITY_FILE = 'identity.json';

export interface MqttCredentials {
  readonly url: string;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

/** Contents of `identity.json`. */
export interface TerminalIdentity {
  readonly v: 1;
  readonly terminalId: string;
  readonly groupId: string;
  /** Base URL of the fleet server's HTTP API, e.g. `https://fleet.example:8443`. */
  readonly serverUrl: string;
  readonly mqtt: MqttCredentials;
  /** Server P-256 public key, SPKI DER base64. */
  readonly serverPublicKey: string;
  /** This terminal's P-256 public key, SPKI DER base64. */
  readonly publicKey: string;
  readonly kind: string;
  /** Human name given at enrolment (`--name`), shown beside the id; the server's copy may change later. */
  readonly name?: string;
  readonly enrolledAt: number;
}

/** A loaded identity plus the private key (in memory only). */
export interface LoadedIdentity extends TerminalIdentity {
  readonly privateKey: KeyObject;
}

/** Generates a P-256 key pair; returns the PKCS#8 PEM and SPKI DER base64. */
export function generateEnrolmentKey(): { privatePem: string; publicKeySpki: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/** Writes the private key (0600) into the 0700 data dir. */
export async function savePrivateKey(dataDir: string, privatePem: string): Promise<void> {
  await ensurePrivateDir(dataDir);
  await writeFileAtomic(join(dataDir, KEY_FILE), privatePem, 0o600);
}

/** Writes `identity.json` (0600). */
export async function saveIdentity(dataDir: string, identity: TerminalIdentity): Promise<void> {
  await ensurePrivateDir(dataDir);
  await writeFileAtomic(join(dataDir, IDENTITY_FILE), JSON.stringify(identity, null, 2) + '\n', 0o600);
}

/** True when the data dir already holds an identity. */
export async function hasIdentity(dataDir: string): Promise<boolean> {
  try { await fsp.access(join(dataDir, IDENTITY_FILE)); return true; } catch { return false; }
}

function str(v: unknown): v is string { return typeof v === 'string' && v.length > 0; }

/**
 * Loads and checks the identity and private key.
 * @throws TerminalError `TERM_ERR_IDENTITY_MISSING`, `TERM_ERR_IDENTITY_INVALID`
 */
export async function loadIdentity(dataDir: string): Promise<LoadedIdentity> {
  let text: string;
  let pem: string;
  try {
    text = await fsp.readFile(join(dataDir, IDENTITY_FILE), 'utf8');
    pem = await fsp.readFile(join(dataDir, KEY_FILE), 'utf8');
  } catch (cause) {
    throw new TerminalError('TERM_ERR_IDENTITY_MISSING', dataDir, { dataDir }, { cause });
  }
  let doc: Record<string, unknown>;
  try { doc = JSON.parse(text) as Record<string, unknown>; } catch (cause) { throw new TerminalError('TERM_ERR_IDENTITY_INVALID', 'identity.json is not JSON', { file: IDENTITY_FILE }, { cause }); }
  const m = doc['mqtt'] as Record<string, unknown> | undefined;
  if (doc['v'] !== 1 || !str(doc['terminalId']) || !str(doc['groupId']) || !str(doc['serverUrl']) || !str(doc['serverPublicKey']) || !str(doc['publicKey']) ||
    typeof m !== 'object' || m === null || !str(m['url']) || !str(m['clientId']) || !str(m['username']) || !str(m['password'])) {
    throw new TerminalError('TERM_ERR_IDENTITY_INVALID', 'identity.json fields', { file: IDENTITY_FILE });
  }
  let privateKey: KeyObject;
  try { privateKey = createPrivateKey(pem); } catch (cause) { throw new TerminalError('TERM_ERR_IDENTITY_INVALID', 'private key unreadable', { file: KEY_FILE }, { cause }); }
  const pub = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  if (pub !== doc['publicKey']) throw new TerminalError('TERM_ERR_IDENTITY_INVALID', 'private key does not match the enrolled public key', { file: KEY_FILE });
  return { ...(doc as unknown as TerminalIdentity), privateKey };
}
