import t from 'tap';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { servicesSuite } from '../services/suite.ts';
import { PLANTED_PINS, plantedKeys, plantedSsns } from '../services/helpers.ts';

// Secrets never reach a log [common brief; style.md habit 8]: the whole services suite runs with a
// trace-level logger writing to memory, then every byte of output is scanned.
const dest = createMemoryDestination();
const logger = createLogger({ level: 'trace', destination: dest });

t.test('services suite with a trace logger', async (t) => {
  servicesSuite(t, logger);
});

t.test('no planted PIN, key or full SSN appears anywhere in the log output', async (t) => {
  const text = dest.text();
  const records = dest.records();
  t.ok(records.length > 500, `the suite logged (${records.length} lines)`);
  t.ok(records.some((r) => typeof r['apdu'] === 'string' && String(r['apdu']).startsWith('00 20 00 00 Lc=')), 'VERIFY commands were traced');
  t.ok(records.some((r) => String(r['apdu']).includes('<redacted')), 'with their data redacted');
  const upper = text.toUpperCase();
  for (const pin of PLANTED_PINS) {
    t.notOk(text.includes(pin), `PIN ${pin.slice(0, 1)}***** absent`);
  }
  for (const key of plantedKeys()) t.notOk(upper.includes(key), `key ${key.slice(0, 4)}… absent`);
  for (const ssn of plantedSsns()) {
    t.notOk(upper.includes(ssn.toUpperCase()), `SSN ${ssn.slice(0, 3)}… absent`);
    const hex = Array.from(new TextEncoder().encode(ssn), (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
    t.notOk(upper.includes(hex), `SSN ${ssn.slice(0, 3)}… absent as hex`);
  }
});
