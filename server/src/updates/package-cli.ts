/**
 * `onecard-server package keygen|build|sign|verify`: the release manager's tools for update
 * packages (format in docs/updates.md). Argument parsing and output only; the work is in
 * `package-io.ts`. Exit codes: 0 ok, 1 the package or key failed a check, 2 usage error.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ServerError } from '../errors.ts';
import { buildPackage, generateSigningKey, inspectPackage, isPublicKeyString, loadSigningKey, signPackage, verifyPackage } from './package-io.ts';
import { keyIdOf } from '@onecard/protocol/update';
import { parseSignature } from './package-format.ts';
import { isSemver } from './semver.ts';

export interface PackageCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const USAGE = `Usage: onecard-server package <command> [options]

Commands:
  keygen --out PREFIX [--alg ed25519|sm2]
      Writes PREFIX.key (private, mode 0600) and PREFIX.pub (the one-line public key to pin).
  build --from DIR --version V --min-previous V --out FILE [--name NAME]
      Packs every regular file under DIR into FILE (gzip'd ustar, manifest first).
  sign --key KEYFILE FILE [--out SIGFILE]
      Writes the detached signature (default FILE.sig).
  verify --pub PUB [--pub PUB ...] FILE [--sig SIGFILE]
      Checks the signature (PUB: a public key or a .pub file), the manifest and every file.
`;

async function keyArg(v: string): Promise<string> {
  if (isPublicKeyString(v)) return v;
  return (await readFile(v, 'utf8')).trim();
}

/** Runs `onecard-server package …` with the arguments after `package`; resolves to the exit code. */
export async function runPackageCli(argv: readonly string[], io: PackageCliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    (cmd === undefined ? io.stderr : io.stdout)(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...rest], allowPositionals: true, strict: true,
      options: {
        help: { type: 'boolean', short: 'h' }, out: { type: 'string' }, alg: { type: 'string' }, from: { type: 'string' }, version: { type: 'string' },
        'min-previous': { type: 'string' }, name: { type: 'string' }, key: { type: 'string' }, pub: { type: 'string', multiple: true }, sig: { type: 'string' },
      },
    }));
  } catch (err) {
    io.stderr(`onecard-server package: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) { io.stdout(USAGE); return 0; }
  const usage = (why: string): number => { io.stderr(`onecard-server package ${cmd}: ${why}\n\n${USAGE}`); return 2; };
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  try {
    switch (cmd) {
      case 'keygen': {
        const out = str('out');
        const alg = str('alg') ?? 'ed25519';
        if (out === undefined) return usage('--out is required');
        if (alg !== 'ed25519' && alg !== 'sm2') return usage('--alg must be ed25519 or sm2');
        const kp = generateSigningKey(alg);
        await writeFile(`${out}.key`, kp.privateKey, { mode: 0o600, flag: 'wx' });
        await writeFile(`${out}.pub`, `${kp.publicKey}\n`, { mode: 0o644, flag: 'wx' });
        io.stdout(`${JSON.stringify({ publicKey: kp.publicKey, keyId: keyIdOf(kp.publicKey), privateKeyFile: `${out}.key` })}\n`);
        return 0;
      }
      case 'build': {
        const from = str('from');
        const version = str('version');
        const minPrev = str('min-previous');
        const out = str('out');
        if (from === undefined || version === undefined || minPrev === undefined || out === undefined) return usage('--from, --version, --min-previous and --out are required');
        if (!isSemver(version) || !isSemver(minPrev)) return usage('versions must be semantic versions (1.2.3)');
        const name = str('name');
        const r = await buildPackage({ from, out, version, minPreviousVersion: minPrev, ...(name !== undefined ? { name } : {}) });
        io.stdout(`${JSON.stringify({ out, name: r.manifest.name, version: r.manifest.version, files: r.manifest.files.length, size: r.size, sha256: r.sha256 })}\n`);
        return 0;
      }
      case 'sign': {
        const keyFile = str('key');
        const file = positionals[0];
        if (keyFile === undefined || file === undefined || positionals.length !== 1) return usage('--key KEYFILE and one package FILE are required');
        const key = loadSigningKey(await readFile(keyFile, 'utf8'));
        const out = str('out') ?? `${file}.sig`;
        await writeFile(out, await signPackage(file, key), { mode: 0o644 });
        io.stdout(`${JSON.stringify({ signature: out, alg: key.alg, keyId: key.keyId })}\n`);
        return 0;
      }
      case 'verify': {
        const pubs = (values.pub as string[] | undefined) ?? [];
        const file = positionals[0];
        if (pubs.length === 0 || file === undefined || positionals.length !== 1) return usage('--pub and one package FILE are required');
        const keys = await Promise.all(pubs.map(keyArg));
        for (const k of keys) if (!isPublicKeyString(k)) return usage('a --pub is not an ed25519:/sm2: public key');
        const sig = parseSignature(await readFile(str('sig') ?? `${file}.sig`, 'utf8'));
        const m = await verifyPackage(file, sig, keys);
        io.stdout(`${JSON.stringify({ ok: true, name: m.name, version: m.version, minPreviousVersion: m.minPreviousVersion, files: m.files.length, keyId: sig.keyId })}\n`);
        return 0;
      }
      case 'inspect': {
        const file = positionals[0];
        if (file === undefined) return usage('a package FILE is required');
        const info = await inspectPackage(file);
        io.stdout(`${JSON.stringify(info)}\n`);
        return 0;
      }
      default:
        return usage(`unknown command '${cmd}'`);
    }
  } catch (err) {
    if (err instanceof ServerError) {
      io.stderr(`onecard-server package ${cmd}: ${err.message}\n${err.code}\n`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code !== undefined && typeof (err as NodeJS.ErrnoException).syscall === 'string') {
      io.stderr(`onecard-server package ${cmd}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
