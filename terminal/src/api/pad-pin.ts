/** PIN entry on the box's PIN pad for a local API request, shared by the login and holder routes. */
import { TerminalError } from '../errors.ts';
import type { PinEntry } from '../pinpad/index.ts';
import type { LocalApiOptions } from './app.ts';

/**
 * One PIN from the pad (a portal login, a holder's verification); the entry ends when the user card leaves the reader
 * (`TERM_ERR_CARD_REMOVED`) or the page's request closes (`TERM_ERR_PINPAD_CANCELLED`).
 */
export async function readPadPin(pad: PinEntry, opts: LocalApiOptions, raw: { once(e: 'close', f: () => void): unknown; off(e: 'close', f: () => void): unknown }): Promise<string> {
  let active = true;
  const onRemoved = (e: { readerId?: unknown; slot?: unknown }): void => {
    const r = (opts.readers.status() as { readerId?: unknown; slots?: { slot?: unknown; role?: unknown }[] }[]).find((x) => x.readerId === e.readerId);
    if (active && r?.slots?.find((x) => x.slot === e.slot)?.role !== 'psam') pad.cancel(new TerminalError('TERM_ERR_CARD_REMOVED', 'card taken out during PIN entry'));
  };
  const onClose = (): void => {
    if (active) pad.cancel(new TerminalError('TERM_ERR_PINPAD_CANCELLED', 'the page went away'));
  };
  opts.readers.events.on('card-removed', onRemoved);
  raw.once('close', onClose);
  try {
    return await pad.read('verify');
  } finally {
    active = false;
    opts.readers.events.off('card-removed', onRemoved);
    raw.off('close', onClose);
  }
}
