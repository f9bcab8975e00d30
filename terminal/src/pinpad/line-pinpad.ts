/**
 * Driver of a PIN pad on a serial line speaking the OneCard PIN pad line protocol (docs/kiosk.md
 * "PIN pad"): ASCII lines ending in LF (a CR before it is ignored), at most 64 characters.
 *
 *   terminal → pad   `ENTER <min> <max>`   start an entry (the pad clears its digits and prompts)
 *                    `ABORT`               end the entry (page cancelled, card removed, timeout)
 *   pad → terminal   `KEY <n>`             n digits are on the pad now (after a digit or a correction)
 *                    `PIN <digits>`        the holder pressed Enter
 *                    `CANCEL`              the holder pressed Cancel
 *
 * Lines outside an entry are ignored. The digits reach only the promise of `readPin`; no line is
 * ever logged with its content. The line runs inside the box between the pad and the terminal;
 * an encrypting pad with PIN blocks would sit behind the same {@link PinPad} interface.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import { abortError, type PinPad, type PinReadRequest } from './pinpad.ts';

/** The byte stream of the pad (a `serialport` SerialPort, or a test double). */
export interface PinPadPort {
  write(data: string): unknown;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  close(): unknown;
}

const MAX_LINE = 64;

interface Pending {
  readonly req: PinReadRequest;
  resolve(pin: string): void;
  reject(e: TerminalError): void;
}

/** A {@link PinPad} over `port`. */
export function createLinePinPad(port: PinPadPort, opts: { readonly logger?: Logger; readonly name?: string } = {}): PinPad {
  const name = opts.name ?? 'pinpad';
  let connected = true;
  let buffer = '';
  let pending: Pending | undefined;
  const finish = (f: (p: Pending) => void): void => {
    const p = pending;
    pending = undefined;
    if (p !== undefined) f(p);
  };
  const gone = (why: string): void => {
    if (!connected) return;
    connected = false;
    opts.logger?.warn({ pinpad: name, why }, 'PIN pad gone');
    finish((p) => p.reject(new TerminalError('TERM_ERR_PINPAD_UNAVAILABLE', why)));
  };
  const onLine = (line: string): void => {
    const p = pending;
    if (p === undefined) return;
    const key = /^KEY (\d{1,2})$/.exec(line);
    if (key !== null) {
      const n = Number(key[1]);
      if (n <= p.req.maxLength) p.req.onKey(n);
      return;
    }
    if (line === 'CANCEL') return finish((q) => q.reject(new TerminalError('TERM_ERR_PINPAD_CANCELLED', 'cancelled on the PIN pad')));
    if (line.startsWith('PIN ')) {
      const digits = line.slice(4);
      const ok = /^[0-9]+$/.test(digits) && digits.length >= p.req.minLength && digits.length <= p.req.maxLength;
      return finish((q) => (ok ? q.resolve(digits) : q.reject(new TerminalError('TERM_ERR_PINPAD_PROTOCOL', 'PIN line of the wrong shape'))));
    }
    // Never the line itself: it may hold digits.
    opts.logger?.warn({ pinpad: name, length: line.length }, 'PIN pad line not understood');
  };
  port.on('data', (d) => {
    buffer += d.toString('latin1');
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i).replace(/\r$/, '');
      buffer = buffer.slice(i + 1);
      onLine(line);
    }
    if (buffer.length > MAX_LINE) {
      buffer = '';
      finish((p) => p.reject(new TerminalError('TERM_ERR_PINPAD_PROTOCOL', `line longer than ${MAX_LINE}`)));
    }
  });
  port.on('error', (e) => gone(e.message));
  port.on('close', () => gone('closed'));

  return {
    get connected() {
      return connected;
    },
    readPin(req) {
      if (!connected) return Promise.reject(new TerminalError('TERM_ERR_PINPAD_UNAVAILABLE'));
      if (pending !== undefined) return Promise.reject(new TerminalError('TERM_ERR_PINPAD_BUSY'));
      if (req.signal.aborted) return Promise.reject(abortError(req.signal));
      return new Promise<string>((resolve, reject) => {
        const onAbort = (): void => {
          if (pending?.req !== req) return;
          pending = undefined;
          port.write('ABORT\n');
          reject(abortError(req.signal));
        };
        pending = {
          req,
          resolve: (pin) => {
            req.signal.removeEventListener('abort', onAbort);
            resolve(pin);
          },
          reject: (e) => {
            req.signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        };
        req.signal.addEventListener('abort', onAbort, { once: true });
        buffer = '';
        port.write(`ENTER ${req.minLength} ${req.maxLength}\n`);
      });
    },
    async close() {
      connected = false;
      finish((p) => p.reject(new TerminalError('TERM_ERR_PINPAD_UNAVAILABLE', 'closed')));
      await port.close();
    },
  };
}

/**
 * Opens a PIN pad on a serial port through `serialport` (8N1).
 * @throws TerminalError `TERM_ERR_LINK_OPEN`
 */
export async function openSerialPinPad(path: string, baudRate: number, logger?: Logger): Promise<PinPad> {
  const { SerialPort } = createRequire(import.meta.url)('serialport') as typeof import('serialport');
  const port = await new Promise<InstanceType<typeof SerialPort>>((resolve, reject) => {
    const p = new SerialPort({ path, baudRate, autoOpen: false });
    p.open((err) => (err ? reject(new TerminalError('TERM_ERR_LINK_OPEN', `PIN pad ${path}`, { path }, { cause: err })) : resolve(p)));
  });
  return createLinePinPad(port, { name: `serial:${path}`, ...(logger === undefined ? {} : { logger }) });
}
