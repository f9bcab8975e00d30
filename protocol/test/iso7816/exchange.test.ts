import t, { type Test } from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import type { CommandApdu, ResponseApdu } from '../../src/iso7816/apdu.ts';
import type { ExchangeOptions, ExchangeStep } from '../../src/iso7816/exchange.ts';
import { startExchange, stepExchange } from '../../src/iso7816/exchange.ts';

type Script = ReadonlyArray<readonly [sent: string, reply: string]>;

/** Runs an exchange against a scripted card; checks every command sent and that the script is used up. */
function run(t: Test, apdu: CommandApdu, opts: ExchangeOptions, script: Script): ResponseApdu {
  let step: ExchangeStep = startExchange(apdu, opts);
  for (let i = 0; ; i++) {
    if ('done' in step) {
      t.equal(i, script.length, 'script used up');
      return step.done;
    }
    const line = script[i];
    if (line === undefined) throw new Error(`unexpected command ${toHex(step.send)}`);
    t.equal(toHex(step.send), line[0].replace(/\s/g, ''), `command ${i + 1}`);
    step = stepExchange(step.state, fromHex(line[1]));
  }
}

const hdr = (cla: number, ins: number, p1 = 0, p2 = 0) => ({ cla, ins, p1, p2 });
const T0: ExchangeOptions = { transport: 't0' };

t.test('[7816-3 §12.2] T=0 case 1 gets P3 = 00', async (t) => {
  const r = run(t, hdr(0x80, 0x16), T0, [['8016000000', '9000']]);
  t.equal(r.sw, 0x9000);
  t.equal(r.data.length, 0);
  // on T=1 / APDU level the case-1 APDU goes as is
  run(t, hdr(0x80, 0x16), {}, [['80160000', '9000']]);
});

t.test('[reader-link §6.6] T=0 case 4 sent as case 3 then GET RESPONSE on 61xx (INTERNAL AUTHENTICATE)', async (t) => {
  const apdu = { ...hdr(0, 0x88), data: fromHex('00112233445566778899AABBCCDDEEFF'), le: 8 };
  const r = run(t, apdu, T0, [
    ['008800001000112233445566778899AABBCCDDEEFF', '6108'],
    ['00C0000008', '0102030405060708 9000'],
  ]);
  t.same(r, { data: fromHex('0102030405060708'), sw1: 0x90, sw2: 0, sw: 0x9000 });
});

t.test('[reader-link §6.2] PSAM 80 70 -> 61 08 -> 00 C0 00 00 08 (GET RESPONSE class 00)', async (t) => {
  const r = run(t, { ...hdr(0x80, 0x70), data: new Uint8Array(0x24), le: 8 }, T0, [
    ['8070000024' + '00'.repeat(0x24), '6108'],
    ['00C0000008', 'AABBCCDDEEFF0011 9000'],
  ]);
  t.equal(toHex(r.data), 'AABBCCDDEEFF0011');
  // "same" class option keeps the original CLA minus the chaining bit
  run(t, { ...hdr(0x80, 0x70), data: fromHex('01'), le: 8 }, { ...T0, getResponseCla: 'same' }, [['807000000101', '6108'], ['80C0000008', '9000']]);
  // GSM-style class A0
  run(t, { ...hdr(0xa0, 0xa4), data: fromHex('3F00') }, { getResponseCla: 0xa0 }, [['A0A40000023F00', '611A'], ['A0C000001A', '9000']]);
});

t.test('[reader-link §6.2] GET RESPONSE keeps the logical channel, clears chaining', async (t) => {
  run(t, { ...hdr(0x03, 0xca, 0x9f, 0x7f), le: 256 }, {}, [['03CA9F7F00', '6110'], ['03C0000010', '9000']]);
  // further interindustry class: channel 9 stays channel 9
  run(t, { ...hdr(0x45, 0xca, 0x9f, 0x7f), le: 256 }, {}, [['45CA9F7F00', '6110'], ['45C0000010', '9000']]);
  // secure-messaging bits are not copied, the channel is
  run(t, { ...hdr(0x0e, 0xca, 0x9f, 0x7f), le: 256 }, {}, [['0ECA9F7F00', '6110'], ['02C0000010', '9000']]);
  // 'same': the chaining bit is cleared
  run(t, { ...hdr(0x12, 0xca, 0x9f, 0x7f), le: 256 }, { getResponseCla: 'same' }, [['12CA9F7F00', '6110'], ['02C0000010', '9000']]);
});

t.test('[7816-4 §5.1.3] several 61xx rounds accumulate; data returned with 61xx is kept', async (t) => {
  const r = run(t, { ...hdr(0, 0xb0), le: 256 }, {}, [
    ['00B0000000', 'AA 6102'],
    ['00C0000002', 'BBCC 6100'],
    ['00C0000000', '00'.repeat(256) + '6101'],
    ['00C0000001', 'DD 9000'],
  ]);
  t.equal(r.data.length, 1 + 2 + 256 + 1);
  t.equal(toHex(r.data.subarray(0, 3)), 'AABBCC');
  t.equal(r.data[259], 0xdd);
  t.equal(r.sw, 0x9000);
});

t.test('[7816-4 §5.1.3] an error SW after 61xx ends the exchange with that SW and the data so far', async (t) => {
  const r = run(t, { ...hdr(0, 0xb0), le: 256 }, {}, [['00B0000000', '11 6101'], ['00C0000001', '6F00']]);
  t.same(r, { data: fromHex('11'), sw1: 0x6f, sw2: 0, sw: 0x6f00 });
});

t.test('[reader-link §6.2] bounded GET RESPONSE loop', async (t) => {
  let step: ExchangeStep = startExchange(hdr(0, 0xb0), { maxGetResponseRounds: 3 });
  let rounds = 0;
  t.throws(() => {
    for (;;) {
      if ('done' in step) break;
      step = stepExchange(step.state, fromHex('6100'));
      rounds++;
    }
  }, { code: 'PROTO_ERR_EXCHANGE_ROUNDS' });
  t.equal(rounds, 3);
  // total length cap: GET RESPONSE Le is clipped to the room left, then more data is refused
  let s = startExchange({ ...hdr(0, 0xb0), le: 10 }, { maxResponseLength: 10 });
  if ('done' in s) throw new Error('unexpected');
  const s2 = stepExchange(s.state, fromHex('0102030405 6110'));
  if ('done' in s2) throw new Error('unexpected');
  t.equal(toHex(s2.send), '00C0000005');
  t.throws(() => stepExchange(s2.state, fromHex('0102030405 6110')), { code: 'PROTO_ERR_EXCHANGE_TOO_LONG' });
  s = startExchange(hdr(0, 0xb0), { maxResponseLength: 2 });
  if ('done' in s) throw new Error('unexpected');
  t.throws(() => stepExchange(s.state, fromHex('010203 9000')), { code: 'PROTO_ERR_EXCHANGE_TOO_LONG' });
});

t.test('[reader-link §6.3] 6Cxx: exactly one resend with Le = xx (READ RECORD with Le 00)', async (t) => {
  const r = run(t, { ...hdr(0, 0xb2, 0x07, 0x00), le: 256 }, T0, [
    ['00B2070000', '6C0B'],
    ['00B207000B', '070931323334353637383958 9000'.replace('58 ', '')],
  ]);
  t.equal(r.sw, 0x9000);
  t.equal(r.data.length, 11);
  // a second 6Cxx is returned as is
  const r2 = run(t, { ...hdr(0, 0xb2, 1, 0), le: 256 }, T0, [['00B2010000', '6C12'], ['00B2010012', '6C10']]);
  t.equal(r2.sw, 0x6c10);
  // 6C00 means 256
  run(t, { ...hdr(0, 0xb0), le: 1 }, {}, [['00B0000001', '6C00'], ['00B0000000', '9000']]);
});

t.test('[reader-link §6.3] 6Cxx after GET RESPONSE resends the GET RESPONSE', async (t) => {
  const r = run(t, { ...hdr(0, 0xca), le: 256 }, {}, [
    ['00CA000000', 'AA 6105'],
    ['00C0000005', '6C03'],
    ['00C0000003', 'BBCCDD 9000'],
  ]);
  t.equal(toHex(r.data), 'AABBCCDD');
});

t.test('[7816-4 §5.1.1.1] command chaining with CLA b5 when data exceeds the maximum', async (t) => {
  const data = new Uint8Array(600).map((_, i) => i & 0xff);
  const r = run(t, { ...hdr(0x00, 0xda, 0x01, 0x02), data, le: 256 }, {}, [
    ['10DA0102FF' + toHex(data.subarray(0, 255)), '9000'],
    ['10DA0102FF' + toHex(data.subarray(255, 510)), '9000'],
    ['00DA01025A' + toHex(data.subarray(510)) + '00', '6102'],
    ['00C0000002', 'ABCD 9000'],
  ]);
  t.equal(toHex(r.data), 'ABCD');
  // smaller max command size, T=0 (last chunk of a case-4 command goes without Le)
  run(t, { ...hdr(0x80, 0xe2), data: fromHex('0102030405'), le: 4 }, { ...T0, maxCommandData: 2 }, [
    ['90E20000020102', '9000'],
    ['90E20000020304', '9000'],
    ['80E200000105', '6104'],
    ['00C0000004', '01020304 9000'],
  ]);
  // an intermediate error aborts the chain with that SW
  const r3 = run(t, { ...hdr(0, 0xda), data: new Uint8Array(300) }, {}, [['10DA0000FF' + '00'.repeat(255), '6884']]);
  t.equal(r3.sw, 0x6884);
  // chaining disabled and data too long: coded error
  t.throws(() => startExchange({ ...hdr(0, 0xda), data: new Uint8Array(300) }, { chaining: false }), { code: 'PROTO_ERR_EXCHANGE_TOO_LARGE' });
});

t.test('[7816-4 §5.1] extended length only when allowed', async (t) => {
  const data = new Uint8Array(300).fill(0x11);
  const r = run(t, { ...hdr(0, 0xda), data, le: 1000 }, { extendedLength: true }, [
    ['00DA000000012C' + '11'.repeat(300) + '03E8', '9000'],
  ]);
  t.equal(r.sw, 0x9000);
  // Ne > 256 without extended: sent as Le 00, the rest through 61xx
  run(t, { ...hdr(0, 0xb0), le: 1000 }, {}, [['00B0000000', '00'.repeat(256) + '6100'], ['00C0000000', '9000']]);
  // T=0 ignores the extended flag (T=0 cannot carry extended APDUs): chains instead
  run(t, { ...hdr(0, 0xda), data: new Uint8Array(256) }, { ...T0, extendedLength: true }, [
    ['10DA0000FF' + '00'.repeat(255), '9000'],
    ['00DA00000100', '9000'],
  ]);
  t.throws(() => startExchange(hdr(0, 0xb0), { maxCommandData: 300 }), { code: 'PROTO_ERR_EXCHANGE_OPTION' });
  t.throws(() => startExchange(hdr(0, 0xb0), { maxCommandData: 300, transport: 't0', extendedLength: true }), { code: 'PROTO_ERR_EXCHANGE_OPTION' });
});

t.test('[reader-link §6.2] EMV warning rule on T=0 (optional)', async (t) => {
  const apdu = { ...hdr(0x80, 0xae, 0x80), data: fromHex('0102'), le: 256 };
  // off (default): the warning ends the exchange
  t.equal(run(t, apdu, T0, [['80AE8000020102', '6283']]).sw, 0x6283);
  // on: GET RESPONSE Le 00, then 6C, data returned with the warning
  const r = run(t, apdu, { ...T0, getResponseOnWarning: true }, [
    ['80AE8000020102', '6283'],
    ['00C0000000', '6C04'],
    ['00C0000004', 'A1A2A3A4 9000'],
  ]);
  t.same(r, { data: fromHex('A1A2A3A4'), sw1: 0x62, sw2: 0x83, sw: 0x6283 });
  // "61 then 62xx": the last warning comes back with the data
  const r2 = run(t, apdu, T0, [['80AE8000020102', '6104'], ['00C0000004', 'A1A2A3A4 6283']]);
  t.equal(r2.sw, 0x6283);
  t.equal(r2.data.length, 4);
});

t.test('[ONECARD] T=0 case 4 answered 9000 without data ends with an empty response', async (t) => {
  const r = run(t, { ...hdr(0, 0x88), data: fromHex('11'), le: 8 }, T0, [['0088000001 11', '9000']]);
  t.same(r, { data: new Uint8Array(0), sw1: 0x90, sw2: 0, sw: 0x9000 });
});

t.test('[7816-3 §10.3.2] INS 6X/9X refused on T=0; bad inputs and finished state', async (t) => {
  t.throws(() => startExchange(hdr(0, 0x60), T0), { code: 'PROTO_ERR_EXCHANGE_T0_INS' });
  t.throws(() => startExchange(hdr(0, 0x92), T0), { code: 'PROTO_ERR_EXCHANGE_T0_INS' });
  t.doesNotThrow(() => startExchange(hdr(0, 0x92), {}));
  t.throws(() => startExchange({ ...hdr(0, 0xb0), le: 0 }), { code: 'PROTO_ERR_APDU_LE_RANGE' });
  t.throws(() => startExchange({ ...hdr(0x100, 0xb0) }), { code: 'PROTO_ERR_APDU_FIELD' });
  const s = startExchange(hdr(0, 0xb0));
  t.throws(() => stepExchange(s.state, fromHex('90')), { code: 'PROTO_ERR_RAPDU_TOO_SHORT' });
  const d = stepExchange(s.state, fromHex('9000'));
  t.ok('done' in d);
  t.throws(() => stepExchange(d.state, fromHex('9000')), { code: 'PROTO_ERR_EXCHANGE_FINISHED' });
  // states are immutable: stepping an old state again gives the same answer
  const s1 = startExchange({ ...hdr(0, 0xb0), le: 256 });
  const a = stepExchange(s1.state, fromHex('AA6101'));
  const b = stepExchange(s1.state, fromHex('AA6101'));
  t.same(a, b);
});

t.test('[7816-3 §12.2] random card responses: bounded, only coded errors', async (t) => {
  let seed = 31337;
  const rnd = (n: number): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return (seed >>> 8) % n; };
  const sw1s = [0x61, 0x6c, 0x90, 0x62, 0x63, 0x6a, 0x61, 0x61];
  let done = 0, coded = 0;
  for (let i = 0; i < 5000; i++) {
    const opts: ExchangeOptions = { transport: rnd(2) ? 't0' : 'apdu', maxGetResponseRounds: rnd(10), maxResponseLength: rnd(600), getResponseOnWarning: rnd(2) === 0, maxCommandData: 1 + rnd(255) };
    const nc = rnd(3) === 0 ? 0 : rnd(700);
    const apdu: CommandApdu = { ...hdr(rnd(0x80), 0xb0 + rnd(4)), ...(nc > 0 ? { data: new Uint8Array(nc) } : {}), ...(rnd(2) ? { le: 1 + rnd(300) } : {}) };
    try {
      let step: ExchangeStep = startExchange(apdu, opts);
      let n = 0;
      while (!('done' in step)) {
        if (++n > 1000) { t.fail('unbounded exchange'); return; }
        const resp = new Uint8Array(rnd(5) === 0 ? rnd(3) : 2 + rnd(40));
        if (resp.length >= 2) { resp[resp.length - 2] = sw1s[rnd(sw1s.length)]!; resp[resp.length - 1] = rnd(4) === 0 ? 0 : rnd(256); }
        step = stepExchange(step.state, resp);
      }
      done++;
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      coded++;
    }
  }
  t.ok(done > 100 && coded > 100, `${done} finished, ${coded} coded errors`);
});
