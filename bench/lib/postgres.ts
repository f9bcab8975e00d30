/**
 * A throw-away PostgreSQL cluster for a bench: `initdb` in a temp dir (as the `postgres` user when
 * the bench runs as root), started on a free loopback port with the server's default durability
 * (fsync on, synchronous_commit on: a commit is on disk when it returns), one database created;
 * `stop()` stops it and removes the directory. Resolves `undefined` with the reason when no
 * PostgreSQL binaries are installed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface BenchPostgres {
  readonly url: string;
  stop(): void;
}

function pgBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startBenchPostgres(): Promise<BenchPostgres | { readonly skipped: string }> {
  const bin = pgBin();
  if (bin === undefined) return { skipped: 'no PostgreSQL binaries under /usr/lib/postgresql' };
  const dir = mkdtempSync(join(tmpdir(), 'onecard-bench-pg-'));
  chmodSync(dir, 0o755);
  const root = userInfo().uid === 0;
  const as = (cmd: string, args: string[]): void => {
    if (root) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: dir, stdio: 'pipe' });
    else execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });
  };
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const stop = (): void => {
    try { as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']); } catch { /* not running */ }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--locale=C.UTF-8', '-E', 'UTF8']);
    as(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'pg.log'), '-w', '-t', '60', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=100`, 'start']);
    execFileSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', 'CREATE DATABASE onecard_bench'], { stdio: 'pipe' });
  } catch (err) {
    stop();
    return { skipped: `PostgreSQL did not start: ${(err as Error).message.split('\n')[0]!}` };
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/onecard_bench`, stop };
}
