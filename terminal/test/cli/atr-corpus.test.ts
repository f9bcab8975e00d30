import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { runAtrCorpus, concretise, DEFAULT_CORPUS } from '../corpus/atr-corpus.ts';

t.test('corpus driver: pattern substitution and failure detection on a small inline list', async (t) => {
  t.equal(concretise('3B .. 41 73'), '3B004173');
  t.equal(concretise('3B 65 00 00 9C 1[01] 01 01 03'), '3B6500009C10010103');
  t.equal(concretise('3B 6F 00 00 80 5A .. 0[1-5]'), '3B6F0000805A0001');
  t.equal(concretise('3B [^0] 00'), undefined);
  const r = runAtrCorpus(['# comment', '3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9E', '\tdescription', '', '3B 80 01 00', '3B 02 .. 50', '3B [^0] 00', '3B 0'].join('\n'));
  t.equal(r.lines, 5);
  t.equal(r.exact, 2);
  t.equal(r.substituted, 1);
  t.equal(r.skipped, 2, 'negated class and odd hex');
  t.equal(r.valid, 2);
  t.equal(r.invalid, 1);
  t.same(r.invalidByCode, { PROTO_ERR_ATR_TCK_BAD: 1 });
  t.same(r.failures, []);
});

const present = existsSync(DEFAULT_CORPUS);
t.test('pcsc-tools smartcard_list.txt: no crash in lenient or strict mode', { skip: present ? false : `${DEFAULT_CORPUS} not found (apt-get install pcsc-tools)` }, async (t) => {
  const r = runAtrCorpus(readFileSync(DEFAULT_CORPUS, 'utf8'));
  t.ok(r.lines > 1000, `${r.lines} ATR lines`);
  t.same(r.failures, [], 'no unexpected exception, every complete ATR re-encodes byte for byte');
  t.ok(r.valid > r.invalid * 5, `valid ${r.valid}, invalid ${r.invalid}`);
  t.ok((r.invalidByCode['PROTO_ERR_ATR_TCK_BAD'] ?? 0) > 0, 'the corpus has ATRs with a wrong TCK');
  t.comment(`exact ${r.exact}, substituted ${r.substituted}, skipped ${r.skipped}; invalid by code ${JSON.stringify(r.invalidByCode)}`);
});
