import t from 'tap';
import { verifyPin, changePin } from '@onecard/protocol/ssc';
import { cipherData } from '@onecard/protocol/psam';
import { responseApdu } from '@onecard/protocol/iso7816';
import { createLogger, createMemoryDestination, serializeCommandApdu, serializeResponseApdu, serializePersonal } from '../../src/log/index.ts';

t.test('APDU serializer masks secret-bearing commands and CIPHER DATA [reader-link §6.7]', async (t) => {
  t.equal(serializeCommandApdu(verifyPin('583719')), '00 20 00 00 Lc=3 <redacted 3 bytes>');
  t.equal(serializeCommandApdu(changePin('583719', '246813')), '80 5E 01 00 Lc=7 <redacted 7 bytes>');
  t.equal(serializeCommandApdu(cipherData('encryptLast', Uint8Array.of(3, 0x58, 0x37, 0x19, 0x80, 0, 0, 0))), '80 FA 00 00 Lc=8 <redacted 8 bytes> Le=256');
  t.equal(serializeCommandApdu({ cla: 0, ins: 0xb2, p1: 1, p2: 0, le: 18 }), '00 B2 01 00 Le=18');
  t.equal(serializeCommandApdu('x'), '<not an APDU>');
  t.same(serializeResponseApdu(responseApdu(Uint8Array.of(1, 2, 3), 0x9000)), { sw: '9000', len: 3 });
  t.equal(serializeResponseApdu(null), '<not an APDU>');
});

t.test('personal data is masked, PINs and keys censored, at top level and one level down', async (t) => {
  const dest = createMemoryDestination();
  const log = createLogger({ level: 'info', destination: dest });
  log.info({ card: { ssn: '00000019850315018X', name: '欧阳娜娜', cardNumber: 'E1000009X', birthDate: '19850315' } }, 'card');
  log.info({ pin: '583719', req: { newPin: '246813', key: '544553542D49524B2D4445532D303031' }, ssn: '00000019850315018X' }, 'secrets');
  log.info({ info: { readCardBas: '639900|00000019850315018X|E1000009X|639900D15600000500C0FFEE1A2B3C4D|欧阳娜娜|0081|2.00|20200101|20300101|639900000001||' } }, 'bas');
  const [a, b, c] = dest.records();
  t.same(a?.['card'], { ssn: '000*************8X', name: '欧***', cardNumber: 'E*******X', birthDate: '********' });
  t.equal(b?.['pin'], '[redacted]');
  t.same(b?.['req'], { newPin: '[redacted]', key: '[redacted]' });
  t.equal(b?.['ssn'], '000*************8X');
  t.match(String((c?.['info'] as Record<string, unknown>)['readCardBas']), /^639900\|000\*+8X\|E\*+X\|639900\*+\|欧\*+\|/);
  const text = dest.text();
  for (const s of ['583719', '246813', '544553542D', '00000019850315018X']) t.notOk(text.includes(s), `${s.slice(0, 3)}… absent`);
});

t.test('level and destination', async (t) => {
  const dest = createMemoryDestination();
  const log = createLogger({ level: 'warn', destination: dest, base: { terminalId: 'T1' } });
  log.info('hidden');
  log.warn('shown');
  const recs = dest.records();
  t.equal(recs.length, 1);
  t.equal(recs[0]?.['terminalId'], 'T1');
  t.same(serializePersonal(7), 7);
});
