/**
 * Shared plumbing of the card subcommands (`read-card`, `pin`, `purchase`): option parsing for
 * `--reader serial:PATH|hid:PATH`, `--psam-slot N`, `--model`, `--timeout`, `--verbose`; opening
 * a one-reader manager and waiting for the reader; and the technician-facing failure report:
 * the TERM_ERR code, the message, a hint, the national code, and an exit code per family.
 */
import type { Logger } from 'pino';
import { TERMINAL_READER_MODEL_KEYS, type TerminalReaderModel } from '@onecard/protocol/ccid';
import { TerminalError, type TerminalErrorCode } from '../errors.ts';
import { openReaderManager, type CardChannel, type ReaderManager } from '../card/index.ts';
import { nationalErrorCode } from '../services/index.ts';
import { createLogger } from '../log/index.ts';
import type { CliIo } from './io.ts';

/** Exit codes of the card subcommands (0 ok, 2 usage as everywhere). */
export const CARD_EXIT = { ok: 0, failed: 1, usage: 2, reader: 3, card: 4, refused: 5, pin: 6, psam: 7, config: 8 } as const;

const FAMILY: [RegExp, number][] = [
  [/^TERM_ERR_(READER|LINK)_/, CARD_EXIT.reader],
  [/^TERM_ERR_(NO_CARD|CARD_REMOVED|CARD_MUTE|CARD_ATR|CARD_TIMEOUT|CARD_PROTOCOL|CARD_RESET|SESSION_CLOSED|PURCHASE_INTERRUPTED)$/, CARD_EXIT.card],
  [/^TERM_ERR_(CARD_NOT_GENUINE|CARD_HOTLISTED|CARD_EXPIRED|CARD_NOT_YET_VALID|WRONG_CARD_TYPE|CARD_STATUS|CARD_DATA|EXTERNAL_AUTH_FAILED|INSUFFICIENT_FUNDS)$/, CARD_EXIT.refused],
  [/^TERM_ERR_PIN_/, CARD_EXIT.pin],
  [/^TERM_ERR_(NO_PSAM|PSAM_)/, CARD_EXIT.psam],
  [/^TERM_ERR_CONFIG$/, CARD_EXIT.config],
];

const HINTS: Partial<Record<TerminalErrorCode, string>> = {
  TERM_ERR_READER_UNAVAILABLE: 'check the cable and the device path (onecard-terminal readers lists them)',
  TERM_ERR_READER_PROBE: 'a device answers on this path but not as a CCID reader: wrong port or wrong --model',
  TERM_ERR_LINK_OPEN: 'the path does not exist or is not accessible (permissions, udev rules)',
  TERM_ERR_LINK_BUSY: 'another program (pcscd, a second terminal) holds the reader',
  TERM_ERR_LINK_PCSC_UNAVAILABLE: 'start pcscd (systemctl enable --now pcscd.socket) or use a serial:/hid: reader; see docs/readers.md',
  TERM_ERR_NO_CARD: 'insert the card, chip first, face up',
  TERM_ERR_CARD_ATR: 'the card answers with a malformed ATR: clean the chip and reinsert; if it persists the card is faulty (onecard-terminal atr HEX explains the ATR)',
  TERM_ERR_CARD_MUTE: 'the card does not answer: clean the chip, check it is inserted the right way',
  TERM_ERR_CARD_REMOVED: 'the card left the reader during the operation: insert it and try again',
  TERM_ERR_PURCHASE_INTERRUPTED: 'the card left during DEBIT: present the same card again; the next tap settles the purchase (never a double debit)',
  TERM_ERR_CARD_NOT_GENUINE: 'internal authentication failed: the card is not genuine or the PSAM belongs to another issuer',
  TERM_ERR_CARD_HOTLISTED: 'the card is reported lost or blocked: keep it and send the holder to the counter',
  TERM_ERR_CARD_EXPIRED: 'the card has expired: the holder needs a replacement',
  TERM_ERR_PIN_WRONG: 'wrong PIN; details show the tries left',
  TERM_ERR_PIN_LOCKED: 'PIN locked: unblock at a service counter',
  TERM_ERR_NO_PSAM: 'this operation needs a PSAM: give --psam-slot N (two-slot reader)',
  TERM_ERR_PSAM_STATUS: 'the PSAM refused: check it is the issuer\'s PSAM and seated in the right slot',
  TERM_ERR_WRONG_CARD_TYPE: 'this card does not carry the needed application',
};

/** Exit code for an error. */
export function exitCodeOf(err: unknown): number {
  if (!(err instanceof TerminalError)) return CARD_EXIT.failed;
  for (const [re, code] of FAMILY) if (re.test(err.code)) return code;
  return CARD_EXIT.failed;
}

/** Writes the failure report to stderr and returns the exit code. */
export function reportFailure(io: CliIo, command: string, err: unknown): number {
  if (err instanceof TerminalError) {
    const triesLeft = err.details['triesLeft'];
    const sw = err.details['sw'];
    const extra = [
      typeof triesLeft === 'number' ? `tries left: ${triesLeft}` : undefined,
      typeof sw === 'number' ? `SW ${sw.toString(16).toUpperCase().padStart(4, '0')}` : undefined,
      `national code ${nationalErrorCode(err)}`,
    ].filter((x) => x !== undefined).join(', ');
    io.stderr(`onecard-terminal ${command}: ${err.code}: ${err.message} (${extra})\n`);
    const hint = HINTS[err.code];
    if (hint !== undefined) io.stderr(`hint: ${hint}\n`);
  } else {
    io.stderr(`onecard-terminal ${command}: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return exitCodeOf(err);
}

/** Options common to the card subcommands. */
export interface CardOptions {
  link: 'serial' | 'hid' | 'pcsc';
  path: string;
  model?: TerminalReaderModel;
  psamSlot?: number;
  timeoutMs: number;
  verbose: boolean;
}

/**
 * Parses argv against the common options plus `extra` flags (names → takes a value?). Returns the
 * options, the extra values and positionals, or a usage message.
 */
export function parseCardArgs(
  argv: readonly string[],
  extra: Readonly<Record<string, boolean>>,
): { card: CardOptions | undefined; values: Record<string, string | true>; positional: string[]; help: boolean } | string {
  const values: Record<string, string | true> = {};
  const positional: string[] = [];
  let reader: string | undefined;
  let model: string | undefined;
  let psam: string | undefined;
  let timeout = '10000';
  let verbose = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const take = (): string | undefined => inline ?? argv[++i];
    if (flag === '--help' || flag === '-h') help = true;
    else if (flag === '--reader') reader = take();
    else if (flag === '--model') model = take();
    else if (flag === '--psam-slot') psam = take();
    else if (flag === '--timeout') timeout = take() ?? '';
    else if (flag === '--verbose' || flag === '-v') verbose = true;
    else if (Object.hasOwn(extra, flag)) {
      if (extra[flag]) {
        const v = take();
        if (v === undefined) return `option ${flag} needs a value`;
        values[flag] = v;
      } else values[flag] = true;
    } else if (a.startsWith('-')) return `unknown option '${a}'`;
    else positional.push(a);
  }
  if (help) return { card: undefined, values, positional, help };
  if (reader === undefined) return 'missing --reader serial:PATH, hid:PATH or pcsc:NAME';
  const m = /^(serial|hid|pcsc):(.+)$/.exec(reader);
  if (m === null) return `--reader must be serial:PATH or hid:PATH, or pcsc:NAME through pcscd, got '${reader}'`;
  if (model !== undefined && !(TERMINAL_READER_MODEL_KEYS as readonly string[]).includes(model)) return `--model must be ${TERMINAL_READER_MODEL_KEYS.slice(0, -1).join(', ')} or ${TERMINAL_READER_MODEL_KEYS.at(-1)!}`;
  if (psam !== undefined && !/^[0-7]$/.test(psam)) return '--psam-slot must be 0..7';
  if (!/^\d{1,6}$/.test(timeout)) return '--timeout must be milliseconds';
  const card: CardOptions = {
    link: m[1] as CardOptions['link'],
    path: m[2]!,
    timeoutMs: Number(timeout),
    verbose,
    ...(model === undefined ? {} : { model: model as CardOptions['model'] & string }),
    ...(psam === undefined ? {} : { psamSlot: Number(psam) }),
  };
  return { card, values, positional, help };
}

export const COMMON_OPTIONS_HELP = `Reader options:
  --reader serial:PATH|hid:PATH|pcsc:NAME
                                  the card reader (e.g. serial:/dev/ttyUSB0, hid:/dev/hidraw2, or a
                                  PC/SC reader through pcscd: pcsc:'Gemalto PC Twin Reader', globs allowed;
                                  pcscd's socket from PCSCLITE_CSOCK_NAME, default /run/pcscd/pcscd.comm)
  --model NAME                    gempc-twin (serial default), gemcore-sim-pro2 (HID default), sec1210
  --psam-slot N                   the PSAM sits in slot N of the same reader (two-slot readers)
  --timeout MS                    wait this long for the reader (default 10000)
  -v, --verbose                   log reader and APDU traces (secrets masked) to stderr
  -h, --help                      show this help

Exit status: 0 ok, 1 other failure, 2 usage error, 3 reader problem (also a reader lost
mid-operation), 4 no card / card removed / card mute / malformed ATR / purchase interrupted
(present the card again), 5 card refused (not genuine, hotlisted, expired, wrong type, status
word), 6 PIN wrong / locked, 7 PSAM problem, 8 configuration error.
`;

/** Opens a one-reader manager and waits for the reader. Rejects `TERM_ERR_READER_UNAVAILABLE` with the reader's own detail. */
export async function openCliReader(o: CardOptions, logger: Logger): Promise<ReaderManager> {
  const manager = openReaderManager({
    readers: [{ id: 'cli', link: o.link, path: o.path, ...(o.model === undefined ? {} : { model: o.model }), userSlot: 0, ...(o.psamSlot === undefined ? {} : { psamSlot: o.psamSlot }) }],
    logger,
    ...(process.env['PCSCLITE_CSOCK_NAME'] === undefined ? {} : { pcscSocketPath: process.env['PCSCLITE_CSOCK_NAME'] }),
  });
  const ok = await new Promise<string | undefined>((resolve) => {
    const check = (): boolean => manager.status()[0]?.status === 'ok';
    if (check()) return resolve(undefined);
    let last: string | undefined;
    const onStatus = (e: { status: string; detail?: string }): void => {
      last = e.detail ?? e.status;
      if (e.status === 'ok') {
        clearTimeout(timer);
        manager.off('reader-status', onStatus);
        resolve(undefined);
      }
    };
    const timer = setTimeout(() => {
      manager.off('reader-status', onStatus);
      resolve(last ?? manager.status()[0]?.detail ?? 'no answer');
    }, o.timeoutMs);
    manager.on('reader-status', onStatus);
  });
  if (ok !== undefined) {
    await manager.close();
    throw new TerminalError('TERM_ERR_READER_UNAVAILABLE', `${o.link}:${o.path}: ${ok}`);
  }
  return manager;
}

/** Runs `fn` with the card (slot 0) and the PSAM when `--psam-slot` was given; closes the reader. */
export async function withCliCard<T>(o: CardOptions, io: CliIo, fn: (s: { card: CardChannel; psam: CardChannel | undefined; logger: Logger }) => Promise<T>): Promise<T> {
  const logger = createLogger({ level: o.verbose ? 'debug' : 'warn', destination: 2 });
  void io;
  const manager = await openCliReader(o, logger);
  try {
    return await manager.withCard('cli', 0, (card) =>
      o.psamSlot === undefined ? fn({ card, psam: undefined, logger }) : manager.withCard('cli', o.psamSlot, (psam) => fn({ card, psam, logger })),
    );
  } finally {
    await manager.close();
  }
}
