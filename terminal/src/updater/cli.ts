/**
 * `onecard-terminal update status|apply|rollback|pre-start`: the updater from the command line.
 * `apply` installs a local package (verified against the pinned keys) and switches to it; the
 * next start confirms it. `pre-start` is the TypeScript twin of deploy/systemd's
 * onecard-terminal-rollback. Exit 0 ok, 1 refused or failed, 2 usage error.
 */
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { TerminalError } from '../errors.ts';
import { EXIT, type CliCommand, type CliIo } from '../cli/io.ts';
import { currentVersion, initLayout, preStart, previousVersion, readPending, readResult, releasePath, requestRollback, switchTo } from './install.ts';
import { verifyPackageFile } from './verify.ts';
import { compareSemver } from './semver.ts';

export const UPDATE_HELP = `Usage: onecard-terminal update <status|apply|rollback|pre-start> --root DIR [options]

  status                         current, previous and pending releases, last outcome (JSON)
  apply FILE --pub KEY [--pub KEY ...] [--sig SIGFILE] [--force]
                                 verify FILE (signature by a pinned key; default FILE.sig),
                                 install it side by side and switch; the next start confirms it
  rollback                       ask for a rollback at the next start (the service's pre-start)
  pre-start [--max-attempts N]   count a start of an unconfirmed release; roll back after N (3)

Options:
  --root DIR   install root holding releases/, current, previous (default /opt/onecard)
  -h, --help   show this help
`;

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: {
      help: { type: 'boolean', short: 'h' }, root: { type: 'string' }, pub: { type: 'string', multiple: true }, sig: { type: 'string' },
      force: { type: 'boolean' }, 'max-attempts': { type: 'string' },
    } }));
  } catch (err) {
    io.stderr(`onecard-terminal update: ${(err as Error).message}\n\n${UPDATE_HELP}`);
    return EXIT.usage;
  }
  const [sub, ...rest] = positionals;
  if (values.help === true || sub === undefined) { (sub === undefined && values.help !== true ? io.stderr : io.stdout)(UPDATE_HELP); return values.help === true ? EXIT.ok : EXIT.usage; }
  const root = typeof values.root === 'string' ? values.root : '/opt/onecard';
  try {
    switch (sub) {
      case 'status': {
        io.stdout(`${JSON.stringify({ current: await currentVersion(root), previous: await previousVersion(root), pending: (await readPending(root)) ?? null, lastResult: (await readResult(root)) ?? null })}\n`);
        return EXIT.ok;
      }
      case 'rollback':
        await requestRollback(root);
        io.stdout('rollback requested; it happens at the next start\n');
        return EXIT.ok;
      case 'pre-start': {
        const n = Number(values['max-attempts'] ?? '3');
        if (!Number.isInteger(n) || n < 1) { io.stderr('--max-attempts must be an integer ≥ 1\n'); return EXIT.usage; }
        io.stdout(`${await preStart(root, n)}\n`);
        return EXIT.ok;
      }
      case 'apply': {
        const file = rest[0];
        const pubs = (values.pub as string[] | undefined) ?? [];
        if (file === undefined || rest.length !== 1 || pubs.length === 0) { io.stderr(`apply needs one FILE and --pub\n\n${UPDATE_HELP}`); return EXIT.usage; }
        const keys = await Promise.all(pubs.map(async (p) => (/^(ed25519|sm2):/.test(p) ? p : (await readFile(p, 'utf8')).trim())));
        const sigText = await readFile(typeof values.sig === 'string' ? values.sig : `${file}.sig`, 'utf8');
        await initLayout(root);
        const staging = join(root, 'releases', `.staging-${randomBytes(4).toString('hex')}`);
        let m;
        try {
          m = await verifyPackageFile(file, sigText, keys, staging);
        } catch (err) {
          await rm(staging, { recursive: true, force: true });
          throw err;
        }
        const running = await currentVersion(root);
        if (values.force !== true && running !== null && (compareSemver(m.version, running) <= 0 || compareSemver(running, m.minPreviousVersion) < 0)) {
          await rm(staging, { recursive: true, force: true });
          throw new TerminalError('TERM_ERR_UPDATE_VERSION', `${running} → ${m.version} (use --force to allow)`);
        }
        await rm(releasePath(root, m.version), { recursive: true, force: true });
        await rename(staging, releasePath(root, m.version));
        await switchTo(root, m.version, null, Date.now());
        io.stdout(`${JSON.stringify({ installed: m.version, previous: running, note: 'restart the service to start it; it is confirmed or rolled back at start' })}\n`);
        return EXIT.ok;
      }
      default:
        io.stderr(`onecard-terminal update: unknown subcommand '${sub}'\n\n${UPDATE_HELP}`);
        return EXIT.usage;
    }
  } catch (err) {
    if (err instanceof TerminalError) { io.stderr(`onecard-terminal update ${sub}: ${err.message}\n${err.code}\n`); return EXIT.failed; }
    if (typeof (err as NodeJS.ErrnoException).syscall === 'string') { io.stderr(`onecard-terminal update ${sub}: ${(err as Error).message}\n`); return EXIT.failed; }
    throw err;
  }
}

/** The `update` subcommand for `terminal/src/cli/run.ts` COMMANDS. */
export const updateCommand: CliCommand = { summary: 'Install, inspect or roll back software updates', run };
