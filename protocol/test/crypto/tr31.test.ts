import t from 'tap';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import { aesCmac } from '../../src/crypto/cmac.ts';
import { keyCheckValue } from '../../src/crypto/kcv.ts';
import { encodeOptionalBlock, parseKeyBlockHeader } from '../../src/crypto/tr31-header.ts';
import { deriveKeyBlockKeys, kcvOptionalBlock, unwrapKeyBlock, wrapKeyBlock } from '../../src/crypto/tr31.ts';
import type { RandomSource } from '../../src/crypto/tr31.ts';

const KBPK = fromHex('88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6');
const BLOCK = 'D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34';
const KEY = '3F419E1CB7079442AA37474C2EFBF8B8';
const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const fixed = (bytes: Uint8Array): RandomSource => (n) => bytes.slice(0, n);

t.test('[TR-31:2018 A.7.4] unwrap the published vector', async (t) => {
  const r = unwrapKeyBlock(KBPK, BLOCK);
  t.equal(toHex(r.key), KEY);
  t.same(r.header, {
    version: 'D', length: 112, keyUsage: 'P0', algorithm: 'A', modeOfUse: 'E', keyVersionNumber: '00',
    exportability: 'E', optionalBlockCount: 0, keyContext: '0',
  });
  t.same(r.optionalBlocks, []);
  t.equal(r.kcvVerified, false);
});

t.test('[TR-31:2018 A.7.4] re-wrap with the same padding is byte-identical', async (t) => {
  // Recover the vector's padding independently: derive KBEK by hand (CMAC counters 1, 2) and
  // CBC-decrypt with node:crypto, IV = authenticator.
  const kbek = Buffer.concat([
    Buffer.from(aesCmac(KBPK, fromHex('0100000000040100'))),
    Buffer.from(aesCmac(KBPK, fromHex('0200000000040100'))),
  ]);
  const d = createDecipheriv('aes-256-cbc', kbek, Buffer.from(BLOCK.slice(80), 'hex')).setAutoPadding(false);
  const clear = Buffer.concat([d.update(Buffer.from(BLOCK.slice(16, 80), 'hex')), d.final()]);
  t.equal(clear.subarray(0, 2).toString('hex'), '0080');
  t.equal(clear.subarray(2, 18).toString('hex').toUpperCase(), KEY);
  const again = wrapKeyBlock({
    kbpk: KBPK,
    header: { keyUsage: 'P0', algorithm: 'A', modeOfUse: 'E', exportability: 'E' },
    key: fromHex(KEY),
    padding: 'minimal',
    random: fixed(new Uint8Array(clear.subarray(18))),
  });
  t.equal(again, BLOCK);
  t.same(deriveKeyBlockKeys(KBPK).kbek, new Uint8Array(kbek));
});

t.test('[X9.143 §6.3.6; key-blocks.md §8] KCV of the vector key', async (t) => {
  const key = fromHex(KEY);
  t.equal(toHex(keyCheckValue('aes', key)), '08793E25AB');
  t.equal(toHex(keyCheckValue('aes', key, { length: 3 })), '08793E');
  t.equal(toHex(keyCheckValue('aes', key, { method: 'legacy' })), 'E5E07C');
  t.same(kcvOptionalBlock('A', key), { id: 'KC', data: '0108793E25AB' });
  t.equal(encodeOptionalBlock(kcvOptionalBlock('A', key)), 'KC100108793E25AB');
  const k2 = fromHex('0123456789ABCDEFFEDCBA9876543210');
  t.equal(toHex(keyCheckValue('3des', k2)), '08D7B4');
  t.throws(() => keyCheckValue('aes', key, { length: 6 }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => keyCheckValue('3des', k2, { method: 'legacy', length: 4 }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
  t.throws(() => kcvOptionalBlock('H', key), { code: 'PROTO_ERR_TR31_HEADER' });
});

t.test('[X9.143 §7.2.1] X9.143 obfuscated AES-128 wrap is D0144 and round-trips', async (t) => {
  const key = rnd(16);
  const block = wrapKeyBlock({ kbpk: KBPK, header: { keyUsage: 'D0', algorithm: 'A', modeOfUse: 'B', exportability: 'N' }, key });
  t.equal(block.slice(0, 5), 'D0144');
  t.same(unwrapKeyBlock(KBPK, block).key, key);
  // independent check: CMAC over header ‖ clear payload equals the authenticator
  const { kbek, kbak } = deriveKeyBlockKeys(KBPK);
  const d = createDecipheriv('aes-256-cbc', kbek, Buffer.from(block.slice(-32), 'hex')).setAutoPadding(false);
  const clear = Buffer.concat([d.update(Buffer.from(block.slice(16, -32), 'hex')), d.final()]);
  const mac = aesCmac(kbak, new Uint8Array(Buffer.concat([Buffer.from(block.slice(0, 16), 'latin1'), clear])));
  t.equal(toHex(mac), block.slice(-32));
  // and CBC encryption with IV = authenticator by node:crypto reproduces the ciphertext
  const e = createCipheriv('aes-256-cbc', kbek, Buffer.from(mac)).setAutoPadding(false);
  t.equal(Buffer.concat([e.update(clear), e.final()]).toString('hex').toUpperCase(), block.slice(16, -32));
});

t.test('wrap/unwrap round trips across KBPK sizes, algorithms and optional blocks', async (t) => {
  const cases = [
    { alg: 'A', len: 16 }, { alg: 'A', len: 24 }, { alg: 'A', len: 32 }, { alg: 'T', len: 16 }, { alg: 'T', len: 24 }, { alg: 'D', len: 8 }, { alg: 'H', len: 40 },
  ];
  for (const kl of [16, 24, 32]) {
    const kbpk = rnd(kl);
    for (const c of cases) {
      for (const padding of ['obfuscate', 'minimal'] as const) {
        const key = rnd(c.len);
        const opts = [{ id: 'LB', data: 'terminal MAC key' }, { id: 'TS', data: '20200818221218Z' }];
        if (c.alg !== 'H') opts.unshift(kcvOptionalBlock(c.alg, key));
        const block = wrapKeyBlock({
          kbpk, key, padding, optionalBlocks: opts,
          header: { keyUsage: 'M6', algorithm: c.alg, modeOfUse: 'C', exportability: 'E', keyVersionNumber: '12', keyContext: '1' },
        });
        const r = unwrapKeyBlock(kbpk, block);
        t.same(r.key, key, `${kl} ${c.alg} ${c.len} ${padding}`);
        t.equal(r.kcvVerified, c.alg !== 'H');
        t.equal(r.header.keyVersionNumber, '12');
        t.equal(r.header.keyContext, '1');
        t.equal(r.optionalBlocks.at(-1)?.id, 'PB');
        t.equal(r.header.optionalBlockCount, opts.length + 1);
        t.same(r.optionalBlocks.slice(0, opts.length), opts);
        t.equal((r.header.length - parseKeyBlockHeader(block).headerLength - 32) % 32, 0, 'payload is whole AES blocks');
      }
    }
  }
  // long label uses the extended length form
  const label = 'L'.repeat(300);
  const b = wrapKeyBlock({ kbpk: KBPK, key: rnd(16), optionalBlocks: [{ id: 'LB', data: label }], header: { keyUsage: 'K1', algorithm: 'A', modeOfUse: 'B', exportability: 'N' } });
  t.equal(b.slice(16, 26), 'LB00040136', 'extended form: 00, length-of-length 04, length 0136 (310)');
  t.equal(unwrapKeyBlock(KBPK, b).optionalBlocks[0]?.data, label);
});

t.test('[X9.143 §6.3.6] optional block parsing: published examples and forms', async (t) => {
  const mk = (opt: string, count: number): string => {
    const len = 16 + opt.length + 64;
    return `D${String(len).padStart(4, '0')}P0AE00E${String(count).padStart(2, '0')}00${opt}${'0'.repeat(64)}`;
  };
  const p = parseKeyBlockHeader(mk('KC0C0057C409KP10012331550BC9TS1320200818221218ZPB110000000000000', 4));
  t.same(p.optionalBlocks, [
    { id: 'KC', data: '0057C409' }, { id: 'KP', data: '012331550BC9' }, { id: 'TS', data: '20200818221218Z' }, { id: 'PB', data: '0000000000000' },
  ]);
  t.equal(p.headerLength, 16 + 64);
  for (const ts of ['TS1A2018-06-18T20:42:39.22', 'TS182018-06-18T20:42:39Z', 'TS1B2018-06-18T20:42:39.22Z', 'TS152020081822121822Z']) {
    const pad = 16 - (ts.length % 16);
    const opt = ts + (pad >= 4 ? `PB${pad.toString(16).toUpperCase().padStart(2, '0')}${'x'.repeat(pad - 4)}` : `PB${(pad + 16).toString(16).toUpperCase()}${'x'.repeat(pad + 12)}`);
    t.equal(parseKeyBlockHeader(mk(opt, 2)).optionalBlocks[0]?.data, ts.slice(4), ts);
  }
  const bad: [string, number, string][] = [
    ['KC0C0257C409PB0400000000000000', 2, 'PROTO_ERR_TR31_OPT_BLOCK'], // KCV algorithm 02
    ['KC0E0057C40911PB0200000000000000', 2, 'PROTO_ERR_TR31_OPT_BLOCK'], // legacy KCV over 3 bytes
    ['TS1320201318221218ZPB0D000000000', 2, 'PROTO_ERR_TR31_OPT_BLOCK'], // month 13
    ['TS13202008182212189PB0D000000000', 2, 'PROTO_ERR_TR31_OPT_BLOCK'], // no Z
    ['PB10000000000000LB0400000000000000'.slice(0, 32), 2, 'PROTO_ERR_TR31_OPT_BLOCK'], // PB not last
    ['LB08abcdLB0800000000000000000000'.slice(0, 32), 2, 'PROTO_ERR_TR31_OPT_BLOCK'], // duplicate
    ['LB03abcdefghijkl', 1, 'PROTO_ERR_TR31_OPT_BLOCK'], // length below 4
    ['LB0Gabcdefghijkl', 1, 'PROTO_ERR_TR31_OPT_BLOCK'], // length not hex
    ['lb10abcdefghijkl', 1, 'PROTO_ERR_TR31_OPT_BLOCK'], // lower-case ID
    ['LB12abcdefghijkl', 1, 'PROTO_ERR_TR31_OPT_BLOCK'], // runs past the block set
    ['LB0Cabcdefgh', 1, 'PROTO_ERR_TR31_OPT_BLOCK'], // 12 characters: not a multiple of 16
    ['LB0000abcdefghij', 1, 'PROTO_ERR_TR31_OPT_BLOCK'], // extended with length-of-length 00
  ];
  for (const [opt, n, code] of bad) t.throws(() => parseKeyBlockHeader(mk(opt, n)), { code }, opt);
  // count says 2 but only one block fits before the payload hex, which is not a valid block
  t.throws(() => parseKeyBlockHeader(mk('LB10abcdefghijkl', 2)), { code: 'PROTO_ERR_TR31_OPT_BLOCK' });
});

t.test('[X9.143 §6.2 table 1] malformed headers fail with codes naming the field', async (t) => {
  const swap = (i: number, c: string): string => BLOCK.slice(0, i) + c + BLOCK.slice(i + c.length);
  const cases: [string, string, string?][] = [
    [swap(0, 'Z'), 'PROTO_ERR_TR31_VERSION', 'version'],
    [swap(1, '011A'), 'PROTO_ERR_TR31_LENGTH', 'length'],
    [swap(1, '0113'), 'PROTO_ERR_TR31_LENGTH', 'length'],
    [BLOCK + '00', 'PROTO_ERR_TR31_LENGTH', 'length'],
    [swap(5, 'Q9'), 'PROTO_ERR_TR31_HEADER', 'keyUsage'],
    [swap(7, 'X'), 'PROTO_ERR_TR31_HEADER', 'algorithm'],
    [swap(8, 'Q'), 'PROTO_ERR_TR31_HEADER', 'modeOfUse'],
    [swap(9, '0%'), 'PROTO_ERR_TR31_HEADER', 'keyVersionNumber'],
    [swap(11, 'X'), 'PROTO_ERR_TR31_HEADER', 'exportability'],
    [swap(12, '0A'), 'PROTO_ERR_TR31_HEADER', 'optionalBlockCount'],
    [swap(14, '3'), 'PROTO_ERR_TR31_HEADER', 'keyContext'],
    [swap(15, '1'), 'PROTO_ERR_TR31_HEADER', 'reserved'],
    [swap(20, '\u0001'), 'PROTO_ERR_TR31_CHARSET', 'block'],
    [swap(20, 'é'), 'PROTO_ERR_TR31_CHARSET', 'block'],
    ['D0112', 'PROTO_ERR_TR31_LENGTH', 'header'],
    [swap(12, '01'), 'PROTO_ERR_TR31_OPT_BLOCK'],
  ];
  for (const [block, code, field] of cases) {
    try {
      unwrapKeyBlock(KBPK, block);
      t.fail(`accepted ${JSON.stringify(block.slice(0, 16))}`);
    } catch (e) {
      t.ok(isProtocolError(e), 'coded error');
      t.equal((e as { code: string }).code, code, block.slice(0, 16));
      if (field !== undefined) t.equal((e as { details: { field?: string } }).details.field, field);
    }
  }
  t.ok(parseKeyBlockHeader(swap(5, '10')), 'numeric proprietary usage accepted');
  t.equal(parseKeyBlockHeader(swap(0, 'B')).header.version, 'B');
  t.throws(() => unwrapKeyBlock(KBPK, swap(0, 'B')), { code: 'PROTO_ERR_TR31_VERSION' });
});

t.test('unwrap rejects tampering, wrong keys and bad payloads with codes', async (t) => {
  const flip = (i: number): string => BLOCK.slice(0, i) + (BLOCK[i] === '0' ? '1' : '0') + BLOCK.slice(i + 1);
  t.throws(() => unwrapKeyBlock(KBPK, flip(BLOCK.length - 1)), { code: 'PROTO_ERR_TR31_MAC' });
  t.throws(() => unwrapKeyBlock(KBPK, flip(20)), { code: 'PROTO_ERR_TR31_MAC' });
  t.throws(() => unwrapKeyBlock(KBPK, BLOCK.replace('P0AE', 'P0AD')), { code: 'PROTO_ERR_TR31_MAC' }, 'header is authenticated');
  const wrong = KBPK.slice();
  wrong[0]! ^= 1;
  t.throws(() => unwrapKeyBlock(wrong, BLOCK), { code: 'PROTO_ERR_TR31_MAC' });
  t.throws(() => unwrapKeyBlock(new Uint8Array(20), BLOCK), { code: 'PROTO_ERR_TR31_KBPK' });
  t.throws(() => unwrapKeyBlock(KBPK, BLOCK.toLowerCase().replace(/^d0112p0ae00e0000/, 'D0112P0AE00E0000')), { code: 'PROTO_ERR_TR31_HEX' });
  t.throws(() => unwrapKeyBlock(KBPK, 'D0064P0AE00E0000' + BLOCK.slice(64)), { code: 'PROTO_ERR_TR31_HEX' });
  t.throws(() => unwrapKeyBlock(KBPK, 'D0096P0AE00E0000' + BLOCK.slice(32)), { code: 'PROTO_ERR_TR31_HEX' });
  // a correctly MACed payload declaring a bad key length, built by hand
  const { kbek, kbak } = deriveKeyBlockKeys(KBPK);
  const forge = (payload: Uint8Array, head: string): string => {
    const mac = aesCmac(kbak, new Uint8Array(Buffer.concat([Buffer.from(head, 'latin1'), payload])));
    const e = createCipheriv('aes-256-cbc', kbek, mac).setAutoPadding(false);
    return head + Buffer.concat([e.update(payload), e.final()]).toString('hex').toUpperCase() + toHex(mac);
  };
  const p = new Uint8Array(32);
  p.set([0x01, 0x00]); // 256 bits in a 32-byte payload: does not fit
  t.throws(() => unwrapKeyBlock(KBPK, forge(p, 'D0112P0AE00E0000')), { code: 'PROTO_ERR_TR31_KEY_LENGTH' });
  p.set([0x00, 0x41]); // 65 bits
  t.throws(() => unwrapKeyBlock(KBPK, forge(p, 'D0112P0AE00E0000')), { code: 'PROTO_ERR_TR31_KEY_LENGTH' });
  p.set([0x00, 0x40]); // 8-byte key labelled AES
  t.throws(() => unwrapKeyBlock(KBPK, forge(p, 'D0112P0AE00E0000')), { code: 'PROTO_ERR_TR31_KEY_LENGTH' });
  p.set([0x00, 0x80]); // good length, wrong KC
  t.throws(() => unwrapKeyBlock(KBPK, forge(p, 'D0128P0AE00E0100KC1001FFFFFFFFFF')), { code: 'PROTO_ERR_TR31_KCV' });
  const kc = toHex(keyCheckValue('aes', p.slice(2, 18)));
  t.equal(unwrapKeyBlock(KBPK, forge(p, `D0128P0AE00E0100KC1001${kc}`)).kcvVerified, true);
});

t.test('wrap rejects bad input with codes', async (t) => {
  const header = { keyUsage: 'D0', algorithm: 'A', modeOfUse: 'B', exportability: 'E' } as const;
  t.throws(() => wrapKeyBlock({ kbpk: new Uint8Array(8), header, key: rnd(16) }), { code: 'PROTO_ERR_TR31_KBPK' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(15) }), { code: 'PROTO_ERR_TR31_KEY_LENGTH' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header: { ...header, algorithm: 'T' }, key: rnd(8) }), { code: 'PROTO_ERR_TR31_KEY_LENGTH' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header: { ...header, keyUsage: 'ZZ' }, key: rnd(16) }), { code: 'PROTO_ERR_TR31_HEADER' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header: { ...header, modeOfUse: 'Q' }, key: rnd(16) }), { code: 'PROTO_ERR_TR31_HEADER' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(16), optionalBlocks: [{ id: 'LB', data: 'bad\n' }] }), { code: 'PROTO_ERR_TR31_OPT_BLOCK' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(16), optionalBlocks: [{ id: 'TS', data: 'yesterday' }] }), { code: 'PROTO_ERR_TR31_OPT_BLOCK' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(16), optionalBlocks: [{ id: 'LB', data: 'a' }, { id: 'LB', data: 'b' }] }), { code: 'PROTO_ERR_TR31_OPT_BLOCK' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(16), optionalBlocks: [{ id: 'PB', data: 'ab' }] }), { code: 'PROTO_ERR_TR31_OPT_BLOCK' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(16), optionalBlocks: [{ id: 'LB', data: 'x'.repeat(9990) }] }), { code: 'PROTO_ERR_TR31_LENGTH' });
  t.throws(() => wrapKeyBlock({ kbpk: KBPK, header, key: rnd(16), random: () => new Uint8Array(1) }), { code: 'PROTO_ERR_CRYPTO_PARAM' });
});

t.test('bounded random input: unwrap and header parsing throw only coded errors', async (t) => {
  const valid = wrapKeyBlock({
    kbpk: KBPK, key: rnd(16), optionalBlocks: [{ id: 'KC', data: '0108793E25AB' }, { id: 'LB', data: 'x' }],
    header: { keyUsage: 'K1', algorithm: 'A', modeOfUse: 'B', exportability: 'N' },
  });
  const seeds = [BLOCK, valid];
  let uncoded = 0;
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    let s: string;
    const mode = i % 4;
    if (mode === 0) {
      s = Buffer.from(randomBytes(i % 200)).toString('latin1');
    } else if (mode === 1) {
      const len = 16 + (i % 150);
      s = `D${String(len).padStart(4, '0')}` + Array.from(randomBytes(len - 5), (b) => String.fromCharCode(0x20 + (b % 95))).join('');
    } else {
      const seed = seeds[i % 2]!;
      const chars = [...seed];
      const n = 1 + (i % 3);
      for (let j = 0; j < n; j++) {
        const pos = randomBytes(2).readUInt16BE() % chars.length;
        chars[pos] = String.fromCharCode(0x20 + (randomBytes(1)[0]! % 95));
      }
      s = mode === 2 ? chars.join('') : chars.join('').slice(0, randomBytes(1)[0]! % seed.length);
    }
    for (const f of [() => parseKeyBlockHeader(s), () => unwrapKeyBlock(KBPK, s)]) {
      try {
        f();
        accepted++;
      } catch (e) {
        if (!isProtocolError(e)) uncoded++;
      }
    }
  }
  t.equal(uncoded, 0, 'every failure is a ProtocolError');
  t.ok(accepted < 40000, 'random input is mostly rejected');
});
