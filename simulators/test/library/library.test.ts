import t from 'tap';
import { connect, type Socket } from 'node:net';
import { SimLibrary, startLibraryServer, checksumOf, readLine, type LibraryServer } from '../../src/library/index.ts';
import { decodeSip2, encodeSip2, checkoutRequest, readItemResult, readPatron, patronStatusRequest, type Sip2Message } from '@onecard/protocol/sip2';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 7, 2, 0, 0); // 10:00 in Beijing
const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function seed(clock: () => number): SimLibrary {
  return new SimLibrary({
    patrons: [
      { cardNumber: 'A00000001', name: '张三', expires: '2030-12-31' },
      { cardNumber: 'A00000002', name: '李四', blocked: true },
      { cardNumber: 'A00000003', name: '王五', finesFen: 1250 },
      { cardNumber: 'A00000004', name: '赵六', expires: '2026-12-06' },
      { cardNumber: 'A00000005', name: '钱七', lost: true },
    ],
    items: [{ barcode: '31000001', title: '红楼梦', location: '二楼文学' }, { barcode: '31000002', title: '围城' }],
    rules: { maxRenewals: 1 },
  }, clock);
}

/** A line client over TCP: sends a text line (checksummed here), resolves with the next response line. */
class LineClient {
  #socket: Socket;
  #buf = '';
  #waiters: ((line: string) => void)[] = [];
  #lines: string[] = [];
  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf += d.toString('latin1');
      let i;
      while ((i = this.#buf.indexOf('\r')) >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        const w = this.#waiters.shift();
        if (w) w(line); else this.#lines.push(line);
      }
    });
  }
  static async open(port: number): Promise<LineClient> {
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    return new LineClient(s);
  }
  sendRaw(bytes: Uint8Array): void { this.#socket.write(bytes); }
  next(): Promise<string> {
    const l = this.#lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => this.#waiters.push(r));
  }
  async ask(bodyWithAy: string): Promise<string> {
    const withAz = `${bodyWithAy}AZ`;
    this.sendRaw(ascii(`${withAz}${checksumOf(ascii(withAz))}\r`));
    return this.next();
  }
  close(): void { this.#socket.destroy(); }
  closed(): Promise<void> { return new Promise((r) => this.#socket.once('close', () => r())); }
}

const DATE = '20261207    100000';
const utf8 = (line: string): Uint8Array => Uint8Array.from(Buffer.from(line, 'latin1'));
const decoded = (line: string): Sip2Message => decodeSip2(utf8(line), { charset: 'utf-8', errorDetection: true });

t.test('checksum rule agrees with the SIP2 specification examples (written apart from the codec)', async (t) => {
  t.equal(checksumOf(ascii('09N19980821    085721                  APCertification Terminal Location|AOCertification Institute ID|ABCheckInBook|ACTPWord|BIN|AY2AZ')), 'D6A5');
  t.equal(checksumOf(ascii('941AY3AZ')), 'FDFA');
  t.same(readLine(ascii('941AY3AZFDFB'), 'utf-8', true), 'checksum');
  const r = readLine(ascii('09N19980821    085721                  APCertification Terminal Location|AOCertification Institute ID|ABCheckInBook|ACTPWord|BIN|AY2AZD6A5'), 'utf-8', true);
  t.ok(typeof r === 'object');
  if (typeof r === 'object') {
    t.equal(r.seq, '2');
    t.equal(r.fields.get('AB'), 'CheckInBook');
    t.equal(r.fields.get('AP'), 'Certification Terminal Location');
  }
});

t.test('circulation over TCP: login, status, patron status by card number, checkout, renew (limit), checkin with an overdue fine', async (t) => {
  let now = T0;
  const server: LibraryServer = await startLibraryServer({ library: seed(() => now), institutionId: 'LIB01', login: { user: 'sc01', password: 'pw01' } });
  t.teardown(() => server.close());
  const c = await LineClient.open(server.port);
  t.teardown(() => c.close());

  // Before login, circulation is refused.
  t.match(await c.ask(`2300020261207    100000AOLIB01|AAA00000001|AC|AD|AY0`), /^940/);
  t.match(await c.ask('9300CNsc01|COwrong|AY1'), /^940AY1AZ/);
  t.match(await c.ask('9300CNsc01|COpw01|AY2'), /^941AY2AZ/);
  const status = decoded(await c.ask('9900802.00AY3'));
  t.equal(status.code, '98');
  t.equal(status.fixed['onlineStatus'], 'Y');
  t.equal(status.fixed['dateTimeSync'], '20261207    100000', 'library local time (UTC+8)');

  const good = readPatron(decoded(await c.ask(`23000${DATE}AOLIB01|AAA00000001|AC|AD|AY4`)));
  t.equal(good.name, '张三');
  t.equal(good.valid, true);
  t.equal(good.status.chargePrivilegesDenied, false);
  t.equal(good.expires, '20301231');

  const out = decoded(await c.ask(`11NN${DATE}${' '.repeat(18)}AOLIB01|AAA00000001|AB31000001|AC|AY5`));
  t.same({ code: out.code, ok: out.fixed['ok'] }, { code: '12', ok: '1' });
  t.same(readItemResult(out).dueDate, '20270106    235959', '30 days');
  t.equal(readItemResult(out).title, '红楼梦');
  t.match(readItemResult(decoded(await c.ask(`11NN${DATE}${' '.repeat(18)}AOLIB01|AAA00000003|AB31000001|AC|AY6`))), { ok: false });

  now += 10 * DAY;
  const renewed = readItemResult(decoded(await c.ask(`29NN${DATE}${' '.repeat(18)}AOLIB01|AAA00000001|AB31000001|AC|AY7`)));
  t.same({ ok: renewed.ok, due: renewed.dueDate }, { ok: true, due: '20270205    235959' });
  const again = readItemResult(decoded(await c.ask(`29NN${DATE}${' '.repeat(18)}AOLIB01|AAA00000001|AB31000001|AC|AY8`)));
  t.equal(again.ok, false);
  t.match(again.screenMessages[0], /renewal limit \(1\)/);

  const info = decoded(await c.ask(`63000${DATE}${' '.repeat(10)}AOLIB01|AAA00000001|AC|AY9`));
  t.equal(info.fixed['chargedItemsCount'], '0001');

  now = Date.UTC(2027, 1, 8, 2, 0, 0); // three days after the due date
  const back = decoded(await c.ask(`09N${DATE}${DATE}APdesk|AOLIB01|AB31000001|AC|AY0`));
  t.same({ code: back.code, ok: back.fixed['ok'] }, { code: '10', ok: '1' });
  t.equal(readItemResult(back).feeAmount, '0.30');
  t.equal(server.library.patron('A00000001')?.finesFen, 30);
  t.same(server.library.log.map((l) => `${l.op}:${l.ok}`), ['checkout:true', 'checkout:false', 'renew:true', 'renew:false', 'checkin:true']);
});

t.test('refusals with their reason: blocked, fines, expired, lost, unknown patron', async (t) => {
  const server = await startLibraryServer({ library: seed(() => T0), institutionId: 'LIB01', login: { user: 'u', password: 'p' }, charset: 'gbk' });
  t.teardown(() => server.close());
  const c = await LineClient.open(server.port);
  t.teardown(() => c.close());
  t.match(await c.ask('9300CNu|COp|AY0'), /^941/);
  const opts = { charset: 'gbk', errorDetection: true } as const;
  const ask = async (card: string): Promise<ReturnType<typeof readPatron>> => {
    const req = encodeSip2({ ...patronStatusRequest({ institutionId: 'LIB01', terminalPassword: '', date: DATE }, card), seq: 1 }, opts);
    c.sendRaw(req);
    return readPatron(decodeSip2(utf8(await c.next()), opts));
  };
  const blocked = await ask('A00000002');
  t.equal(blocked.status.chargePrivilegesDenied, true);
  t.match(blocked.screenMessages[0], /停用/);
  t.equal(blocked.name, '李四', 'GBK name');
  const fines = await ask('A00000003');
  t.equal(fines.status.excessiveOutstandingFines, true);
  t.equal(fines.feeAmount, '12.50');
  t.match(fines.screenMessages[0], /罚款/);
  const expired = await ask('A00000004');
  t.equal(expired.status.chargePrivilegesDenied, true);
  t.match(expired.screenMessages[0], /expired/);
  const lost = await ask('A00000005');
  t.equal(lost.status.cardReportedLost, true);
  const unknown = await ask('Z99999999');
  t.equal(unknown.valid, false);
  // Checkout by the codec for the blocked patron: refused with the reason.
  c.sendRaw(encodeSip2({ ...checkoutRequest({ institutionId: 'LIB01', terminalPassword: '', date: DATE }, 'A00000002', '31000002'), seq: 2 }, opts));
  const r = readItemResult(decodeSip2(utf8(await c.next()), opts));
  t.equal(r.ok, false);
  t.match(r.screenMessages[0], /停用/);
});

t.test('[SIP2 2.00 §Error detection] a bad request checksum gets 96; 97 gets the last response again; faults damage or drop answers', async (t) => {
  const server = await startLibraryServer({ library: seed(() => T0), institutionId: 'LIB01', login: { user: 'u', password: 'p' } });
  t.teardown(() => server.close());
  const c = await LineClient.open(server.port);
  t.teardown(() => c.close());
  c.sendRaw(ascii('9300CNu|COp|AY0AZFFFF\r'));
  t.equal(await c.next(), '96AZFEF6');
  const ok = await c.ask('9300CNu|COp|AY1');
  t.match(ok, /^941AY1AZ/);
  t.equal(await c.ask('97'), ok, '97 → same bytes');
  server.faults.corruptResponses = 1;
  const bad = await c.ask('9900802.00AY2');
  t.throws(() => decoded(bad), { code: 'PROTO_ERR_SIP2_CHECKSUM' });
  const good = await c.ask('97');
  t.equal(decoded(good).code, '98');
  t.same(server.received, ['bad-checksum', '93', '97', '99', '97']);
  t.equal(server.refused.checksum, 1);
  // An overlong line without CR closes the connection.
  const closed = c.closed();
  c.sendRaw(new Uint8Array(5000).fill(0x41));
  await closed;
  t.pass('closed after 4096 bytes without CR');
});
