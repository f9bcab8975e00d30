import t from 'tap';
import { toHex } from '@onecard/protocol/bytes';
import { getChallenge, readRecordByTag, selectByFid, selectSsse, verifyPin } from '@onecard/protocol/ssc';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { channel, sscCard, sscProfile } from './helpers.ts';

t.test('T=0 through the TPDU adapter: SELECT answers 61xx → GET RESPONSE; Le 00 → 6Cxx → resend [7816-3 §12.2]', async (t) => {
  const card = sscCard(sscProfile('fix:ssc-2.00-x.json'));
  const ch = channel(card);
  t.equal(ch.protocol, 0);
  t.equal(toHex(ch.atr).toUpperCase().slice(0, 8), '3B6D0000');
  const sel = await ch.transmit(selectSsse());
  t.equal(sel.sw, 0x9000);
  t.equal(sel.data[0], 0x6f, 'FCI came back through GET RESPONSE');
  t.equal((await ch.transmit(selectByFid(0xef05))).sw, 0x9000);
  const r = await ch.transmit(readRecordByTag(0x03, { le: 256 }));
  t.equal(r.sw, 0x9000);
  t.equal(toHex(r.data).toUpperCase(), '0304322E3030', 'version item after the 6C06 resend');
});

t.test('T=1 card: APDUs as they are', async (t) => {
  const ch = channel(sscCard(sscProfile('fix:ssc-3.00-x.json', { protocol: 1 })));
  t.equal(ch.protocol, 1);
  t.equal((await ch.transmit(selectSsse())).sw, 0x9000);
  t.equal((await ch.transmit(getChallenge(8))).data.length, 8);
});

t.test('removal: before (not delivered) and after (executed, response lost); then every command rejects', async (t) => {
  const card = sscCard(sscProfile('fix:ssc-2.00-x.json'));
  let ch = channel(card);
  await ch.transmit(selectSsse());
  ch.removeWhen((a) => a.ins === 0x20, 'before');
  await t.rejects(ch.transmit(verifyPin('000000')), { code: 'TERM_ERR_CARD_REMOVED' });
  t.equal(card.pinTriesLeft, 3, 'not delivered');
  t.ok(ch.removed);
  await t.rejects(ch.transmit(selectSsse()), { code: 'TERM_ERR_CARD_REMOVED' });
  ch = channel(card);
  await ch.transmit(selectSsse());
  ch.removeWhen((a) => a.ins === 0x20, 'after');
  await t.rejects(ch.transmit(verifyPin('000000')), { code: 'TERM_ERR_CARD_REMOVED' });
  t.equal(card.pinTriesLeft, 2, 'executed by the card');
  ch = channel(card);
  ch.remove();
  await t.rejects(ch.transmit(selectSsse()), { code: 'TERM_ERR_CARD_REMOVED' });
  t.equal(ch.commandCount, 0);
});

t.test('a mute card rejects TERM_ERR_CARD_TIMEOUT; a card that cannot tear refuses injectTear', async (t) => {
  const card = sscCard(sscProfile('fix:ssc-2.00-x.json'));
  const ch = createMemoryChannel(card, { noReset: true });
  await t.rejects(ch.transmit(selectSsse()), { code: 'TERM_ERR_CARD_TIMEOUT' });
  const plain = { atr: card.atr, protocol: 1 as const, reset: () => card.atr, transmit: () => Uint8Array.of(0x90) };
  const broken = createMemoryChannel(plain);
  t.throws(() => broken.injectTear('after-commit'), { code: 'TERM_ERR_INVALID_ARGUMENT' });
  await t.rejects(broken.transmit(selectSsse()), { code: 'TERM_ERR_CARD_PROTOCOL' }, 'a 1-byte answer breaks the exchange rules');
});
