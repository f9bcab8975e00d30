import t from 'tap';
import { once } from 'node:events';
import { openReaderManager, type ReaderManager } from '../../src/card/index.ts';
import { TerminalError } from '../../src/errors.ts';
import { exitCodeOf, CARD_EXIT } from '../../src/cli/card-cli.ts';
import { card, readSsc, serialSim, tmpLink } from './helpers.ts';

async function waitStatus(m: ReaderManager, status: string): Promise<void> {
  while (m.status()[0]?.status !== status) await once(m, 'reader-status');
}

// Held-out conformance run: a reader that disappeared mid-read was reported as "card removed"
// (exit 4) in 8 of 8 runs. A lost reader is a reader problem: TERM_ERR_LINK_*, exit 3.
for (const when of ['between two APDUs', 'during an APDU', 'and noticed by the manager before the next APDU'] as const) {
  t.test(`[reader-link §7.6] a reader lost ${when} is a link error (exit 3), not a removed card; the manager reconnects`, async (t) => {
    const path = tmpLink(t);
    let sim = serialSim(t, { model: 'gempc-twin', slots: [card('ssc-2.00.json')], path });
    const m = openReaderManager({ readers: [{ id: 'r1', link: 'serial', path }], pollIntervalMs: 50, backoff: { initialMs: 20, maxMs: 200 } });
    t.teardown(() => m.close());
    await once(m, 'card-inserted');
    for (let run = 0; run < 4; run++) {
      let err: unknown;
      try {
        await m.withCard('r1', 0, async (ch) => {
          await readSsc(ch);
          if (when === 'between two APDUs') {
            await sim.close();
            return readSsc(ch);
          }
          if (when === 'and noticed by the manager before the next APDU') {
            await sim.close();
            await waitStatus(m, 'absent');
            return readSsc(ch);
          }
          const reading = readSsc(ch);
          await sim.close();
          await reading;
          return readSsc(ch);
        });
        t.fail('the read must fail');
      } catch (e) {
        err = e;
      }
      t.ok(err instanceof TerminalError, `run ${run}: coded`);
      t.match((err as TerminalError).code, /^TERM_ERR_LINK_/, `run ${run}: ${(err as TerminalError).code}`);
      t.equal(exitCodeOf(err), CARD_EXIT.reader, `run ${run}: exit 3`);
      await waitStatus(m, 'absent');
      sim = serialSim(t, { model: 'gempc-twin', slots: [card('ssc-2.00.json')], path });
      await waitStatus(m, 'ok');
      t.equal((await m.withCard('r1', 0, readSsc)).cardNumber, 'X00000019/9000', `run ${run}: read after the reader came back`);
    }
  });
}
