import t from 'tap';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { SerialPort } from 'serialport';
import { fromHex, toHex, concat } from '@onecard/protocol/bytes';
import { DeviceDeframer, decodeDeviceReply, encodeDeviceCommand, frameDeviceText, type DeviceCommand, type DeviceReply } from '@onecard/protocol/issuance';
import { IssuingDeviceCore, openSerialIssuingDevice } from '../../src/issuance/device.ts';
import { BlankCard, type BlankCardProfile } from '../../src/issuance/blank-card.ts';
import { createIssuancePsam } from '../../src/issuance/psam.ts';

const key = fromHex('00112233445566778899AABBCCDDEEFF');
const roots = { irk: key, stk: key, ukssse: key, bk: key, puk: key, rkssse: key };
const blank = (n: number): BlankCard => new BlankCard({ version: '2.00', protocol: 0, seed: n, region: '639900', cardSerial: Uint8Array.of(0, 0, 0, n), cardAuthCode: fromHex('01020304'), cardType: '3', initOrg: '639900000001', roots } satisfies BlankCardProfile);

function send(core: IssuingDeviceCore<BlankCard>, c: DeviceCommand): DeviceReply {
  const out = core.receive(frameDeviceText(encodeDeviceCommand(c)));
  const d = new DeviceDeframer();
  const texts = out.flatMap((o) => d.push(o));
  if (texts.length !== 1) throw new Error(`expected one reply, got ${texts.length}`);
  return decodeDeviceReply(texts[0]!);
}

t.test('[issuance §9.1–9.3] dispense to the IC station, APDUs to card and SAM, print, eject, take', async (t) => {
  const cards = [blank(1), blank(2), blank(3)];
  const core = new IssuingDeviceCore({ stock: cards, sam: createIssuancePsam({ roots, region: '639900' }) });
  t.match(send(core, { kind: 'status' }), { ok: true, position: 'none', stock: 'ok' });
  t.match(send(core, { kind: 'icReset' }), { ok: false, error: '0017' }, 'no card at the IC station');
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: true, position: 'contact', stock: 'low' });
  const atr = send(core, { kind: 'icReset' });
  t.ok(atr.ok && toHex(atr.data) === toHex(cards[0]!.atr), 'ATR of the first stock card');
  const sel = send(core, { kind: 'icApdu', apdu: fromHex('00A404000F7378312E73682EC9E7BBE1B1A3D5CF') });
  t.ok(sel.ok && toHex(sel.data).endsWith('9000'), 'SELECT SSSE through the device');
  const sam = send(core, { kind: 'samApdu', apdu: fromHex('00A4040006D15600000590') });
  t.ok(sam.ok && toHex(sam.data).endsWith('9000'), 'SAM slot');
  t.match(send(core, { kind: 'print', text: '张三' }), { ok: false, error: '0017' }, 'print only at the print station');
  t.match(send(core, { kind: 'move', to: 'print' }), { ok: true, position: 'print' });
  t.match(send(core, { kind: 'icApdu', apdu: fromHex('0084000008') }), { ok: false, error: '0017' }, 'IC unreachable at the print station');
  t.match(send(core, { kind: 'print', text: '张三 A12345678' }), { ok: true });
  t.match(send(core, { kind: 'eject' }), { ok: true, position: 'bezel' });
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: false, error: '0015' }, 'a card waits at the bezel');
  t.equal(core.takeCard(), cards[0]);
  t.same(core.delivered.map((d) => d.face), ['张三 A12345678']);
  t.match(send(core, { kind: 'status' }), { ok: true, position: 'none' });
});

t.test('[issuance §9.2] faults: empty stock, jam (one-shot), stuck card until retained, power cycle', async (t) => {
  const core = new IssuingDeviceCore<BlankCard>({ stock: [blank(4)] });
  core.injectFault('empty');
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: false, error: '0009' });
  core.clearFaults();
  core.injectFault('jam');
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: false, error: '0016' });
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: true, position: 'contact', stock: 'empty' }, 'jam cleared');
  t.match(send(core, { kind: 'icReset' }), { ok: true });
  core.powerCycle();
  t.match(send(core, { kind: 'icApdu', apdu: fromHex('0084000008') }), { ok: false, error: '0019' }, 'IC unpowered after a power cut');
  t.equal(core.snapshot().position, 'contact', 'the card stays in the transport');
  core.injectFault('stuck');
  t.match(send(core, { kind: 'move', to: 'print' }), { ok: false, error: '0016' });
  t.match(send(core, { kind: 'eject' }), { ok: false, error: '0016' });
  t.match(send(core, { kind: 'retain' }), { ok: true, position: 'none' });
  t.equal(core.retained.length, 1);
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: false, error: '0009' }, 'stock now empty');
  core.load([blank(5)]);
  t.match(send(core, { kind: 'move', to: 'contact' }), { ok: true }, 'stuck cleared by the retain');
});

t.test('garbage and unknown commands on the line', async (t) => {
  const core = new IssuingDeviceCore<BlankCard>({ stock: [] });
  t.same(core.receive(fromHex('FFFF')), []);
  t.ok(core.garbageFrames >= 1);
  const out = core.receive(frameDeviceText(Uint8Array.from('CZZ', (c) => c.charCodeAt(0))));
  t.match(decodeDeviceReply(new DeviceDeframer().push(out[0]!)[0]!), { ok: false, command: 'CZZ', error: '0005' });
  const two = core.receive(concat(frameDeviceText(encodeDeviceCommand({ kind: 'status' })), frameDeviceText(encodeDeviceCommand({ kind: 'status' }))));
  t.equal(two.length, 2, 'two frames in one chunk, two replies');
});

t.test('[issuance §9.2] the device over a pseudo-terminal', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-dev-'));
  const link = path.join(dir, 'issuer0');
  const card = blank(6);
  const dev = openSerialIssuingDevice(new IssuingDeviceCore({ stock: [card] }), { path: link });
  t.teardown(async () => {
    await dev.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const port = new SerialPort({ path: link, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  const d = new DeviceDeframer();
  const replies: DeviceReply[] = [];
  let wake: () => void = () => undefined;
  port.on('data', (b: Buffer) => {
    for (const x of d.push(new Uint8Array(b))) replies.push(decodeDeviceReply(x));
    wake();
  });
  const ask = async (c: DeviceCommand): Promise<DeviceReply> => {
    const n = replies.length;
    const got = new Promise<void>((r) => (wake = r));
    port.write(Buffer.from(frameDeviceText(encodeDeviceCommand(c))));
    while (replies.length === n) await got;
    return replies[n]!;
  };
  t.match(await ask({ kind: 'move', to: 'contact' }), { ok: true, position: 'contact' });
  const atr = await ask({ kind: 'icReset' });
  t.ok(atr.ok && toHex(atr.data) === toHex(card.atr));
  t.match(await ask({ kind: 'retain' }), { ok: true });
  await new Promise<void>((r) => port.close(() => r()));
});
