/**
 * `onecard-sim fleet`: runs many simulated terminals against a OneCard fleet server on this
 * machine for a bounded time — enrol, connect, birth, telemetry, event batches, configuration
 * apply — showing progress on stderr (one updating line on a TTY, a line every 5 s otherwise) and
 * printing one JSON summary line on stdout at the end.
 */
import { parseArgs } from 'node:util';
import { SimulatorError } from '../errors.ts';
import { MAX_FLEET_DURATION_S, MAX_FLEET_TERMINALS, runFleet } from '../fleet/index.ts';

export const FLEET_HELP = `Usage: onecard-sim fleet --server URL --admin-token TOKEN [options]

Simulates N terminals in this process against a OneCard fleet server on the loopback interface:
each enrols (fresh P-256 key pair), connects over MQTT with its own credentials and a Last Will,
publishes a birth with its connection epoch, sends telemetry and outbox event batches (QoS 1,
kept until the server's down/ack covers them, resent after a reconnect) and applies every
configuration the server pushes (fetch over HTTP, SHA-256 and schema check, report applied).

Options:
  --server URL             fleet server HTTP base URL, e.g. http://127.0.0.1:8080 (loopback only)
  --admin-token TOKEN      admin (or operator) token used to create the group and enrolment
                           tokens; default: $ONECARD_ADMIN_TOKEN
  --terminals N            number of simulated terminals, 1..${MAX_FLEET_TERMINALS} (default 10)
  --duration S             run time in seconds after enrolment starts, ≤ ${MAX_FLEET_DURATION_S} (default 30)
  --group ID               group to enrol into (created if missing; default sim-fleet)
  --tag TAG                tag for the enrolment tokens, repeatable (default kind:sim)
  --kind KIND              terminal kind reported at enrolment and birth (default kiosk)
  --telemetry S            telemetry period per terminal in seconds, 0 = off (default 30)
  --events-every S         event period per terminal in seconds, 0 = off (default 10)
  --events N               records queued per terminal each period (default 5)
  --batch N                records per up/events batch (default 100)
  --concurrency N          parallel MQTT connection attempts (default 200)
  -h, --help               this text

The server must allow the enrolment rate: start it with e.g. --auth-rate-limit 100000 for large
fleets. Progress goes to stderr; the final summary is one JSON line on stdout. Ctrl-C stops early
(the run still drains and disconnects cleanly).

Example: onecard-sim fleet --server http://127.0.0.1:8080 --admin-token $TOKEN --terminals 500 --duration 60`;

function usage(detail: string): never {
  throw new SimulatorError('SIM_ERR_FLEET_CLI_USAGE', detail);
}

function num(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n) || n < min || n > max) usage(`${name} must be a number in ${min}..${max}, got ${raw}`);
  return n;
}

/**
 * Runs the `fleet` subcommand with its arguments (after the word `fleet`); returns the exit code.
 * @throws SimulatorError `SIM_ERR_FLEET_CLI_USAGE` and the codes of {@link runFleet}
 */
export async function fleetCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      server: { type: 'string' },
      'admin-token': { type: 'string' },
      terminals: { type: 'string' },
      duration: { type: 'string' },
      group: { type: 'string' },
      tag: { type: 'string', multiple: true },
      kind: { type: 'string' },
      telemetry: { type: 'string' },
      'events-every': { type: 'string' },
      events: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${FLEET_HELP}\n`);
    return 0;
  }
  if (values.server === undefined) usage('--server URL is required');
  const adminToken = values['admin-token'] ?? process.env['ONECARD_ADMIN_TOKEN'];
  if (adminToken === undefined || adminToken === '') usage('--admin-token (or ONECARD_ADMIN_TOKEN) is required');
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const r = await runFleet({
      server: values.server,
      adminToken,
      terminals: num('--terminals', values.terminals, 10, 1, MAX_FLEET_TERMINALS),
      durationSeconds: num('--duration', values.duration, 30, 0.1, MAX_FLEET_DURATION_S),
      telemetrySeconds: num('--telemetry', values.telemetry, 30, 0, 3600),
      eventsEverySeconds: num('--events-every', values['events-every'], 10, 0, 3600),
      eventsPerTick: num('--events', values.events, 5, 1, 1000),
      batchSize: num('--batch', values.batch, 100, 1, 1000),
      concurrency: num('--concurrency', values.concurrency, 200, 1, 5000),
      ...(values.group !== undefined ? { groupId: values.group } : {}),
      ...(values.tag !== undefined ? { tags: values.tag } : {}),
      ...(values.kind !== undefined ? { kind: values.kind } : {}),
      out: process.stderr,
      signal: ac.signal,
    });
    process.stdout.write(`${JSON.stringify({ event: 'summary', enrolMs: Math.round(r.enrolMs), connectMs: Math.round(r.connectMs), runMs: Math.round(r.runMs), ...r.stats })}\n`);
    return r.stats.connectFailures > 0 ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
