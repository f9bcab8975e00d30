/**
 * The shared conformance suite of ReaderTransport (style habit 6): every implementation — the
 * in-memory pair, serialport on a real pty, the HID transport on the simulated HID device — must
 * pass it. A harness supplies a fresh transport, a second transport on the same device, a
 * request the peer answers, a test of the answer, and a way to pull the device out.
 */
import type { Test } from 'tap';
import type { ReaderTransport } from '../../src/link/transport.ts';

export interface ConformanceSetup {
  readonly transport: ReaderTransport;
  /** Another transport on the same device. */
  readonly second: () => ReaderTransport;
  /** Bytes to write (one write), which the peer answers. */
  readonly request: Uint8Array;
  /** True once the bytes received so far hold the complete answer. */
  readonly answered: (received: Uint8Array) => boolean;
  /** Pull the device out. */
  readonly unplug: () => Promise<void> | void;
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
};

async function exchange(tr: ReaderTransport, s: ConformanceSetup): Promise<{ chunks: number; bytes: Uint8Array }> {
  let got: Uint8Array = new Uint8Array(0);
  let chunks = 0;
  const done = new Promise<void>((resolve) => {
    const off = tr.onData((c) => {
      got = concat(got, c);
      chunks++;
      if (s.answered(got)) {
        off();
        resolve();
      }
    });
  });
  await tr.write(s.request);
  await done;
  return { chunks, bytes: got };
}

export function conformance(t: Test, name: string, make: (t: Test) => Promise<ConformanceSetup>): void {
  t.test(`${name}: open, write, receive the answer, close`, async (t) => {
    const s = await make(t);
    t.notOk(s.transport.isOpen, 'created closed');
    await t.rejects(s.transport.write(s.request), { code: 'TERM_ERR_LINK_CLOSED' }, 'write before open');
    await s.transport.open();
    t.ok(s.transport.isOpen);
    const r = await exchange(s.transport, s);
    t.ok(s.answered(r.bytes), 'answer received (in one or more chunks)');
    const closes: Array<unknown> = [];
    s.transport.onClose((e) => closes.push(e));
    await s.transport.close();
    t.same(closes, [null], 'close listeners run once with null');
    await s.transport.close();
    t.equal(closes.length, 1, 'second close is a no-op');
    await t.rejects(s.transport.write(s.request), { code: 'TERM_ERR_LINK_CLOSED' }, 'write after close');
  });

  t.test(`${name}: exclusive open`, async (t) => {
    const s = await make(t);
    await s.transport.open();
    await t.rejects(s.transport.open(), { code: 'TERM_ERR_LINK_BUSY' }, 'open twice');
    const other = s.second();
    await t.rejects(other.open(), { code: 'TERM_ERR_LINK_BUSY' }, 'second transport on the same device');
    await s.transport.close();
    await other.open();
    t.ok(other.isOpen, 'free again after close');
    t.ok(s.answered((await exchange(other, s)).bytes), 'the second transport works');
    await other.close();
  });

  t.test(`${name}: reopen after close`, async (t) => {
    const s = await make(t);
    await s.transport.open();
    await s.transport.close();
    await s.transport.open();
    t.ok(s.answered((await exchange(s.transport, s)).bytes));
    await s.transport.close();
  });

  t.test(`${name}: unplug closes with a coded error; no data afterwards`, async (t) => {
    const s = await make(t);
    await s.transport.open();
    const closed = new Promise<unknown>((resolve) => s.transport.onClose(resolve));
    let after = 0;
    await s.unplug();
    // Some links only notice the loss on the next write (reader-link §11.5).
    const w = s.transport.write(s.request).catch((e: unknown) => e);
    const err = (await closed) as { code?: string } | null;
    t.ok(err !== null && (err.code === 'TERM_ERR_LINK_CLOSED' || err.code === 'TERM_ERR_LINK_IO'), `closed with ${err?.code}`);
    t.notOk(s.transport.isOpen);
    s.transport.onData(() => after++);
    const wr = (await w) as { code?: string } | undefined;
    t.ok(wr === undefined || wr.code === 'TERM_ERR_LINK_CLOSED' || wr.code === 'TERM_ERR_LINK_IO', 'pending write settled');
    await t.rejects(s.transport.write(s.request), { code: 'TERM_ERR_LINK_CLOSED' });
    t.equal(after, 0);
  });
}
