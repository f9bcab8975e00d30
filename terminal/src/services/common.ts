/**
 * Shared plumbing of the card services: the injected clock, sending a command through a channel
 * (with an optional APDU trace through the logger), turning unexpected status words into
 * `TERM_ERR_CARD_STATUS` / `TERM_ERR_PSAM_STATUS`, and wrapping the protocol decoders' errors on
 * card data into `TERM_ERR_CARD_DATA`. Status words stay data until a service decides.
 */
import type { Logger } from 'pino';
import type { CommandApdu, ResponseApdu } from '@onecard/protocol/iso7816';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError } from '../errors.ts';

/** Injected wall clock: milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Which device a command goes to (trace label and error code choice). */
export type Device = 'card' | 'psam';

/**
 * Sends one command and returns the response; traces `{device, apdu, sw, len}` at debug level
 * through the `apdu`/`rapdu` serializers of the OneCard logger (secret data masked there).
 * Rejects as the channel does.
 */
export async function send(channel: CardChannel, apdu: CommandApdu, device: Device, logger?: Logger): Promise<ResponseApdu> {
  const r = await channel.transmit(apdu);
  logger?.debug({ device, apdu, rapdu: r }, 'apdu');
  return r;
}

/** Rejects with the status error of `device` unless the SW is `9000`. */
export function expectOk(r: ResponseApdu, device: Device, step: string): ResponseApdu {
  if (r.sw !== 0x9000) throw statusError(r.sw, device, step);
  return r;
}

/** `TERM_ERR_CARD_STATUS` / `TERM_ERR_PSAM_STATUS` carrying `details.sw` (number, shown in the message as hex) and `details.step`. */
export function statusError(sw: number, device: Device, step: string): TerminalError {
  return new TerminalError(device === 'card' ? 'TERM_ERR_CARD_STATUS' : 'TERM_ERR_PSAM_STATUS', step, { sw, step, device });
}

/** Runs a decoder over card data; its coded errors become `TERM_ERR_CARD_DATA` with the cause kept. */
export function decode<T>(step: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TerminalError) throw err;
    const field = typeof err === 'object' && err !== null && 'details' in err ? (err as { details?: { field?: unknown } }).details?.field : undefined;
    // The decoder's own message says what is wrong (e.g. a check character that does not match).
    const why = err instanceof Error && err.message !== '' ? `${step}: ${err.message}` : step;
    throw new TerminalError('TERM_ERR_CARD_DATA', why, field === undefined ? { step } : { step, field }, { cause: err });
  }
}

/** `YYYYMMDD` of `ms` in a fixed UTC offset (default +08:00, China Standard Time). */
export function localDate(ms: number, utcOffsetMinutes = 480): string {
  const d = new Date(ms + utcOffsetMinutes * 60_000);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** `YYYYMMDDhhmmss` of `ms` in a fixed UTC offset (default +08:00). */
export function localDateTime(ms: number, utcOffsetMinutes = 480): string {
  const d = new Date(ms + utcOffsetMinutes * 60_000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}
