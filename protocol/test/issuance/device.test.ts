import t from 'tap';
import { concat, fromHex, toHex } from '../../src/bytes.ts';
import * as iss from '../../src/issuance/index.ts';
import { fuzz, rng } from '../ssc/fixtures/helpers.ts';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const str = (b: Uint8Array): string => String.fromCharCode(...b);

t.test('[issuance §9.2 CODE KIOSK-JS] command texts of the CRT-591 family', async (t) => {
  t.equal(str(iss.encodeDeviceCommand({ kind: 'status' })), 'C10');
  t.equal(str(iss.encodeDeviceCommand({ kind: 'move', to: 'contact' })), 'C222');
  t.equal(str(iss.encodeDeviceCommand({ kind: 'move', to: 'print' })), 'C224');
  t.equal(str(iss.encodeDeviceCommand({ kind: 'icReset' })), 'CI00');
  t.equal(str(iss.encodeDeviceCommand({ kind: 'samReset' })), 'CI@0');
  t.equal(toHex(iss.encodeDeviceCommand({ kind: 'icApdu', apdu: fromHex('0084000008') })), toHex(ascii('CI3')) + '0084000008');
  t.equal(toHex(iss.encodeDeviceCommand({ kind: 'samApdu', apdu: fromHex('00A4040006D15600000590') })).slice(0, 6), toHex(ascii('CII')));
  t.equal(str(iss.encodeDeviceCommand({ kind: 'eject' })), 'CE0');
  t.equal(str(iss.encodeDeviceCommand({ kind: 'retain' })), 'CR0');
  const cmds: iss.DeviceCommand[] = [
    { kind: 'status' }, { kind: 'move', to: 'magnetic' }, { kind: 'move', to: 'contactless' }, { kind: 'icReset' }, { kind: 'samReset' },
    { kind: 'icApdu', apdu: fromHex('00B2012C00') }, { kind: 'samApdu', apdu: fromHex('80FA000008' + '11'.repeat(8)) }, { kind: 'print', text: '张三\nA12345678' }, { kind: 'eject' }, { kind: 'retain' },
  ];
  for (const c of cmds) t.same(iss.decodeDeviceCommand(iss.encodeDeviceCommand(c)), c, `round trip ${c.kind}`);
  for (const bad of ['C2', 'C225', 'C10X', 'CI01', 'CI3' + '\x00\x84', 'X10', 'CZZ', 'CE01']) t.throws(() => iss.decodeDeviceCommand(ascii(bad)), { code: 'PROTO_ERR_DEVICE_COMMAND' }, bad);
  t.throws(() => iss.decodeDeviceCommand(concat(ascii('CP0'), fromHex('C3'))), { code: 'PROTO_ERR_DEVICE_COMMAND' }, 'not UTF-8');
  t.throws(() => iss.encodeDeviceCommand({ kind: 'icApdu', apdu: new Uint8Array(3) }), { code: 'PROTO_ERR_DEVICE_COMMAND' });
  t.throws(() => iss.encodeDeviceCommand({ kind: 'print', text: '' }), { code: 'PROTO_ERR_DEVICE_COMMAND' });
});

t.test('[issuance §9.2] replies: P with data from offset 5, N with a 4-digit code', async (t) => {
  const okR: iss.DeviceReply = { ok: true, command: 'CI3', position: 'contact', stock: 'low', data: fromHex('9000') };
  const text = iss.encodeDeviceReply(okR);
  t.equal(str(text.subarray(0, 5)), 'PI321');
  t.equal(toHex(text.subarray(5)), '9000', 'data from offset 5');
  t.same(iss.decodeDeviceReply(text), okR);
  const nR: iss.DeviceReply = { ok: false, command: 'C22', error: '0016' };
  t.equal(str(iss.encodeDeviceReply(nR)), 'N220016');
  t.same(iss.decodeDeviceReply(iss.encodeDeviceReply(nR)), nR);
  for (const bad of ['P2', 'P2290', 'P2209', 'N221234', 'N22001', 'X220000']) t.throws(() => iss.decodeDeviceReply(ascii(bad)), { code: 'PROTO_ERR_DEVICE_REPLY' }, bad);
  t.throws(() => iss.encodeDeviceReply({ ok: false, command: 'X1', error: '0016' }), { code: 'PROTO_ERR_DEVICE_REPLY' });
  t.equal(iss.DEVICE_ERRORS['0009'], 'feeder empty');
});

t.test('[ONECARD] frames: STX len text ETX BCC, incremental, resynchronising', async (t) => {
  const f = iss.frameDeviceText(ascii('C10'));
  t.equal(toHex(f), '020003433130' + '03' + toHex(Uint8Array.of(0x02 ^ 0x00 ^ 0x03 ^ 0x43 ^ 0x31 ^ 0x30 ^ 0x03)));
  const d = new iss.DeviceDeframer();
  const two = concat(f, iss.frameDeviceText(ascii('CE0')));
  const got: string[] = [];
  for (const b of two) for (const x of d.push(Uint8Array.of(b))) got.push(str(x));
  t.same(got, ['C10', 'CE0'], 'byte by byte');
  t.throws(() => d.push(fromHex('FF02')), { code: 'PROTO_ERR_DEVICE_FRAME' });
  t.same(d.push(f.subarray(1)).map(str), ['C10'], 'resynchronised on the 02 after the garbage');
  const corrupt = f.slice();
  corrupt[f.length - 1]! ^= 1;
  t.throws(() => d.push(corrupt), { code: 'PROTO_ERR_DEVICE_BCC' });
  t.same(d.push(f).map(str), ['C10']);
  const noEtx = f.slice();
  noEtx[6] = 0x04;
  t.throws(() => d.push(noEtx), { code: 'PROTO_ERR_DEVICE_FRAME' });
  t.throws(() => d.push(fromHex('020000')), { code: 'PROTO_ERR_DEVICE_FRAME' }, 'length 0');
  t.throws(() => d.push(new Uint8Array(0)), { code: 'PROTO_ERR_DEVICE_FRAME' }, 'the rest of the bad frame is dropped as garbage');
  t.same(d.push(concat(f, fromHex('55'))).map(str), ['C10'], 'frame before garbage is returned');
  t.throws(() => d.push(new Uint8Array(0)), { code: 'PROTO_ERR_DEVICE_FRAME' }, 'garbage reported next');
  t.throws(() => iss.frameDeviceText(new Uint8Array(0)), { code: 'PROTO_ERR_DEVICE_FRAME' });
  t.throws(() => iss.frameDeviceText(new Uint8Array(1025)), { code: 'PROTO_ERR_DEVICE_FRAME' });
});

t.test('bounded random bytes: decoders and deframer throw only coded errors', async (t) => {
  const c = fuzz((b) => iss.decodeDeviceCommand(b), { maxLen: 40, count: 5000 });
  t.same([...c.codes], ['PROTO_ERR_DEVICE_COMMAND']);
  const r = fuzz((b) => iss.decodeDeviceReply(b), { maxLen: 20, count: 5000, seed: 9 });
  t.same([...r.codes], ['PROTO_ERR_DEVICE_REPLY']);
  const d = new iss.DeviceDeframer();
  const bytes = rng(77);
  let frames = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const chunk = i % 3 === 0 ? iss.frameDeviceText(bytes(1 + (i % 40))) : bytes(i % 17);
    try {
      frames += d.push(chunk).length;
    } catch (err) {
      codes.add((err as { code: string }).code);
    }
  }
  t.ok(frames > 0, 'valid frames among garbage are still found');
  t.ok([...codes].every((x) => x === 'PROTO_ERR_DEVICE_FRAME' || x === 'PROTO_ERR_DEVICE_BCC'));
});
