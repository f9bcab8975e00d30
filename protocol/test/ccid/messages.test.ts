import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import {
  decodeCcidMessage, decodeCcidCommand, decodeCcidResponse, encodeCcidMessage, decodeStatus, encodeStatus,
  describeSlotError, isTimeExtension, extendedTimeout, decodeCcidInterrupt, encodeCcidInterrupt,
  decodeProtocolParameters, encodeProtocolParameters, T0_DEFAULT_PARAMETERS, T1_DEFAULT_PARAMETERS,
  needsNextBlock, exchangeLevel, peekCcidMessageLength, PC_TO_RDR, RDR_TO_PC,
} from '../../src/ccid/messages.ts';
import type { CcidMessage } from '../../src/ccid/messages.ts';
import { mulberry32 as rng } from '../support/prng.ts';


const ok = { iccStatus: 'present-active', commandStatus: 'ok' } as const;

// Vectors: hex as it goes on the wire, and the object it means. [CCID §7.1, §7.2, §7.3]
const vectors: Array<[string, string, CcidMessage]> = [
  ['IccPowerOn auto voltage', '62 00000000 00 01 00 00 00', { type: 'PC_to_RDR_IccPowerOn', bSlot: 0, bSeq: 1, bPowerSelect: 0 }],
  ['IccPowerOn 3 V', '62 00000000 00 02 02 00 00', { type: 'PC_to_RDR_IccPowerOn', bSlot: 0, bSeq: 2, bPowerSelect: 2 }],
  ['IccPowerOff', '63 00000000 01 05 00 00 00', { type: 'PC_to_RDR_IccPowerOff', bSlot: 1, bSeq: 5 }],
  ['GetSlotStatus', '65 00000000 00 00 00 00 00', { type: 'PC_to_RDR_GetSlotStatus', bSlot: 0, bSeq: 0 }],
  ['XfrBlock SELECT', '6F 07000000 00 03 00 00 00 00A4040002 3F00', { type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 3, bBWI: 0, wLevelParameter: 0, abData: fromHex('00A40400023F00') }],
  ['XfrBlock chain begin, level 0001', '6F 01000000 00 04 00 01 00 AA', { type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 4, bBWI: 0, wLevelParameter: 1, abData: fromHex('AA') }],
  ['XfrBlock empty, level 0010', '6F 00000000 00 05 00 10 00', { type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 5, bBWI: 0, wLevelParameter: 0x10, abData: new Uint8Array(0) }],
  ['GetParameters', '6C 00000000 00 06 00 00 00', { type: 'PC_to_RDR_GetParameters', bSlot: 0, bSeq: 6 }],
  ['ResetParameters', '6D 00000000 00 07 00 00 00', { type: 'PC_to_RDR_ResetParameters', bSlot: 0, bSeq: 7 }],
  ['SetParameters T=0 defaults', '61 05000000 00 08 00 00 00 1100000A00', { type: 'PC_to_RDR_SetParameters', bSlot: 0, bSeq: 8, parameters: T0_DEFAULT_PARAMETERS }],
  ['SetParameters T=1 defaults', '61 07000000 00 09 01 00 00 1110004D002000', { type: 'PC_to_RDR_SetParameters', bSlot: 0, bSeq: 9, parameters: T1_DEFAULT_PARAMETERS }],
  ['Escape firmware probe', '6B 01000000 00 0A 00 00 00 02', { type: 'PC_to_RDR_Escape', bSlot: 0, bSeq: 10, abData: fromHex('02') }],
  ['IccClock stop', '6E 00000000 00 0B 01 00 00', { type: 'PC_to_RDR_IccClock', bSlot: 0, bSeq: 11, bClockCommand: 1 }],
  ['T0APDU', '6A 00000000 00 0C 03 00 80', { type: 'PC_to_RDR_T0APDU', bSlot: 0, bSeq: 12, bmChanges: 3, bClassGetResponse: 0, bClassEnvelope: 0x80 }],
  ['Secure', '69 02000000 00 0D 00 00 00 0102', { type: 'PC_to_RDR_Secure', bSlot: 0, bSeq: 13, bBWI: 0, wLevelParameter: 0, abData: fromHex('0102') }],
  ['Mechanical eject', '71 00000000 00 0E 04 00 00', { type: 'PC_to_RDR_Mechanical', bSlot: 0, bSeq: 14, bFunction: 4 }],
  ['Abort', '72 00000000 00 0F 00 00 00', { type: 'PC_to_RDR_Abort', bSlot: 0, bSeq: 15 }],
  ['SetDataRateAndClockFrequency 4000 kHz / 9600', '73 08000000 00 10 00 00 00 A00F0000 80250000', { type: 'PC_to_RDR_SetDataRateAndClockFrequency', bSlot: 0, bSeq: 16, dwClockFrequency: 4000, dwDataRate: 9600 }],
  ['DataBlock ATR', '80 04000000 00 01 00 00 00 3B021450', { type: 'RDR_to_PC_DataBlock', bSlot: 0, bSeq: 1, bStatus: ok, bError: 0, bChainParameter: 0, abData: fromHex('3B021450') }],
  ['DataBlock time extension x2', '80 00000000 00 03 80 02 00', { type: 'RDR_to_PC_DataBlock', bSlot: 0, bSeq: 3, bStatus: { iccStatus: 'present-active', commandStatus: 'time-extension' }, bError: 2, bChainParameter: 0, abData: new Uint8Array(0) }],
  ['SlotStatus absent, failed ICC_MUTE', '81 00000000 00 00 42 FE 00', { type: 'RDR_to_PC_SlotStatus', bSlot: 0, bSeq: 0, bStatus: { iccStatus: 'absent', commandStatus: 'failed' }, bError: 0xfe, bClockStatus: 0 }],
  ['SlotStatus present inactive, clock stopped', '81 00000000 00 00 01 00 03', { type: 'RDR_to_PC_SlotStatus', bSlot: 0, bSeq: 0, bStatus: { iccStatus: 'present-inactive', commandStatus: 'ok' }, bError: 0, bClockStatus: 3 }],
  ['Parameters T=1', '82 07000000 00 09 00 00 01 1110004D002000', { type: 'RDR_to_PC_Parameters', bSlot: 0, bSeq: 9, bStatus: ok, bError: 0, bProtocolNum: 1, parameters: T1_DEFAULT_PARAMETERS }],
  ['Parameters failed, no data', '82 00000000 00 09 40 F6 00', { type: 'RDR_to_PC_Parameters', bSlot: 0, bSeq: 9, bStatus: { iccStatus: 'present-active', commandStatus: 'failed' }, bError: 0xf6, bProtocolNum: 0, parameters: null }],
  ['Escape reply firmware', '83 03000000 00 0A 00 00 00 474331', { type: 'RDR_to_PC_Escape', bSlot: 0, bSeq: 10, bStatus: ok, bError: 0, abData: fromHex('474331') }],
  ['DataRateAndClockFrequency', '84 08000000 00 10 00 00 00 A00F0000 80250000', { type: 'RDR_to_PC_DataRateAndClockFrequency', bSlot: 0, bSeq: 16, bStatus: ok, bError: 0, rates: { dwClockFrequency: 4000, dwDataRate: 9600 } }],
  ['DataRateAndClockFrequency failed', '84 00000000 00 10 40 00 00', { type: 'RDR_to_PC_DataRateAndClockFrequency', bSlot: 0, bSeq: 16, bStatus: { iccStatus: 'present-active', commandStatus: 'failed' }, bError: 0, rates: null }],
];

t.test('[CCID §7.1 §7.2] vectors decode and encode', async (t) => {
  for (const [name, hex, obj] of vectors) {
    const bytes = fromHex(hex);
    t.same(decodeCcidMessage(bytes), obj, `decode ${name}`);
    t.equal(toHex(encodeCcidMessage(obj)), toHex(bytes), `encode ${name}`);
  }
  const covered = new Set(vectors.map((v) => v[2].type));
  for (const k of [...Object.keys(PC_TO_RDR), ...Object.keys(RDR_TO_PC)]) t.ok(covered.has(k as CcidMessage['type']), `vector for ${k}`);
});

t.test('[CCID §7.2] bStatus fields', async (t) => {
  t.same(decodeStatus(0x00), { iccStatus: 'present-active', commandStatus: 'ok' });
  t.same(decodeStatus(0x41), { iccStatus: 'present-inactive', commandStatus: 'failed' });
  t.same(decodeStatus(0x82), { iccStatus: 'absent', commandStatus: 'time-extension' });
  for (const b of [0x00, 0x01, 0x02, 0x40, 0x41, 0x42, 0x80, 0x81, 0x82]) t.equal(encodeStatus(decodeStatus(b)), b);
  t.throws(() => decodeStatus(0x03), { code: 'PROTO_ERR_CCID_STATUS' });
  t.throws(() => decodeStatus(0xc0), { code: 'PROTO_ERR_CCID_STATUS' });
  t.throws(() => decodeStatus(0x04), { code: 'PROTO_ERR_CCID_STATUS' });
});

t.test('[CCID §7.2] bError names', async (t) => {
  t.same(describeSlotError(0xfe), { bError: 0xfe, name: 'ICC_MUTE' });
  t.same(describeSlotError(0xfd), { bError: 0xfd, name: 'XFR_PARITY_ERROR' });
  t.same(describeSlotError(0xf0), { bError: 0xf0, name: 'PIN_TIMEOUT' });
  t.same(describeSlotError(0xef), { bError: 0xef, name: 'PIN_CANCELLED' });
  t.same(describeSlotError(0xbb), { bError: 0xbb, name: 'EMV_PROTOCOL_ERROR' });
  t.same(describeSlotError(0x00), { bError: 0, name: 'CMD_NOT_SUPPORTED' });
  t.same(describeSlotError(0x05), { bError: 5, name: 'BAD_HEADER_FIELD', headerOffset: 5 });
  t.same(describeSlotError(0xa0), { bError: 0xa0, name: 'UNKNOWN' });
});

t.test('[CCID §5] time extension is a normal message', async (t) => {
  const m = decodeCcidResponse(fromHex('80 00000000 00 03 80 05 00'));
  t.ok(isTimeExtension(m));
  t.equal(extendedTimeout(3000, m), 15000);
  const zero = decodeCcidResponse(fromHex('80 00000000 00 03 80 00 00'));
  t.equal(extendedTimeout(3000, zero), 3000, 'multiplier 0 keeps the timeout');
  const normal = decodeCcidResponse(fromHex('80 02000000 00 03 00 00 00 9000'));
  t.notOk(isTimeExtension(normal));
  t.equal(extendedTimeout(3000, normal), 3000);
  t.notOk(isTimeExtension(decodeCcidCommand(fromHex('65 00000000 00 00 00 00 00'))));
});

t.test('[CCID §7.3] protocol data structures', async (t) => {
  t.same(decodeProtocolParameters(0, fromHex('1100000A00')), T0_DEFAULT_PARAMETERS);
  t.same(decodeProtocolParameters(1, fromHex('1113FF7403FE05')), {
    protocol: 1, bmFindexDindex: 0x11, bmTCCKST1: 0x13, bGuardTimeT1: 0xff, bmWaitingIntegersT1: 0x74, bClockStop: 3, bIFSC: 0xfe, bNadValue: 5,
  });
  t.equal(toHex(encodeProtocolParameters(T1_DEFAULT_PARAMETERS)), '1110004D002000');
  t.throws(() => decodeProtocolParameters(0, fromHex('1101000A00')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'bmTCCKST0 bit 0');
  t.throws(() => decodeProtocolParameters(1, fromHex('1100004D002000')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'bmTCCKST1 without 10');
  t.throws(() => decodeProtocolParameters(1, fromHex('1110004D000000')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'IFSC 00');
  t.throws(() => decodeProtocolParameters(1, fromHex('1110004D00FF00')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'IFSC FF');
  t.throws(() => decodeProtocolParameters(0, fromHex('1100000A04')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'bClockStop 4');
  t.throws(() => decodeProtocolParameters(0, fromHex('1100000A')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'short T=0');
  t.throws(() => decodeProtocolParameters(2, fromHex('11')), { code: 'PROTO_ERR_CCID_PARAMETERS' }, 'T=2');
});

t.test('[CCID §7.4 §7.5] chaining and features', async (t) => {
  t.same([0, 1, 2, 3, 0x10].map(needsNextBlock), [false, true, false, true, true]);
  t.equal(exchangeLevel(0x00010230), 'tpdu');
  t.equal(exchangeLevel(0x000400fe), 'extended-apdu');
  t.equal(exchangeLevel(0x00020000), 'short-apdu');
  t.equal(exchangeLevel(0x00000000), 'character');
  t.equal(exchangeLevel(0x00030000), 'unknown');
});

t.test('[CCID §7.2] bad inputs fail with codes', async (t) => {
  const bad: Array<[string, string, string]> = [
    ['short header', '65 00000000 00 00 00 00', 'PROTO_ERR_CCID_TRUNCATED'],
    ['data shorter than dwLength', '6F 05000000 00 00 00 00 00 0102', 'PROTO_ERR_CCID_TRUNCATED'],
    ['trailing byte', '65 00000000 00 00 00 00 00 00', 'PROTO_ERR_CCID_TRAILING'],
    ['unknown type', '64 00000000 00 00 00 00 00', 'PROTO_ERR_CCID_MESSAGE_TYPE'],
    ['interrupt type on bulk', '50 00000000 00 00 00 00 00', 'PROTO_ERR_CCID_MESSAGE_TYPE'],
    ['IccPowerOn with data', '62 01000000 00 00 00 00 00 00', 'PROTO_ERR_CCID_LENGTH'],
    ['SlotStatus with data', '81 01000000 00 00 00 00 00 00', 'PROTO_ERR_CCID_LENGTH'],
    ['GetSlotStatus RFU', '65 00000000 00 00 00 01 00', 'PROTO_ERR_CCID_RFU'],
    ['Escape reply RFU', '83 00000000 00 00 00 00 01', 'PROTO_ERR_CCID_RFU'],
    ['bPowerSelect 4', '62 00000000 00 00 04 00 00', 'PROTO_ERR_CCID_FIELD'],
    ['bClockCommand 2', '6E 00000000 00 00 02 00 00', 'PROTO_ERR_CCID_FIELD'],
    ['bFunction 0', '71 00000000 00 00 00 00 00', 'PROTO_ERR_CCID_FIELD'],
    ['bClockStatus 4', '81 00000000 00 00 00 00 04', 'PROTO_ERR_CCID_FIELD'],
    ['bStatus RFU', '80 00000000 00 00 C0 00 00', 'PROTO_ERR_CCID_STATUS'],
    ['SetParameters T=2', '61 05000000 00 00 02 00 00 1100000A00', 'PROTO_ERR_CCID_PARAMETERS'],
    ['SetParameters T=1 with 5 bytes', '61 05000000 00 00 01 00 00 1100000A00', 'PROTO_ERR_CCID_LENGTH'],
    ['SetParameters bad bmTCCKST1', '61 07000000 00 00 01 00 00 1120004D002000', 'PROTO_ERR_CCID_PARAMETERS'],
    ['Parameters T=0 with 7 bytes', '82 07000000 00 00 00 00 00 1110004D002000', 'PROTO_ERR_CCID_PARAMETERS'],
    ['SetDataRate short', '73 04000000 00 00 00 00 00 A00F0000', 'PROTO_ERR_CCID_LENGTH'],
    ['DataRate reply 4 bytes', '84 04000000 00 00 00 00 00 A00F0000', 'PROTO_ERR_CCID_LENGTH'],
  ];
  for (const [name, hex, code] of bad) t.throws(() => decodeCcidMessage(fromHex(hex)), { code }, name);
  t.same(decodeCcidMessage(fromHex('65 00000000 00 00 00 01 00'), { strictRfu: false }), { type: 'PC_to_RDR_GetSlotStatus', bSlot: 0, bSeq: 0 }, 'lenient RFU');
  t.throws(() => decodeCcidCommand(fromHex('81 00000000 00 00 00 00 00')), { code: 'PROTO_ERR_CCID_MESSAGE_TYPE' });
  t.throws(() => decodeCcidResponse(fromHex('65 00000000 00 00 00 00 00')), { code: 'PROTO_ERR_CCID_MESSAGE_TYPE' });
  t.throws(() => encodeCcidMessage({ type: 'PC_to_RDR_GetSlotStatus', bSlot: 256, bSeq: 0 }), { code: 'PROTO_ERR_CCID_FIELD' });
  t.throws(() => encodeCcidMessage({ type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 0, bBWI: 0, wLevelParameter: 0x10000, abData: new Uint8Array(0) }), { code: 'PROTO_ERR_CCID_FIELD' });
  t.throws(() => encodeCcidMessage({ type: 'PC_to_RDR_IccPowerOn', bSlot: 0, bSeq: 0, bPowerSelect: 4 }), { code: 'PROTO_ERR_CCID_FIELD' });
  t.throws(() => encodeCcidMessage({ type: 'RDR_to_PC_Parameters', bSlot: 0, bSeq: 0, bStatus: ok, bError: 0, bProtocolNum: 0, parameters: T1_DEFAULT_PARAMETERS }), { code: 'PROTO_ERR_CCID_PARAMETERS' });
  t.throws(() => encodeCcidMessage({ type: 'PC_to_RDR_SetParameters', bSlot: 0, bSeq: 0, parameters: { ...T1_DEFAULT_PARAMETERS, bIFSC: 0 } }), { code: 'PROTO_ERR_CCID_PARAMETERS' });
});

t.test('[CCID §7.2] peekCcidMessageLength', async (t) => {
  t.equal(peekCcidMessageLength(fromHex('6F 0400')), null);
  t.equal(peekCcidMessageLength(fromHex('6F 04000000')), 14);
  t.equal(peekCcidMessageLength(fromHex('6F FFFFFFFF')), 10 + 0xffffffff);
});

t.test('[CCID §7.1] interrupt messages', async (t) => {
  t.same(decodeCcidInterrupt(fromHex('5003')), { type: 'RDR_to_PC_NotifySlotChange', slots: [
    { present: true, changed: true }, { present: false, changed: false }, { present: false, changed: false }, { present: false, changed: false },
  ] });
  const two = decodeCcidInterrupt(fromHex('5002'));
  t.same(two.type === 'RDR_to_PC_NotifySlotChange' && two.slots[0], { present: false, changed: true });
  const five = decodeCcidInterrupt(fromHex('50C3 02'));
  t.same(five.type === 'RDR_to_PC_NotifySlotChange' && five.slots.map((s) => (s.present ? 1 : 0) | (s.changed ? 2 : 0)), [3, 0, 0, 3, 2, 0, 0, 0]);
  t.equal(toHex(encodeCcidInterrupt({ type: 'RDR_to_PC_NotifySlotChange', slots: [{ present: true, changed: true }, { present: false, changed: true }] })), '500B');
  t.same(decodeCcidInterrupt(fromHex('51 00 07 01')), { type: 'RDR_to_PC_HardwareError', bSlot: 0, bSeq: 7, bHardwareErrorCode: 1 });
  t.equal(toHex(encodeCcidInterrupt({ type: 'RDR_to_PC_HardwareError', bSlot: 1, bSeq: 2, bHardwareErrorCode: 1 })), '51010201');
  t.throws(() => decodeCcidInterrupt(fromHex('50')), { code: 'PROTO_ERR_CCID_INTERRUPT' });
  t.throws(() => decodeCcidInterrupt(fromHex('510001')), { code: 'PROTO_ERR_CCID_INTERRUPT' });
  t.throws(() => decodeCcidInterrupt(new Uint8Array(0)), { code: 'PROTO_ERR_CCID_INTERRUPT' });
  t.throws(() => decodeCcidInterrupt(fromHex('80')), { code: 'PROTO_ERR_CCID_MESSAGE_TYPE' });
  t.throws(() => encodeCcidInterrupt({ type: 'RDR_to_PC_NotifySlotChange', slots: [] }), { code: 'PROTO_ERR_CCID_INTERRUPT' });
});

t.test('[CCID §7.2] random round trips of valid messages', async (t) => {
  const r = rng(7);
  const byte = () => Math.floor(r() * 256);
  const data = () => Uint8Array.from({ length: Math.floor(r() * 40) }, byte);
  const status = () => ({ iccStatus: (['present-active', 'present-inactive', 'absent'] as const)[Math.floor(r() * 3)]!, commandStatus: (['ok', 'failed', 'time-extension'] as const)[Math.floor(r() * 3)]! });
  const makers: Array<() => CcidMessage> = [
    () => ({ type: 'PC_to_RDR_XfrBlock', bSlot: byte(), bSeq: byte(), bBWI: byte(), wLevelParameter: byte() | (byte() << 8), abData: data() }),
    () => ({ type: 'PC_to_RDR_SetParameters', bSlot: byte(), bSeq: byte(), parameters: { ...T1_DEFAULT_PARAMETERS, bmTCCKST1: 0x10 | (byte() & 3), bIFSC: 1 + Math.floor(r() * 254), bNadValue: byte() } }),
    () => ({ type: 'PC_to_RDR_SetDataRateAndClockFrequency', bSlot: byte(), bSeq: byte(), dwClockFrequency: Math.floor(r() * 2 ** 32), dwDataRate: Math.floor(r() * 2 ** 32) }),
    () => ({ type: 'RDR_to_PC_DataBlock', bSlot: byte(), bSeq: byte(), bStatus: status(), bError: byte(), bChainParameter: byte(), abData: data() }),
    () => ({ type: 'RDR_to_PC_SlotStatus', bSlot: byte(), bSeq: byte(), bStatus: status(), bError: byte(), bClockStatus: byte() & 3 }),
    () => ({ type: 'RDR_to_PC_Escape', bSlot: byte(), bSeq: byte(), bStatus: status(), bError: byte(), abData: data() }),
  ];
  let n = 0;
  for (let i = 0; i < 3000; i++) {
    const m = makers[i % makers.length]!();
    const bytes = encodeCcidMessage(m);
    const back = decodeCcidMessage(bytes);
    if (toHex(encodeCcidMessage(back)) === toHex(bytes) && JSON.stringify(back, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)) === JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v))) n++;
  }
  t.equal(n, 3000);
});

t.test('[CCID §7.2] bounded random bytes: coded errors only, and strict decode is exact', async (t) => {
  const r = rng(42);
  const codes = [...Object.values(PC_TO_RDR), ...Object.values(RDR_TO_PC), 0x50, 0x00, 0xff];
  let decoded = 0;
  let failures = 0;
  let uncoded = 0;
  let inexact = 0;
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(r() * 24);
    const b = Uint8Array.from({ length: len }, () => (r() < 0.5 ? 0 : Math.floor(r() * 256)));
    if (len > 0 && r() < 0.8) b[0] = codes[Math.floor(r() * codes.length)]!;
    if (len >= 5 && r() < 0.7) new DataView(b.buffer).setUint32(1, Math.max(0, len - 10 + Math.floor(r() * 3) - 1), true);
    try {
      const m = decodeCcidMessage(b);
      decoded++;
      if (toHex(encodeCcidMessage(m)) !== toHex(b)) inexact++;
    } catch (err) {
      if (isProtocolError(err)) failures++;
      else uncoded++;
    }
  }
  t.equal(uncoded, 0, 'only ProtocolError');
  t.equal(inexact, 0, 'decode then encode gives the same bytes');
  t.ok(decoded > 100, `some inputs decode (${decoded})`);
  t.ok(failures > 100, `some inputs fail (${failures})`);
});
