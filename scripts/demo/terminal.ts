/**
 * One simulated terminal of the demo and the soak run: real terminal code (enrolment, the file
 * outbox, the fleet agent, the card services) over a simulated reader. Two reader kinds: `pty` —
 * the simulated serial reader on a pseudo-terminal driven by the terminal's reader manager (the
 * path a real kiosk takes, user card in slot 0, PSAM in slot 1); `memory` — in-process memory
 * channels over the simulated cards (used for the transit gates, whose contactless tap can be cut
 * at an exact command, e.g. right after DEBIT FOR PURCHASE executed). A terminal opened with
 * `keys` also runs the job runner with a keystore under its KBPK, so transit key sets delivered by
 * the server load there; a memory-reader terminal without a physical PSAM then uses the soft SAM
 * over those keys for fares.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { deriveKbpk, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { openSerialReader, t0Transmit, type SerialReader, type SimulatedCard } from '@onecard/simulators';
import { enrol } from '../../terminal/src/agent/enrol.ts';
import { hasIdentity, loadIdentity, type TerminalIdentity } from '../../terminal/src/agent/identity.ts';
import { openFileOutbox, type FileOutbox } from '../../terminal/src/agent/outbox.ts';
import { FleetAgent, type ReaderStatus } from '../../terminal/src/agent/fleet-agent.ts';
import { SetHotlist } from '../../terminal/src/agent/set-hotlist.ts';
import { JobRunner } from '../../terminal/src/agent/job-runner.ts';
import { openKeystore, type Keystore } from '../../terminal/src/agent/keystore.ts';
import { SoftSam } from '../../terminal/src/agent/soft-sam.ts';
import { openReaderManager, type ReaderManager } from '../../terminal/src/card/index.ts';
import { createMemoryChannel, type MemoryChannel } from '../../terminal/src/card/memory-channel.ts';
import type { CardChannel } from '../../terminal/src/card/channel.ts';
import { openFileJournal, type PurchaseJournal } from '../../terminal/src/services/index.ts';
import type { OutboxClass } from '../../terminal/src/agent/outbox-types.ts';

/** The card and PSAM channels of one session. */
export interface Session {
  readonly card: CardChannel;
  readonly psam: CardChannel;
}

export interface DemoTerminalOptions {
  /** Short name, also the data sub-directory (e.g. `hall-kiosk`). */
  readonly name: string;
  /** Terminal kind reported at enrolment and in the birth (`kiosk`, `pos`, `gate`). */
  readonly kind: string;
  readonly groupId: string;
  readonly reader: 'pty' | 'memory';
  readonly dataDir: string;
  readonly serverUrl: string;
  /** The broker URL to use (overrides the enrolled one, as does `serverUrl`: the demo's ports may change between runs). */
  readonly mqttUrl: string;
  /** Returns a fresh single-use enrolment token for `groupId`. */
  readonly enrolmentToken: (groupId: string) => Promise<string>;
  /** The physical PSAM in the reader; `undefined`: none (memory readers only), fares use the soft SAM. */
  readonly psam: SimulatedCard | undefined;
  /**
   * Run the job runner with a keystore under this terminal's KBPK (transit key sets), and give
   * the soft SAM this 12-digit terminal number.
   */
  readonly keys?: { readonly terminalNumber: string };
  readonly logger: Logger;
  readonly telemetryIntervalMs?: number;
}

/** Counters this terminal reports in telemetry. */
interface Counters {
  reads: number;
  refusals: number;
  fares: number;
  pinErrors: number;
}

const tpduFor = (card: SimulatedCard): { t0?: (tpdu: Uint8Array) => Uint8Array } => (card.protocol === 0 ? { t0: (tpdu) => t0Transmit(card, tpdu) } : {});

export class DemoTerminal {
  readonly name: string;
  readonly kind: string;
  readonly groupId: string;
  readonly readerKind: 'pty' | 'memory';
  readonly hotlist = new SetHotlist();
  readonly identity: TerminalIdentity;
  readonly journal: PurchaseJournal;
  readonly counters: Counters = { reads: 0, refusals: 0, fares: 0, pinErrors: 0 };
  /** Configuration documents applied, in order. */
  readonly applied: TerminalConfigDocument[] = [];
  /** Transit key sets delivered to this terminal (`keys` option), and the runner that loads them. */
  readonly keystore: Keystore | undefined;
  readonly jobRunner: JobRunner | undefined;
  readonly #softSam: SoftSam | undefined;
  #outbox: FileOutbox;
  #agent: FleetAgent;
  readonly #opts: DemoTerminalOptions;
  readonly #psam: SimulatedCard | undefined;
  #psamChannel: MemoryChannel | undefined;
  #sim: SerialReader | undefined;
  #manager: ReaderManager | undefined;
  #appended = 0;
  #lastSeq = 0;
  #closed = false;

  private constructor(o: DemoTerminalOptions, identity: TerminalIdentity, outbox: FileOutbox, journal: PurchaseJournal, keystore: Keystore | undefined) {
    this.#opts = o;
    this.keystore = keystore;
    if (keystore !== undefined && o.keys !== undefined) {
      this.jobRunner = new JobRunner({ serverUrl: o.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password, keystore, logger: o.logger });
      this.#softSam = new SoftSam({ keystore, terminalNumber: o.keys.terminalNumber, nextSerial: persistedCounter(join(o.dataDir, o.name, 'soft-sam.serial')) });
    } else {
      this.jobRunner = undefined;
      this.#softSam = undefined;
    }
    this.name = o.name;
    this.kind = o.kind;
    this.groupId = o.groupId;
    this.readerKind = o.reader;
    this.identity = identity;
    this.#outbox = outbox;
    this.journal = journal;
    this.#psam = o.psam;
    this.#agent = this.#newAgent();
  }

  /** Enrols (first run) or loads the identity (later runs), opens the outbox, journal and reader. */
  static async open(o: DemoTerminalOptions): Promise<DemoTerminal> {
    const dir = join(o.dataDir, o.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const identityDir = join(dir, 'identity');
    if (!(await hasIdentity(identityDir))) await enrol({ serverUrl: o.serverUrl, token: await o.enrolmentToken(o.groupId), dataDir: identityDir, kind: o.kind });
    const identity = await loadIdentity(identityDir);
    const outbox = await openFileOutbox({ dir: join(dir, 'outbox') });
    const journal = await openFileJournal(join(dir, 'purchases.journal'));
    let keystore: Keystore | undefined;
    if (o.keys !== undefined) {
      // The KBPK is derived here exactly as the server derives it for delivery; it is never sent.
      const kbpk = deriveKbpk(identity.privateKey, identity.serverPublicKey, identity.terminalId);
      keystore = await openKeystore(join(dir, 'keys'), kbpk);
      kbpk.fill(0);
    }
    const t = new DemoTerminal(o, identity, outbox, journal, keystore);
    await t.#openReader(dir);
    return t;
  }

  get terminalId(): string { return this.identity.terminalId; }
  /** Whether a physical PSAM sits in the reader (otherwise fares use the soft SAM). */
  get hasPsam(): boolean { return this.#psam !== undefined; }
  get agent(): FleetAgent { return this.#agent; }
  get outbox(): FileOutbox { return this.#outbox; }
  /** Records appended by this process since it opened the terminal. */
  get appended(): number { return this.#appended; }
  /** Highest outbox sequence number this terminal has assigned. */
  get lastSeq(): number { return this.#closed ? this.#lastSeq : Math.max(this.#lastSeq, this.#outbox.stats().lastSeq); }

  #newAgent(): FleetAgent {
    const id = this.identity;
    return new FleetAgent({
      terminalId: id.terminalId, serverUrl: this.#opts.serverUrl, mqtt: { ...id.mqtt, url: this.#opts.mqttUrl }, outbox: this.#outbox,
      softwareVersion: '0.1.0-demo', kind: this.kind, hotlist: this.hotlist, logger: this.#opts.logger,
      telemetryIntervalMs: this.#opts.telemetryIntervalMs ?? 10_000, flushIntervalMs: 250,
      policy: { backoffBaseMs: 200, backoffMaxMs: 2_000 },
      readers: () => this.#readers(),
      counters: () => ({ 'card.reads': this.counters.reads, 'card.refusals': this.counters.refusals, 'transit.fares': this.counters.fares, 'pin.errors': this.counters.pinErrors }),
      applyConfig: async (doc) => { this.applied.push(doc); },
      ...(this.keystore === undefined || this.jobRunner === undefined ? {} : { keysVersion: () => this.keystore!.version, onJobNotify: this.jobRunner.onJobNotify }),
    });
  }

  #readers(): ReaderStatus[] {
    if (this.#manager === undefined) return [{ id: 'tap', link: 'memory', status: 'ok', psam: this.#psam !== undefined }];
    return this.#manager.status().map((r) => ({
      id: r.readerId, link: r.link, status: r.status,
      card: r.slots.some((s) => s.role === 'user' && s.present), psam: r.slots.some((s) => s.role === 'psam' && s.present),
    }));
  }

  async #openReader(dir: string): Promise<void> {
    if (this.readerKind === 'memory') {
      if (this.#psam !== undefined) this.#psamChannel = createMemoryChannel(this.#psam, tpduFor(this.#psam));
      return;
    }
    if (this.#psam === undefined) throw new Error(`${this.name}: a serial reader needs a PSAM`);
    const path = join(dir, 'ttyReader');
    this.#sim = openSerialReader({ model: 'gemcore-sim-pro2', slots: [undefined, this.#psam], path });
    this.#manager = openReaderManager({ readers: [{ id: 'front', link: 'serial', path, model: 'gemcore-sim-pro2', userSlot: 0, psamSlot: 1 }], pollIntervalMs: 100, logger: this.#opts.logger });
    const deadline = Date.now() + 20_000;
    while (!this.#manager.status().every((r) => r.status === 'ok')) {
      if (Date.now() > deadline) throw new Error(`${this.name}: simulated reader not ready`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Connects the fleet agent. */
  start(): void { this.#agent.start(); }

  /** Appends an outbox record and lets the agent send it now. */
  async record(type: string, body: Record<string, unknown>, cls: OutboxClass = 'event'): Promise<void> {
    const r = await this.#outbox.append({ type, body, class: cls });
    if (r.status === 'written') {
      this.#appended++;
      this.#lastSeq = r.record.seq;
    }
    this.#agent.notifyPending();
  }

  /**
   * A card session: inserts `card` in the reader (pty: the simulator's slot 0, seen by the reader
   * manager; memory: a fresh channel = a tap), runs `fn`, and takes the card out again.
   * `arm` may prepare a removal on the memory channel (transit gates only).
   */
  async session<T>(card: SimulatedCard, fn: (s: Session) => Promise<T>, arm?: (ch: MemoryChannel) => void): Promise<T> {
    if (this.readerKind === 'memory') {
      const ch = createMemoryChannel(card, tpduFor(card));
      arm?.(ch);
      const psam: CardChannel | undefined = this.#psamChannel ?? this.#softSam;
      if (psam === undefined) throw new Error(`${this.name}: no PSAM and no soft SAM`);
      return fn({ card: ch, psam });
    }
    const sim = this.#sim!;
    const m = this.#manager!;
    const inserted = once(m, 'card-inserted');
    sim.insert(0, card);
    await Promise.race([inserted, new Promise((_, rej) => setTimeout(() => rej(new Error(`${this.name}: card not seen`)), 10_000))]);
    try {
      return await m.withCard('front', 0, (c) => m.withCard('front', 1, (p) => fn({ card: c, psam: p })));
    } finally {
      const removed = once(m, 'card-removed');
      sim.remove(0);
      await Promise.race([removed, new Promise((r) => setTimeout(r, 5_000))]);
    }
  }

  /** Simulates a terminal process restart: the agent stops, the outbox closes and reopens, a new agent connects. */
  async restart(): Promise<void> {
    await this.#agent.stop();
    this.#lastSeq = this.lastSeq;
    await this.#outbox.close();
    this.#outbox = await openFileOutbox({ dir: join(this.#opts.dataDir, this.name, 'outbox') });
    this.#agent = this.#newAgent();
    this.#agent.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#agent.stop();
    this.#lastSeq = this.lastSeq;
    this.#closed = true;
    await this.#manager?.close();
    await this.#sim?.close();
    await this.#outbox.close();
    await this.journal.close();
    this.keystore?.close();
  }
}

/** A terminal transaction serial counter kept in a small file, so soft-SAM serials never repeat across runs. */
function persistedCounter(file: string): () => number {
  let n = existsSync(file) ? Number.parseInt(readFileSync(file, 'utf8'), 10) : 0;
  if (!Number.isSafeInteger(n) || n < 0) n = 0;
  return () => {
    n = (n + 1) >>> 0;
    writeFileSync(file, `${n}\n`, { mode: 0o600 });
    return n;
  };
}
