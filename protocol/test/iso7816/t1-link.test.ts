import t from 'tap';
import { toHex } from '../../src/bytes.ts';
import type { T1Edc } from '../../src/iso7816/t1-block.ts';
import type { T1CardEffect, T1CardState, T1TerminalEffect, T1TerminalState } from '../../src/iso7816/t1.ts';
import { t1Card, t1CardStep, t1Terminal, t1TerminalStep } from '../../src/iso7816/t1.ts';
import { mulberry32 as prng } from '../support/prng.ts';


interface LinkOptions {
  readonly seed: number;
  readonly apdus: number;
  /** Per block and direction. */
  readonly pDrop: number;
  readonly pCorrupt: number;
  readonly pTruncate: number;
  readonly pWtx: number;
  readonly pIfs: number;
}

interface LinkReport {
  ok: number;
  errors: Record<string, number>;
  resets: number;
  maxSteps: number;
  violations: string[];
}

const ALLOWED_ERRORS = new Set(['PROTO_ERR_T1_DEAD', 'PROTO_ERR_T1_OUTCOME_UNKNOWN', 'PROTO_ERR_T1_ABORTED', 'PROTO_ERR_T1_RESPONSE_TOO_LONG']);

/** The card application: a pure function of the command, so a wrong response is detectable. */
function cardAnswer(cmd: Uint8Array): Uint8Array {
  const n = ((cmd[2]! << 8) | cmd[3]!) % 600; // data length depends on the command id
  const out = new Uint8Array(n + 2);
  for (let i = 0; i < n; i++) out[i] = (cmd[i % cmd.length]! * 7 + i) & 0xff;
  out[n] = 0x90;
  out[n + 1] = 0x00;
  return out;
}

/**
 * Runs APDUs from a terminal engine to a card engine over a channel that drops, corrupts (one byte XOR a
 * non-zero value, always caught by LRC and CRC) or truncates blocks in both directions.
 */
function runLink(o: LinkOptions): LinkReport {
  const rnd = prng(o.seed);
  const edc: T1Edc = rnd() < 0.5 ? 'lrc' : 'crc';
  const cardIfsc = 16 + Math.floor(rnd() * 239);
  const termParams = rnd() < 0.5 ? { edc, ifsc: cardIfsc, ifsd: 8 + Math.floor(rnd() * 247) } : { edc, ifsc: cardIfsc };
  let term: T1TerminalState = t1Terminal(termParams);
  let card: T1CardState = t1Card({ edc, ifsc: cardIfsc });
  const deliveries = new Map<string, number>();
  const report: LinkReport = { ok: 0, errors: {}, resets: 0, maxSteps: 0, violations: [] };

  const channel = (bytes: Uint8Array): Uint8Array | null => {
    const r = rnd();
    if (r < o.pDrop) return null;
    if (r < o.pDrop + o.pCorrupt) {
      const b = bytes.slice();
      const i = Math.floor(rnd() * b.length);
      b[i] = b[i]! ^ (1 + Math.floor(rnd() * 255));
      return b;
    }
    if (r < o.pDrop + o.pCorrupt + o.pTruncate) return bytes.slice(0, Math.floor(rnd() * bytes.length));
    return bytes;
  };

  /** Card side of one terminal transmission; returns what the card transmits back (at most one block). */
  const cardTurn = (bytes: Uint8Array): Uint8Array[] => {
    const out: Uint8Array[] = [];
    const apply = (effects: readonly T1CardEffect[]): void => {
      for (const e of effects) {
        if (e.type === 'transmit') out.push(e.bytes);
        else if (e.type === 'error') report.violations.push(`card error ${e.code}`);
        else if (e.type === 'deliver-command') {
          const key = toHex(e.apdu);
          deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
          const r = rnd();
          if (r < o.pWtx) stepCard({ type: 'request-wtx', multiplier: 1 + Math.floor(rnd() * 4) });
          else if (r < o.pWtx + o.pIfs) stepCard({ type: 'request-ifs', ifsc: 16 + Math.floor(rnd() * 239) });
          stepCard({ type: 'send-response', apdu: cardAnswer(e.apdu) });
        }
      }
    };
    const stepCard = (ev: Parameters<typeof t1CardStep>[1]): void => {
      const r = t1CardStep(card, ev);
      card = r.state;
      apply(r.effects);
    };
    stepCard({ type: 'block-received', bytes });
    return out;
  };

  for (let a = 0; a < o.apdus; a++) {
    const len = 5 + Math.floor(rnd() * 400);
    const cmd = new Uint8Array(len).map(() => Math.floor(rnd() * 256));
    cmd[0] = 0x80;
    cmd[1] = 0xca;
    cmd[2] = (a >> 8) & 0xff; // unique command id in P1-P2
    cmd[3] = a & 0xff;
    const key = toHex(cmd);
    let r = t1TerminalStep(term, { type: 'send-apdu', apdu: cmd });
    term = r.state;
    let outcome: { type: 'response'; apdu: Uint8Array } | { type: 'error'; code: string } | null = null;
    let steps = 0;
    for (;;) {
      if (++steps > 2000) {
        report.violations.push(`apdu ${a}: no outcome after 2000 steps (livelock)`);
        break;
      }
      let toCard: Uint8Array | null = null;
      let transmits = 0;
      for (const e of r.effects as readonly T1TerminalEffect[]) {
        if (e.type === 'transmit') {
          transmits++;
          if (e.timeoutMs !== null) toCard = e.bytes;
          else channel(e.bytes); // S(ABORT response): sent, nothing expected back
        } else if (e.type === 'deliver-response') outcome = { type: 'response', apdu: e.apdu };
        else outcome = { type: 'error', code: e.code };
      }
      if (outcome !== null) break;
      if (transmits !== 1 || toCard === null) {
        report.violations.push(`apdu ${a}: terminal step without exactly one transmission`);
        break;
      }
      const delivered = channel(toCard);
      const back = delivered === null ? [] : cardTurn(delivered);
      if (back.length > 1) report.violations.push(`apdu ${a}: card sent ${back.length} blocks in one turn`);
      const arrived = back.length === 0 ? null : channel(back[0]!);
      r = t1TerminalStep(term, arrived === null ? { type: 'timeout' } : { type: 'block-received', bytes: arrived });
      term = r.state;
    }
    report.maxSteps = Math.max(report.maxSteps, steps);
    const count = deliveries.get(key) ?? 0;
    if (count > 1) report.violations.push(`apdu ${a}: delivered ${count} times to the card`);
    if (outcome === null) {
      term = t1Terminal(termParams);
      card = t1Card({ edc, ifsc: cardIfsc });
      continue;
    }
    if (outcome.type === 'response') {
      if (toHex(outcome.apdu) !== toHex(cardAnswer(cmd))) report.violations.push(`apdu ${a}: wrong response`);
      if (count !== 1) report.violations.push(`apdu ${a}: response without exactly one delivery (${count})`);
      report.ok++;
    } else {
      if (!ALLOWED_ERRORS.has(outcome.code)) report.violations.push(`apdu ${a}: unexpected error ${outcome.code}`);
      report.errors[outcome.code] = (report.errors[outcome.code] ?? 0) + 1;
      if (outcome.code === 'PROTO_ERR_T1_DEAD') {
        // the caller resets the card and starts again from the ATR
        report.resets++;
        term = t1Terminal(termParams);
        card = t1Card({ edc, ifsc: cardIfsc });
      }
    }
  }
  return report;
}

t.test('[7816-3 §11.6] terminal ↔ card over a clean channel: every APDU answered exactly once', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const rep = runLink({ seed, apdus: 30, pDrop: 0, pCorrupt: 0, pTruncate: 0, pWtx: 0.2, pIfs: 0.1 });
    t.same(rep.violations, [], `seed ${seed}`);
    t.equal(rep.ok, 30, `seed ${seed}: all answered`);
  }
});

t.test('[7816-3 §11.6.3] lossy channel: exactly once with the right response, or a coded error; never a wrong response', async (t) => {
  const totals: LinkReport = { ok: 0, errors: {}, resets: 0, maxSteps: 0, violations: [] };
  const rates = [0.02, 0.05, 0.1, 0.2];
  for (let seed = 1; seed <= 48; seed++) {
    const p = rates[seed % rates.length]!;
    const rep = runLink({ seed: 1000 + seed, apdus: 25, pDrop: p, pCorrupt: p, pTruncate: p / 2, pWtx: 0.15, pIfs: 0.1 });
    t.same(rep.violations, [], `seed ${1000 + seed} loss ${p}`);
    totals.ok += rep.ok;
    totals.resets += rep.resets;
    totals.maxSteps = Math.max(totals.maxSteps, rep.maxSteps);
    for (const [k, v] of Object.entries(rep.errors)) totals.errors[k] = (totals.errors[k] ?? 0) + v;
  }
  t.comment(`ok ${totals.ok}, errors ${JSON.stringify(totals.errors)}, resets ${totals.resets}, max steps ${totals.maxSteps}`);
  t.ok(totals.ok > 600, 'most APDUs get through despite the losses');
  t.ok((totals.errors['PROTO_ERR_T1_OUTCOME_UNKNOWN'] ?? 0) + (totals.errors['PROTO_ERR_T1_DEAD'] ?? 0) > 0, 'the channel was bad enough to exercise resynchronisation');
});

t.test('[7816-3 §11.6.3 rule 6.4] channel that loses everything ends dead, with a bounded number of steps', async (t) => {
  const rep = runLink({ seed: 99, apdus: 3, pDrop: 1, pCorrupt: 0, pTruncate: 0, pWtx: 0, pIfs: 0 });
  t.same(rep.violations, []);
  t.same(rep.errors, { PROTO_ERR_T1_DEAD: 3 });
  t.ok(rep.maxSteps < 30);
});
