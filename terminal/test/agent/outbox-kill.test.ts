// [ONECARD outbox] kill -9: a child appends in a loop and is killed at a random moment; after
// reopening, every append the child saw resolve is present, exactly once, in sequence order.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileOutbox } from '../../src/agent/outbox.ts';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, 'fixtures', 'outbox-writer.ts');
const dir = mkdtempSync(join(tmpdir(), 'onecard-outbox-kill-'));

function runAndKill(afterLines: number): Promise<Map<number, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen = new Map<number, string>();
    let buf = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [a, b] = line.split(' ');
        if (a !== 'ready') seen.set(Number(a), b!);
      }
      if (!killed && seen.size >= afterLines) { killed = true; child.kill('SIGKILL'); }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(seen) : reject(new Error(`writer exited without SIGKILL (${signal})`))));
  });
}

t.test('kill -9 during appends, four rounds with acks in between', async (t) => {
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const everything = new Map<number, string>();
  let acked = 0;
  for (let round = 0; round < 4; round++) {
    const seen = await runAndKill(150 + round * 97);
    const ob = await openFileOutbox({ dir });
    const recs = await ob.pending(1_000_000);
    const bySeq = new Map(recs.map((r) => [r.seq, r.eventId]));
    t.equal(bySeq.size, recs.length, `round ${round}: no duplicate seq`);
    t.equal(new Set(recs.map((r) => r.eventId)).size, recs.length, `round ${round}: no duplicate event id`);
    t.ok(recs.every((r, i) => i === 0 || r.seq === recs[i - 1]!.seq + 1), `round ${round}: contiguous, ordered`);
    let lost = 0;
    for (const [seq, id] of seen) if (seq > acked && bySeq.get(seq) !== id) lost++;
    t.equal(lost, 0, `round ${round}: every resolved append (${seen.size}) survived kill -9`);
    for (const [seq, id] of bySeq) {
      const prev = everything.get(seq);
      if (prev !== undefined && prev !== id) t.fail(`seq ${seq} changed identity`);
      everything.set(seq, id);
    }
    // Acknowledge part of it, as the server would, so the next round also exercises compaction.
    acked = recs.length > 0 ? recs[Math.floor(recs.length / 2)]!.seq : acked;
    await ob.ack(acked);
    await ob.close();
  }
});
