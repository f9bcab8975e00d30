/**
 * The logger masks with the one personal-data table of `@onecard/protocol/ssc` and the one
 * secret-bearing instruction list of `@onecard/protocol/iso7816`: every field either side masked
 * before the tables were folded is masked (reset information, whose historical bytes end with the
 * card serial, included), and CIPHER DATA is masked in every class.
 */
import t from 'tap';
import { PERSONAL_DATA_MASKERS, PERSONAL_FIELD_MASKERS } from '@onecard/protocol/ssc';
import { createLogger, createMemoryDestination, serializeCommandApdu, serializePersonal } from '../../src/log/index.ts';

const RESET_INFO = '639900D15600000500C0FFEE1A2B3C4D';

t.test('every personal field of the shared table is masked in log records', async (t) => {
  for (const k of ['ssn', 'name', 'cardNumber', 'cardId', 'birthDate', 'birthplace', 'resetInfo', 'readCardBas']) t.ok(k in PERSONAL_DATA_MASKERS, k);
  for (const k of Object.keys(PERSONAL_FIELD_MASKERS)) t.equal(PERSONAL_DATA_MASKERS[k], PERSONAL_FIELD_MASKERS[k], `${k} from the one table`);
  const dest = createMemoryDestination();
  const log = createLogger({ level: 'info', destination: dest });
  log.info({ resetInfo: RESET_INFO, req: { resetInfo: RESET_INFO, birthplace: '北京' } }, 'reset');
  const [r] = dest.records();
  t.equal(r?.['resetInfo'], '639900D15600000500**************', 'top level');
  t.same(r?.['req'], { resetInfo: '639900D15600000500**************', birthplace: '**' }, 'one level down');
  t.notOk(dest.text().includes('C0FFEE1A2B3C4D'), 'card serial absent');
  t.match(serializePersonal({ resetInfo: RESET_INFO, version: '2.00' }), { resetInfo: '639900D15600000500**************', version: '2.00' });
});

t.test('CIPHER DATA is masked whatever its class; other proprietary commands are not', async (t) => {
  t.equal(serializeCommandApdu({ cla: 0x00, ins: 0xfa, p1: 0, p2: 0, data: Uint8Array.of(1, 2, 3) }), '00 FA 00 00 Lc=3 <redacted 3 bytes>');
  t.equal(serializeCommandApdu({ cla: 0x90, ins: 0xfa, p1: 0, p2: 0, data: Uint8Array.of(1, 2), le: 8 }), '90 FA 00 00 Lc=2 <redacted 2 bytes> Le=8');
  t.equal(serializeCommandApdu({ cla: 0x80, ins: 0xca, p1: 0, p2: 0, data: Uint8Array.of(0xab) }), '80 CA 00 00 Lc=1 AB');
});
