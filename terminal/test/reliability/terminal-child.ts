/**
 * Reliability-test terminal (a child process of `harness.ts`): opens the enrolled identity and the
 * file outbox in its own data dir, runs a FleetAgent against the fleet server and appends `txn.*`
 * records with a per-terminal counter in the body. After each append resolves (the record is
 * fsync'd) it prints `A <seq> <eventId>` so the harness knows exactly what was acknowledged as
 * written before it may SIGKILL this process. Stdin line `stop` ends production (the agent keeps
 * draining); then `S <pending> <lastSeq>` lines report the outbox. SIGTERM stops cleanly.
 * Usage: node --import tsx terminal-child.ts <dataDir> <intervalMs> <produce:1|0>
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadIdentity } from '../../src/agent/identity.ts';
import { openFileOutbox } from '../../src/agent/outbox.ts';
import { FleetAgent } from '../../src/agent/fleet-agent.ts';

const [dataDir, intervalArg, produceArg] = process.argv.slice(2);
if (dataDir === undefined) { process.stderr.write('usage: terminal-child.ts <dataDir> <intervalMs> <produce>\n'); process.exit(2); }
const intervalMs = Number(intervalArg ?? '20');
let producing = produceArg !== '0';

const id = await loadIdentity(dataDir);
const outbox = await openFileOutbox({ dir: join(dataDir, 'outbox') });
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {}, trace: () => {}, fatal: () => {}, child() { return quiet; } };
const agent = new FleetAgent({
  logger: quiet as unknown as import('pino').Logger,
  terminalId: id.terminalId, serverUrl: id.serverUrl, mqtt: id.mqtt, outbox, softwareVersion: '0.1.0', kind: 'pos',
  batchSize: 50, flushIntervalMs: 100, policy: { backoffBaseMs: 50, backoffMaxMs: 500, ackTimeoutMs: 2000 },
});
agent.start();
const out = (line: string): void => void process.stdout.write(`${line}\n`);
out(`R ${outbox.stats().lastSeq} ${outbox.stats().pending}`);

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  void agent.stop().then(() => outbox.close()).finally(() => process.exit(0));
});
createInterface({ input: process.stdin }).on('line', (l) => { if (l.trim() === 'stop') producing = false; });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
while (producing && !stopping) {
  // The counter is the next sequence number: appends are serialised, so body.n must equal seq.
  const n = outbox.stats().lastSeq + 1;
  const r = await outbox.append({ type: 'txn.purchase', body: { n, terminal: id.terminalId, amount: 1 + (n % 97) }, class: 'transaction' });
  if (r.status !== 'written') throw new Error(`transaction dropped: ${r.reason}`);
  out(`A ${r.record.seq} ${r.record.eventId}`);
  agent.notifyPending();
  await sleep(intervalMs * (0.5 + Math.random()));
}
while (!stopping) {
  const s = outbox.stats();
  out(`S ${s.pending} ${s.lastSeq}`);
  await sleep(250);
}
