/**
 * An in-memory {@link CardChannel} over a simulated card (`@onecard/simulators` card objects, or
 * anything with the same shape). It powers the card up, applies the ISO 7816 exchange rules with
 * `startExchange`/`stepExchange` (T=0 TPDUs when a TPDU adapter is given, APDUs otherwise) and
 * turns simulated card movements into the channel's coded rejections: a removal armed by the test
 * (`remove()`, `removeWhen(...)`) or a torn write (`injectTear`) makes the command reject with
 * `TERM_ERR_CARD_REMOVED`, and every later command too, as on a real reader once the card left.
 */
import { startExchange, stepExchange, type CommandApdu, type ExchangeOptions, type ResponseApdu } from '@onecard/protocol/iso7816';
import { TerminalError } from '../errors.ts';
import type { CardChannel } from './channel.ts';

/** The shape of a simulated card the channel drives (see `SimulatedCard` in the simulators). */
export interface SimulatedCardLike {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  reset(): Uint8Array;
  /** One APDU in, `data ‖ SW1 SW2` out; throws (coded) when mute or torn. */
  transmit(apdu: Uint8Array): Uint8Array;
  /** Arms a one-shot tear of the next DEBIT FOR PURCHASE (user cards with a purse). */
  injectTear?(point: 'before-commit' | 'after-commit'): void;
}

/** When an armed removal strikes relative to the command that matches. */
export type RemovalPoint = 'before' | 'after';

/** Options of {@link createMemoryChannel}. */
export interface MemoryChannelOptions {
  /**
   * T=0 TPDU adapter (e.g. `(tpdu) => t0Transmit(card, tpdu)` from the simulators). When given
   * and the card is T=0, commands travel as TPDUs (case 4 without Le, `61xx` → GET RESPONSE,
   * `6Cxx` → resend) [7816-3 §12.2]; otherwise APDUs are passed as they are.
   */
  readonly t0?: (tpdu: Uint8Array) => Uint8Array;
  /** Extra exchange options (chaining, GET RESPONSE class, …). */
  readonly exchange?: Omit<ExchangeOptions, 'transport'>;
  /** Do not reset the card on creation (it is already powered). Default false. */
  readonly noReset?: boolean;
}

/** The memory channel: a {@link CardChannel} with test controls for card movements. */
export interface MemoryChannel extends CardChannel {
  /** The card leaves the reader now: every later transmit rejects `TERM_ERR_CARD_REMOVED`. */
  remove(): void;
  /**
   * Arms a removal: the first command for which `match` returns true is either not delivered
   * (`before`) or delivered and executed by the card with its response lost (`after`).
   */
  removeWhen(match: (apdu: CommandApdu) => boolean, point: RemovalPoint): void;
  /** Arms a torn write of the next DEBIT FOR PURCHASE through the card's `injectTear`. */
  injectTear(point: 'before-commit' | 'after-commit'): void;
  /** Whether the card has left (removal or tear). */
  readonly removed: boolean;
  /** Number of commands passed to `transmit` (exchange-level, before GET RESPONSE). */
  readonly commandCount: number;
}

function removedError(detail: string, cause?: unknown): TerminalError {
  return new TerminalError('TERM_ERR_CARD_REMOVED', detail, {}, cause === undefined ? undefined : { cause });
}

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

/**
 * Creates a channel over `card`, resetting it first (power-up) unless `noReset`.
 * `transmit` rejects with `TerminalError` `TERM_ERR_CARD_REMOVED` (armed removal, torn write,
 * `SIM_ERR_CARD_TORN`), `TERM_ERR_CARD_TIMEOUT` (mute card, `SIM_ERR_CARD_MUTE`) or
 * `TERM_ERR_CARD_PROTOCOL` (exchange-rule violation, unencodable command).
 */
export function createMemoryChannel(card: SimulatedCardLike, options: MemoryChannelOptions = {}): MemoryChannel {
  const atr = options.noReset === true ? card.atr.slice() : card.reset();
  const useT0 = card.protocol === 0 && options.t0 !== undefined;
  const exchange: ExchangeOptions = { ...options.exchange, transport: useT0 ? 't0' : 'apdu' };
  const send = useT0 ? options.t0! : (b: Uint8Array): Uint8Array => card.transmit(b);
  let removed = false;
  let count = 0;
  let armed: { match: (apdu: CommandApdu) => boolean; point: RemovalPoint } | undefined;

  const deliver = (bytes: Uint8Array): Uint8Array => {
    try {
      return send(bytes);
    } catch (err) {
      const code = codeOf(err);
      if (code === 'SIM_ERR_CARD_TORN') {
        removed = true;
        throw removedError('torn during the command', err);
      }
      if (code === 'SIM_ERR_CARD_MUTE') throw new TerminalError('TERM_ERR_CARD_TIMEOUT', 'the card is mute', {}, { cause: err });
      throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'the card rejected the transmission', {}, { cause: err });
    }
  };

  return {
    atr,
    protocol: card.protocol,
    get removed() {
      return removed;
    },
    get commandCount() {
      return count;
    },
    remove() {
      removed = true;
    },
    removeWhen(match, point) {
      armed = { match, point };
    },
    injectTear(point) {
      if (card.injectTear === undefined) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'this card cannot tear');
      card.injectTear(point);
    },
    async transmit(apdu: CommandApdu): Promise<ResponseApdu> {
      if (removed) throw removedError('no card in the slot');
      count++;
      let after = false;
      if (armed !== undefined && armed.match(apdu)) {
        const point = armed.point;
        armed = undefined;
        if (point === 'before') {
          removed = true;
          throw removedError('removed before the command');
        }
        after = true;
      }
      let step;
      try {
        step = startExchange(apdu, exchange);
      } catch (err) {
        throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'command cannot be sent', {}, { cause: err });
      }
      for (;;) {
        const response = deliver(step.send);
        let next;
        try {
          next = stepExchange(step.state, response);
        } catch (err) {
          throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'exchange rules violated', {}, { cause: err });
        }
        if ('done' in next) {
          if (after) {
            removed = true;
            throw removedError('removed before the response was read');
          }
          return next.done;
        }
        step = next;
      }
    },
  };
}
