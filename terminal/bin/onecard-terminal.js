#!/usr/bin/env node
// onecard-terminal: runs the TypeScript CLI (src/cli/main.ts) as JavaScript precompiled by esbuild
// into a cache directory (node_modules/.cache/onecard-terminal, or ONECARD_TERMINAL_CACHE, which
// must lie where this package's npm dependencies resolve from, since bundles import them by name), so a
// start does not pay for loading TypeScript at run time. The first run (or the first after a
// source change) bundles src/cli/main.ts with the @onecard/* workspace sources it imports — npm
// packages stay external, dynamic imports stay separate chunks so commands load lazily — and
// records every input's modification time, size and SHA-1; later runs stat the inputs and reuse
// the bundle when time and size are unchanged, hashing only a file whose time or size moved (a
// checkout that rewrote it with the same bytes still reuses the bundle). Builds go to a fresh directory that is published by atomically renaming
// current.json, so concurrent starts never see a half-written bundle. If esbuild is unavailable or
// the cache cannot be written, or with ONECARD_TERMINAL_TSX=1, the sources are loaded through tsx.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(pkgRoot, 'src/cli/main.ts');
// Bump when the build options below change, so older bundles are not reused.
const BUILD_FORMAT = 2;

const sha1 = (path) => createHash('sha1').update(readFileSync(path)).digest('hex');

/** The cached bundle's entry file when it matches the sources, else undefined. */
function cachedBuild(cacheRoot, key) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(cacheRoot, 'current.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (manifest === null || typeof manifest !== 'object' || manifest.key !== key || typeof manifest.dir !== 'string' || manifest.dir.includes('/')) return undefined;
  if (manifest.inputs === null || typeof manifest.inputs !== 'object') return undefined;
  try {
    for (const [path, rec] of Object.entries(manifest.inputs)) {
      if (rec === null || typeof rec !== 'object') return undefined;
      const st = statSync(path);
      if (st.mtimeMs === rec.mtimeMs && st.size === rec.size) continue;
      if (st.size !== rec.size || sha1(path) !== rec.sha1) return undefined;
    }
    const main = join(cacheRoot, manifest.dir, 'main.js');
    statSync(main);
    return main;
  } catch {
    return undefined; // an input was removed, or the bundle was
  }
}

/** Bundles src/cli/main.ts into a new cache directory and publishes it; returns its entry file. */
async function build(cacheRoot, key) {
  const esbuild = await import('esbuild');
  const dir = `b-${Date.now().toString(36)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const outdir = join(cacheRoot, dir);
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: pkgRoot,
    entryPoints: { main: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    metafile: true,
    logLevel: 'silent',
    plugins: [{
      // npm packages (and native add-ons) load from node_modules as usual; only workspace
      // TypeScript (@onecard/*) is bundled.
      name: 'onecard-externals',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@onecard/') || isAbsolute(args.path) ? undefined : { path: args.path, external: true }));
      },
    }],
  });
  const inputs = {};
  for (const path of Object.keys(result.metafile.inputs)) {
    const abs = resolve(pkgRoot, path);
    const st = statSync(abs);
    inputs[abs] = { mtimeMs: st.mtimeMs, size: st.size, sha1: sha1(abs) };
  }
  const tmp = join(cacheRoot, `current.json.${process.pid}.${randomBytes(3).toString('hex')}`);
  writeFileSync(tmp, JSON.stringify({ key, dir, inputs }));
  renameSync(tmp, join(cacheRoot, 'current.json'));
  prune(cacheRoot, dir);
  return join(outdir, 'main.js');
}

/** Removes superseded bundles older than a day (a running process may still load chunks of one). */
function prune(cacheRoot, keep) {
  const dayAgo = Date.now() - 86_400_000;
  for (const name of readdirSync(cacheRoot)) {
    if (name === keep || !/^(b-|current\.json\.)/.test(name)) continue;
    try {
      if (statSync(join(cacheRoot, name)).mtimeMs < dayAgo) rmSync(join(cacheRoot, name), { recursive: true, force: true });
    } catch { /* removed by another process */ }
  }
}

/** The compiled entry to import, or undefined to fall back to tsx. */
async function compiledEntry() {
  if (process.env.ONECARD_TERMINAL_TSX === '1') return undefined;
  const cacheRoot = process.env.ONECARD_TERMINAL_CACHE || join(pkgRoot, 'node_modules/.cache/onecard-terminal');
  const key = `${BUILD_FORMAT}:${process.versions.node}`;
  try {
    return cachedBuild(cacheRoot, key) ?? (await build(cacheRoot, key));
  } catch (e) {
    if (process.env.ONECARD_TERMINAL_DEBUG === '1') process.stderr.write(`onecard-terminal: precompiled build unavailable, using tsx (${e instanceof Error ? e.message : String(e)})\n`);
    return undefined;
  }
}

const compiled = await compiledEntry();
if (compiled !== undefined) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
