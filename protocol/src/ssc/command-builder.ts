/**
 * Shared plumbing of the card-application command builders (ssc, psam, purse): one way to build a
 * {@link CommandApdu} without undefined fields, and parameter checks that throw the calling
 * area's `*_PARAM` code naming the field at fault.
 */
import { ProtocolError, type ProtocolErrorCode } from '../errors.ts';
import type { CommandApdu } from '../iso7816/apdu.ts';

/** Builds a command APDU, leaving `data` and `le` out when not given. */
export function cmd(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): CommandApdu {
  const c: { cla: number; ins: number; p1: number; p2: number; data?: Uint8Array; le?: number } = { cla, ins, p1, p2 };
  if (data !== undefined) c.data = data;
  if (le !== undefined) c.le = le;
  return c;
}

/** Parameter checks bound to one area's error code. */
export interface ParamChecks {
  param(ok: boolean, detail: string, field: string): void;
  byteParam(v: number, field: string, min?: number, max?: number): void;
  lenParam(data: Uint8Array, lengths: readonly number[], field: string): void;
  uintParam(v: number, max: number, field: string): void;
}

export function paramChecks(code: ProtocolErrorCode): ParamChecks {
  const param = (ok: boolean, detail: string, field: string): void => {
    if (!ok) throw new ProtocolError(code, detail, { field });
  };
  return {
    param,
    byteParam: (v, field, min = 0, max = 0xff) => param(Number.isInteger(v) && v >= min && v <= max, `must be ${min}–${max}`, field),
    lenParam: (data, lengths, field) => param(lengths.includes(data.length), `length must be one of ${lengths.join('/')}`, field),
    uintParam: (v, max, field) => param(Number.isInteger(v) && v >= 0 && v <= max, `must be 0–${max.toString(16).toUpperCase()}`, field),
  };
}
