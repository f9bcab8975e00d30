/**
 * `onecard-sim` command line: `onecard-sim reader --link serial --pty PATH --card FILE.json ...`
 * starts a simulated serial CCID reader on a pseudo-terminal, prints one JSON line
 * `{"event":"ready",...}` on stdout when a client can open PATH, logs card movements and
 * (masked) APDUs as pino JSON lines on stderr, and takes card movements from stdin and from an
 * optional HTTP control port on 127.0.0.1.
 */
import { parseArgs } from 'node:util';
import * as readline from 'node:readline';
import pino from 'pino';
import { SimulatorError } from '../errors.ts';
import { createCard, loadCardFile } from '../card/index.ts';
import { openSerialReader, parseFaults, readerModel, runControlLine, startControlServer, coreCut, type ReaderCard, type ControlTarget, type SerialReader } from '../reader/index.ts';
import { describeResponse, maskCommand } from './apdu-log.ts';
import { parseControlPort } from './options.ts';

const HELP = `Usage: onecard-sim reader --link serial --pty PATH --card FILE.json [options]

Options:
  --link serial            reader link (only "serial"; "hid" is not available yet)
  --pty PATH               symlink to create for the pseudo-terminal slave
  --card FILE.json         user card in slot 0 (omit for an empty slot)
  --psam FILE.json         PSAM in slot 1 (two-slot models only)
  --model NAME             gempc-twin (default) | gemcore-sim-pro2 | sec1210
  --t1                     present the cards with T=1 ATRs
  --wire-timing BAUD       delay bytes as a real line at BAUD (11-bit characters)
  --faults SPEC            e.g. lrc@3,nak@5,drop@7,delay@2:200,timeext@4,timereq@4,wtx@1,
                           remove-before@6,remove-during@6,remove-after@6,unplug@9
  --control-port N         HTTP control API on 127.0.0.1:N (POST /insert {file,slot?},
                           /remove {slot?}, /swap {file,slot?}, /cut {ins,when,slot?};
                           GET /status)
  --log-level LEVEL        pino level (default info)
  -h, --help               this text

stdin commands: insert FILE [SLOT] | remove [SLOT] | swap FILE [SLOT] | cut INS before|during|after [SLOT] | status
(cut: the card leaves at the next command with that INS, hex, e.g. "cut 54 during" mid-debit)`;

function usage(detail: string): never {
  throw new SimulatorError('SIM_ERR_READER_CLI_USAGE', detail);
}

/** Parses argv (after the node/script words) and runs the reader until it is closed. */
export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '-h' || verb === '--help') {
    process.stdout.write(`${HELP}\n`);
    return verb === undefined ? 1 : 0;
  }
  if (verb === 'fleet') return (await import('./fleet-command.ts')).fleetCommand(rest);
  if (verb === 'pinpad') return (await import('../pinpad/cli.ts')).pinpadCommand(rest);
  if (verb === 'scanner') return (await import('../ecard/scanner-cli.ts')).scannerCommand(rest);
  if (verb !== 'reader') usage(`unknown command ${verb} (expected "reader")`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      link: { type: 'string', default: 'serial' },
      pty: { type: 'string' },
      card: { type: 'string' },
      psam: { type: 'string' },
      model: { type: 'string', default: 'gempc-twin' },
      t1: { type: 'boolean', default: false },
      'wire-timing': { type: 'string' },
      faults: { type: 'string', default: '' },
      'control-port': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.link !== 'serial') {
    throw new SimulatorError('SIM_ERR_READER_LINK', `--link ${values.link} is not available in this simulator yet; use --link serial`, { link: values.link });
  }
  if (values.pty === undefined) usage('--pty PATH is required');
  const model = readerModel(values.model);
  if (values.psam !== undefined && model.slots < 2) usage(`--psam needs a two-slot model (gemcore-sim-pro2 or sec1210), not ${model.name}`);
  const baud = values['wire-timing'] === undefined ? undefined : Number(values['wire-timing']);
  if (baud !== undefined && !(baud > 0)) usage('--wire-timing needs a positive baud rate');
  const controlPort = parseControlPort(values['control-port']);
  if (controlPort === null) usage('--control-port needs a port number');
  const faults = parseFaults(values.faults);
  const t1 = values.t1;

  const log = pino({ level: values['log-level'], base: { component: 'onecard-sim-reader' } }, pino.destination(2));
  const load = (file: string): ReaderCard => {
    const f = loadCardFile(file);
    const withProtocol = t1 ? ({ ...f, profile: { ...f.profile, protocol: 1 } } as typeof f) : f;
    return createCard(withProtocol);
  };
  const slots: Array<ReaderCard | undefined> = [values.card === undefined ? undefined : load(values.card)];
  if (model.slots > 1) slots.push(values.psam === undefined ? undefined : load(values.psam));

  const reader: SerialReader = openSerialReader({
    model,
    slots,
    faults,
    path: values.pty,
    ...(baud === undefined ? {} : { wireTimingBaud: baud }),
    onEvent: (e) => {
      switch (e.type) {
        case 'apdu':
          log.info({ event: 'apdu', slot: e.slot, n: e.index, protocol: e.protocol, command: maskCommand(e.command), ...describeResponse(e.response) }, 'apdu');
          break;
        case 'card':
          log.info({ event: 'card', slot: e.slot, action: e.action }, `card ${e.action}`);
          break;
        case 'power':
          log.info({ event: 'power', slot: e.slot, on: e.on }, e.on ? 'power on' : 'power off');
          break;
        case 'fault':
          log.warn({ event: 'fault', kind: e.kind, at: e.at }, `fault ${e.kind}`);
          break;
        case 'cut':
          log.info({ event: 'cut', slot: e.slot, ins: e.ins, when: e.when, at: e.at }, `card cut ${e.when} INS ${e.ins.toString(16).padStart(2, '0')}`);
          break;
        case 'link':
          log.warn({ event: 'link', problem: e.problem }, 'link problem');
          break;
        case 'closed':
          log.info({ event: 'closed' }, 'reader closed');
          break;
        default:
          log.debug({ event: e.type }, e.type);
      }
    },
  });

  const target: ControlTarget = {
    insert: (file, slot) => reader.insert(slot, load(file)),
    remove: (slot) => reader.remove(slot),
    swap: (file, slot) => reader.swap(slot, load(file)),
    cut: coreCut(reader.core),
    status: () => reader.status(),
  };
  const control = controlPort === undefined ? undefined : await startControlServer(target, controlPort);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    void runControlLine(target, line).then((r) => process.stdout.write(`${JSON.stringify({ event: 'control', command: line.trim().split(/\s+/)[0], ...r })}\n`));
  });

  const stop = (): void => {
    void reader.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', pty: reader.path, device: reader.ptsName, model: model.name, driverName: model.driverName, slots: model.slots, t1, ...(control === undefined ? {} : { controlPort: control.port }) })}\n`,
  );
  await reader.closed;
  rl.close();
  await control?.close();
  log.flush();
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`${JSON.stringify({ event: 'error', code: err.code ?? 'SIM_ERR_READER_CLI_USAGE', message: err.message ?? String(e) })}\n`);
  process.exitCode = 2;
}
