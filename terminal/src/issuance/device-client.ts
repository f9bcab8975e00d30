/**
 * The terminal's side of the card-issuing device link [issuance §9; `@onecard/protocol/issuance`
 * device codec]: one command at a time, framed, answered by one reply, with a reply timeout. The
 * byte stream is injected ({@link DeviceLinkPort}: a `serialport` SerialPort, or an in-memory
 * pair in tests). {@link deviceApduPort} turns the device's IC and SAM pass-through into the
 * APDU ports the issuance flow uses.
 */
import { DEVICE_ERRORS, DeviceDeframer, type DeviceCommand, type DeviceReply, decodeDeviceReply, encodeDeviceCommand, frameDeviceText } from '@onecard/protocol/issuance';
import { encodeCommandApdu, type CommandApdu } from '@onecard/protocol/iso7816';
import { isProtocolError } from '@onecard/protocol/errors';
import { TerminalError } from '../errors.ts';

/** The byte stream of the device. */
export interface DeviceLinkPort {
  write(data: Uint8Array): unknown;
  onData(listener: (data: Uint8Array) => void): void;
}

/** Positive device reply (a negative one is thrown as `TERM_ERR_ISSUANCE_DEVICE`). */
export type DeviceOk = Extract<DeviceReply, { ok: true }>;

/** The device as the issuance flow sees it. */
export interface IssuingDevice {
  /**
   * Sends one command and waits for its reply.
   * @throws TerminalError `TERM_ERR_ISSUANCE_DEVICE` (details.error = the device's 4-digit code) on
   *   a negative reply, `TERM_ERR_ISSUANCE_DEVICE_LINK` when no reply comes in time or it is garbage.
   */
  command(cmd: DeviceCommand): Promise<DeviceOk>;
}

/** Opens a client over `port`; `timeoutMs` per reply (default 10 s: a print takes seconds). */
export function createDeviceClient(port: DeviceLinkPort, opts: { readonly timeoutMs?: number } = {}): IssuingDevice {
  const deframer = new DeviceDeframer();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let pending: { resolve: (r: DeviceReply) => void; reject: (e: Error) => void } | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  port.onData((data) => {
    let texts: Uint8Array[];
    try {
      texts = deframer.push(data);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      pending?.reject(new TerminalError('TERM_ERR_ISSUANCE_DEVICE_LINK', 'garbage on the line', {}, { cause: err }));
      pending = undefined;
      return;
    }
    for (const t of texts) {
      const p = pending;
      pending = undefined;
      if (p === undefined) continue; // a late reply after a timeout
      try {
        p.resolve(decodeDeviceReply(t));
      } catch (err) {
        p.reject(new TerminalError('TERM_ERR_ISSUANCE_DEVICE_LINK', 'malformed reply', {}, { cause: err }));
      }
    }
  });
  const once = (cmd: DeviceCommand): Promise<DeviceOk> =>
    new Promise<DeviceReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending = undefined;
        reject(new TerminalError('TERM_ERR_ISSUANCE_DEVICE_LINK', `no reply to ${cmd.kind}`));
      }, timeoutMs);
      pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      port.write(frameDeviceText(encodeDeviceCommand(cmd)));
    }).then((r) => {
      if (!r.ok) throw new TerminalError('TERM_ERR_ISSUANCE_DEVICE', `${r.error} ${DEVICE_ERRORS[r.error]} (${cmd.kind})`, { error: r.error, meaning: DEVICE_ERRORS[r.error], command: cmd.kind });
      return r;
    });
  return {
    command(cmd) {
      const run = chain.then(() => once(cmd));
      chain = run.catch(() => undefined);
      return run;
    },
  };
}

/** A response APDU: data and SW. */
export interface ApduResult {
  readonly data: Uint8Array;
  readonly sw: number;
}

/** Something that exchanges APDUs (the card through the device, the PSAM in its SAM slot). */
export interface ApduPort {
  /** Powers/resets the chip; returns the ATR. */
  reset(): Promise<Uint8Array>;
  transmit(apdu: CommandApdu): Promise<ApduResult>;
}

/** The card (`ic`) or SAM (`sam`) contacts of the device as an {@link ApduPort}. */
export function deviceApduPort(device: IssuingDevice, which: 'ic' | 'sam'): ApduPort {
  return {
    async reset() {
      return (await device.command({ kind: which === 'ic' ? 'icReset' : 'samReset' })).data;
    },
    async transmit(apdu) {
      const r = (await device.command({ kind: which === 'ic' ? 'icApdu' : 'samApdu', apdu: encodeCommandApdu(apdu) })).data;
      if (r.length < 2) throw new TerminalError('TERM_ERR_ISSUANCE_DEVICE_LINK', 'response APDU shorter than SW1 SW2');
      return { data: r.slice(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
    },
  };
}
