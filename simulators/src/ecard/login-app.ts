/**
 * The holder's e-card app, simulated, for 扫码登录 (docs/login.md §4): it holds the holder's SM2
 * key, scans the login page's QR code (`{server}/api/v1/ecard/logins/{code}`), fetches the pending
 * login (portal name, claims, nonce), and — when the holder confirms — signs
 * `OCLOGIN1|{login}|{nonce}|{holderRef}|{iat}` with SM2/SM3 (default distinguishing ID) and posts
 * the confirmation. The server checks it against its e-card key registry.
 */
import { sm2GenerateKeyPair, sm2PublicKey, sm2Sign } from '@onecard/protocol/crypto';
import { SimulatorError } from '../errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The text the app signs (must match the server's check). */
export function ecardLoginMessage(login: string, nonce: string, holderRef: string, iat: number): string {
  return `OCLOGIN1|${login}|${nonce}|${holderRef.toLowerCase()}|${iat}`;
}

/** What the app shows the holder before they confirm. */
export interface EcardPendingLogin {
  readonly server: string;
  readonly login: string;
  readonly nonce: string;
  readonly clientName: string;
  readonly claims: readonly string[];
  readonly expires: number;
}

export interface EcardLoginResult {
  readonly status: number;
  readonly body: { readonly status?: string; readonly acr?: string; readonly error?: { readonly code: string; readonly message: string } };
}

export interface EcardLoginAppOptions {
  readonly holderRef: string;
  /** SM2 private key (32 bytes); a new one when absent. */
  readonly privateKey?: Uint8Array;
  /** Unix seconds (default: the system clock). */
  readonly now?: () => number;
}

export interface EcardLoginApp {
  readonly holderRef: string;
  /** The holder's SM2 public key `04‖x‖y`, hex (what the platform registers). */
  readonly publicKey: string;
  /** Reads a scanned QR text and fetches the pending login. @throws SimulatorError `SIM_ERR_ECARD_LOGIN` */
  scan(qrText: string): Promise<EcardPendingLogin>;
  /** The holder confirms: signs and posts the confirmation; `override` lets tests forge fields. */
  confirm(pending: EcardPendingLogin, override?: { nonce?: string; iat?: number; privateKey?: Uint8Array }): Promise<EcardLoginResult>;
}

export function createEcardLoginApp(opts: EcardLoginAppOptions): EcardLoginApp {
  const privateKey = opts.privateKey ?? sm2GenerateKeyPair().privateKey;
  const holderRef = opts.holderRef.toLowerCase();
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  return {
    holderRef,
    publicKey: hex(sm2PublicKey(privateKey)),
    async scan(qrText) {
      const m = /^(https?:\/\/[^/\s]+)\/api\/v1\/ecard\/logins\/([0-9]{8})$/.exec(qrText.trim());
      if (m === null) throw new SimulatorError('SIM_ERR_ECARD_LOGIN', 'not a OneCard login QR code');
      const r = await fetch(`${m[1]!}/api/v1/ecard/logins/${m[2]!}`);
      const body = await r.json() as Partial<EcardPendingLogin> & { error?: { code: string } };
      if (r.status !== 200) throw new SimulatorError('SIM_ERR_ECARD_LOGIN', body.error?.code ?? String(r.status), { status: r.status, code: body.error?.code });
      return { server: m[1]!, login: body.login!, nonce: body.nonce!, clientName: body.clientName!, claims: body.claims ?? [], expires: body.expires! };
    },
    async confirm(pending, override = {}) {
      const iat = override.iat ?? now();
      const nonce = override.nonce ?? pending.nonce;
      const signature = sm2Sign(override.privateKey ?? privateKey, new TextEncoder().encode(ecardLoginMessage(pending.login, nonce, holderRef, iat)));
      const r = await fetch(`${pending.server}/api/v1/ecard/login-confirmations`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: pending.login, nonce, holderRef, iat, signature: hex(signature) }),
      });
      return { status: r.status, body: await r.json() as EcardLoginResult['body'] };
    },
  };
}
