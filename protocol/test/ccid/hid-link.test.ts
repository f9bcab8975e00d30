import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { encodeHidReports, createHidReassembler, HID_LINK } from '../../src/ccid/hid-link.ts';
import type { HidLinkEvent, HidReassembler } from '../../src/ccid/hid-link.ts';
import { mulberry32 as rng } from '../support/prng.ts';


function pad(hex: string, size = 64): string {
  return (hex.replace(/\s/g, '') + '00'.repeat(size)).slice(0, size * 2).toUpperCase();
}

function feed(r: HidReassembler, reports: readonly Uint8Array[]): Array<string | [string, string]> {
  const out: Array<string | [string, string]> = [];
  for (const rep of reports) {
    for (const e of r.push(rep)) out.push(e.type === 'message' ? toHex(e.message) : [e.code, e.field]);
  }
  return out;
}

const GET_SLOT_STATUS = '65000000000000000000';

t.test('[HID link §2] vectors', async (t) => {
  const one = encodeHidReports(fromHex(GET_SLOT_STATUS));
  t.same(one.map(toHex), [pad('01 03 00 0A' + GET_SLOT_STATUS)]);
  const msg = Uint8Array.from({ length: 61 }, (_, i) => i + 1);
  const two = encodeHidReports(msg);
  t.same(two.map(toHex), [
    pad('01 01 00 3C' + toHex(msg.subarray(0, 60))),
    pad('01 02 01 01 3D'),
  ]);
  t.same(encodeHidReports(fromHex(GET_SLOT_STATUS), { reportId: 0, reportSize: 16 }).map(toHex), [pad('00 03 00 0A' + GET_SLOT_STATUS, 16)]);
  const r = createHidReassembler();
  t.same(feed(r, two), [toHex(msg)]);
});

t.test('[HID link §3] round trips at boundaries and the maximum, sequence wraps', async (t) => {
  const r = createHidReassembler();
  for (const n of [1, 59, 60, 61, 119, 120, 121, 60 * 256, 60 * 256 + 1, HID_LINK.MAX_MESSAGE_LENGTH]) {
    const msg = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
    const reports = encodeHidReports(msg);
    t.equal(reports.length, Math.ceil(n / 60), `${n} bytes in ${reports.length} reports`);
    t.ok(reports.every((x) => x.length === 64));
    const ev = feed(r, reports);
    t.same(ev, [toHex(msg)], `${n} bytes back`);
    t.notOk(r.inProgress);
  }
  const big = encodeHidReports(new Uint8Array(60 * 300));
  t.equal(big[256]![2], 0, 'sequence wraps to 00 after FF');
});

t.test('[HID link §2 §3] bad inputs are coded errors', async (t) => {
  const msg = Uint8Array.from({ length: 150 }, (_, i) => i);
  const [a, b, c] = encodeHidReports(msg) as [Uint8Array, Uint8Array, Uint8Array];
  const mod = (rep: Uint8Array, at: number, v: number) => {
    const x = rep.slice();
    x[at] = v;
    return x;
  };
  const cases: Array<[string, Uint8Array[], Array<string | [string, string]>]> = [
    ['short report', [a.subarray(0, 63)], [['PROTO_ERR_CCID_HID_REPORT_SIZE', 'report']]],
    ['wrong report id', [mod(a, 0, 2)], [['PROTO_ERR_CCID_HID_REPORT_ID', 'reportId']]],
    ['reserved flag', [mod(a, 1, 0x05)], [['PROTO_ERR_CCID_HID_FLAGS', 'flags']]],
    ['length above 60', [mod(c, 3, 61)], [['PROTO_ERR_CCID_HID_LENGTH', 'length']]],
    ['short non-last report', [mod(a, 3, 59)], [['PROTO_ERR_CCID_HID_LENGTH', 'length']]],
    ['empty last report', [a, b, mod(c, 3, 0)], [['PROTO_ERR_CCID_HID_LENGTH', 'length']]],
    ['non-zero padding', [a, b, mod(c, 63, 1)], [['PROTO_ERR_CCID_HID_PADDING', 'padding']]],
    ['first report with sequence 1', [mod(a, 2, 1)], [['PROTO_ERR_CCID_HID_SEQUENCE', 'sequence']]],
    ['missing first', [b, c], [['PROTO_ERR_CCID_HID_MISSING_FIRST', 'flags'], ['PROTO_ERR_CCID_HID_MISSING_FIRST', 'flags']]],
    ['skipped report', [a, c], [['PROTO_ERR_CCID_HID_SEQUENCE', 'sequence']]],
    ['repeated report', [a, a.slice(), b, c], [['PROTO_ERR_CCID_HID_UNEXPECTED_FIRST', 'flags'], toHex(msg)]],
    ['out of order', [a, c, b], [['PROTO_ERR_CCID_HID_SEQUENCE', 'sequence'], ['PROTO_ERR_CCID_HID_MISSING_FIRST', 'flags']]],
    ['recovers on the next first report', [b, a, b, c], [['PROTO_ERR_CCID_HID_MISSING_FIRST', 'flags'], toHex(msg)]],
  ];
  for (const [name, reports, expected] of cases) t.same(feed(createHidReassembler(), reports), expected, name);
  t.same(feed(createHidReassembler({ maxMessageLength: 100 }), [a, b]), [['PROTO_ERR_CCID_HID_OVERFLOW', 'length']], 'length overflow');
  t.throws(() => encodeHidReports(new Uint8Array(0)), { code: 'PROTO_ERR_CCID_HID_LENGTH' });
  t.throws(() => encodeHidReports(new Uint8Array(HID_LINK.MAX_MESSAGE_LENGTH + 1)), { code: 'PROTO_ERR_CCID_HID_OVERFLOW' });
  t.throws(() => encodeHidReports(msg, { reportSize: 4 }), { code: 'PROTO_ERR_CCID_FIELD' });
  t.throws(() => createHidReassembler({ reportId: 256 }), { code: 'PROTO_ERR_CCID_FIELD' });
});

t.test('[HID link §3] random messages interleaved with faults: only coded events, good messages survive', async (t) => {
  const r = rng(5);
  let threw = 0;
  let lost = 0;
  for (let i = 0; i < 500; i++) {
    const msg = Uint8Array.from({ length: 1 + Math.floor(r() * 400) }, () => Math.floor(r() * 256));
    const re = createHidReassembler();
    const junk = Uint8Array.from({ length: 64 }, () => Math.floor(r() * 256));
    let events: HidLinkEvent[] = [];
    try {
      events = [...re.push(junk), ...encodeHidReports(msg).flatMap((x) => re.push(x))];
    } catch {
      threw++;
    }
    const last = events[events.length - 1];
    if (last?.type !== 'message' || toHex(last.message) !== toHex(msg)) lost++;
  }
  t.equal(threw, 0);
  t.equal(lost, 0, 'a complete message after junk is always delivered');
});

t.test('[HID link §3] bounded random reports: no throw, only coded errors, bounded state', async (t) => {
  const r = rng(77);
  const re = createHidReassembler({ maxMessageLength: 2000 });
  let threw = 0;
  let messages = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const size = r() < 0.98 ? 64 : Math.floor(r() * 70);
    const rep = new Uint8Array(size);
    if (size >= 4) {
      rep[0] = r() < 0.95 ? 1 : Math.floor(r() * 256);
      rep[1] = r() < 0.9 ? Math.floor(r() * 4) : Math.floor(r() * 256);
      rep[2] = r() < 0.5 ? i & 0xff : Math.floor(r() * 4);
      rep[3] = r() < 0.6 ? 60 : Math.floor(r() * 64);
      for (let k = 4; k < 4 + Math.min(rep[3]!, size - 4); k++) rep[k] = Math.floor(r() * 256);
      if (r() < 0.02 && size > 10) rep[size - 1] = 1;
    }
    try {
      for (const e of re.push(rep)) {
        if (e.type === 'message') messages++;
        else codes.add(e.code);
      }
    } catch {
      threw++;
    }
  }
  t.equal(threw, 0);
  for (const c of codes) t.match(c, /^PROTO_ERR_CCID_HID_/);
  t.ok(messages > 0, `some messages (${messages})`);
  t.ok(codes.size >= 6, `many kinds of errors (${[...codes].join(' ')})`);
});
