/**
 * APDU serializer for the simulator's logs: secret-bearing command data is masked (VERIFY 20,
 * CHANGE REFERENCE DATA 24, RESET RETRY COUNTER 2C, CHANGE PIN 5E, EXTERNAL AUTHENTICATE 82,
 * key loading D4) [reader-link §6.7]; responses are logged as SW and length only, so personal
 * data items never reach a log.
 */

const SECRET_INS = new Set([0x20, 0x24, 0x2c, 0x5e, 0x82, 0xd4]);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** Hex of a command APDU with its data field replaced by `**` when the INS carries secrets. */
export function maskCommand(apdu: Uint8Array): string {
  if (apdu.length <= 5 || !SECRET_INS.has(apdu[1] as number)) return hex(apdu);
  return `${hex(apdu.subarray(0, 5))}${'**'.repeat(apdu.length - 5)}`;
}

/** `{sw, length}` of a response APDU. */
export function describeResponse(r: Uint8Array): { sw: string; dataLength: number } {
  return { sw: r.length >= 2 ? hex(r.subarray(r.length - 2)) : '', dataLength: Math.max(0, r.length - 2) };
}
