/**
 * What every server plugin is built from: the store, the clock, the logger and the settings.
 * `buildApp` composes these once; plugins never read the environment or open files themselves.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Store } from './store/types.ts';

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface ServerKeys {
  /** The server's ECDH public key (SPKI DER, base64) given to terminals at enrolment. */
  readonly publicKeySpki: string;
  /** The server's ECDH private key (PKCS#8 DER); never leaves the process. */
  readonly privateKeyPkcs8: Uint8Array;
}

export interface ServerSettings {
  /** Lifetime of an enrolment token when the admin gives none, in seconds. */
  readonly enrolmentTokenTtlSeconds: number;
  /** Public MQTT URL handed to terminals at enrolment (e.g. `mqtt://127.0.0.1:1883`). */
  readonly mqttUrl: string;
  /** Requests per minute per IP on enrolment and failed authentication. */
  readonly authRateLimitPerMinute: number;
}

export interface ServerContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly keys: ServerKeys;
  readonly settings: ServerSettings;
  readonly logger?: FastifyBaseLogger;
}
