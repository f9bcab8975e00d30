// The per-field apply of a fleet configuration (runtime/config-apply.ts) against recorded hooks:
// which effect each changed field gets, that live settings switch before the readers are
// re-opened, that a failed reader swap puts the previous live settings back, that pinned fields
// are reported as such, and that restart-class changes are pending until the runtime restarts.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_FIELD_APPLY, EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { TerminalError } from '../../src/errors.ts';
import {
  FleetConfigApplier, HotlistFreshness, agentTuning, completePendingRestart, staleHotlistGuard, switchableEcardVerifier, type ConfigApplyHooks,
} from '../../src/runtime/config-apply.ts';
import type { AppliedSettings, LastGoodConfig } from '../../src/runtime/fleet.ts';
import type { LocalApiServices } from '../../src/api/index.ts';

const P = (version: number) => ({ version, sha256: String(version % 10).repeat(64) });

function hooks(o: { pinned?: string[]; failSwap?: boolean; restart?: boolean } = {}) {
  const log: string[] = [];
  const saved: LastGoodConfig[] = [];
  let live: AppliedSettings | undefined;
  let now = 1000;
  const h: ConfigApplyHooks = {
    logger: createLogger({ level: 'info', destination: createMemoryDestination() }),
    clock: () => now++,
    pinned: new Set(o.pinned ?? []),
    setLive: (s) => { live = s; log.push(`live:${s?.logLevel ?? 'local'}`); },
    swapReaders: async (s) => {
      log.push(`swap:${s.readers.map((r) => r.path).join(',')}`);
      if (o.failSwap === true) throw new TerminalError('TERM_ERR_LINK_OPEN', 'no such tty');
    },
    save: async (v) => { saved.push(v); log.push(`save:${v.pointer.version}`); },
    requestRestart: o.restart === false ? undefined : (why) => { log.push(`restart:${why}`); },
  };
  return { h, log, saved, live: () => live };
}

const base: TerminalConfigDocument = EXAMPLE_TERMINAL_CONFIG;
const r0 = base.readers[0]!;

t.test('one field of each class: live at once, readers after the session, restart pending and requested', async (t) => {
  const x = hooks();
  const a = new FleetConfigApplier(base, x.h);
  const next = { ...base, logLevel: 'debug' as const, readers: [{ ...r0, path: '/dev/ttyUSB7' }], upload: { ...base.upload, maxOutboxRecords: 5000 } };
  const effects = await a.apply(next, P(2));
  t.same(x.log, ['live:debug', 'swap:/dev/ttyUSB7', 'save:2', 'restart:fleet configuration 2: /upload/maxOutboxRecords'], 'live first, then readers, kept on disk, then the restart');
  t.same(effects.map((e) => [e.field, e.effect, e.at !== undefined]), [
    ['/readers', 'session-end', true],
    ['/upload/maxOutboxRecords', 'restart', false],
    ['/logLevel', 'live', true],
  ]);
  t.same(x.saved[0]!.changes, effects, 'the effects are kept with the document');
  t.equal(a.settings?.logLevel, 'debug');
  t.equal(x.live()?.readers[0]?.path, '/dev/ttyUSB7');
  t.equal(a.running.maxOutboxRecords, base.upload.maxOutboxRecords, 'the running value changes only with the restart');

  // After the restart: the runtime starts from the saved document; the pending effect is done now.
  const done = completePendingRestart(x.saved[0]!, 99_000);
  t.same(done?.changes.find((c) => c.field === '/upload/maxOutboxRecords'), { field: '/upload/maxOutboxRecords', effect: 'restart', at: 99_000 });
  t.equal(completePendingRestart({ ...x.saved[0]!, changes: done!.changes }, 100_000), undefined, 'reported once');
});

t.test('a restart-class field set back to the running value needs no restart', async (t) => {
  const x = hooks();
  const a = new FleetConfigApplier(base, x.h);
  await a.apply({ ...base, upload: { ...base.upload, maxOutboxRecords: 5000 } }, P(2));
  const effects = await a.apply(base, P(3));
  t.same(effects, [{ field: '/upload/maxOutboxRecords', effect: 'restart', at: effects[0]!.at! }]);
  t.equal(x.log.filter((l) => l.startsWith('restart:')).length, 1, 'only the first apply asked for a restart');
});

t.test('without anything to restart it, the restart effect stays pending (not claimed done)', async (t) => {
  const x = hooks({ restart: false });
  const a = new FleetConfigApplier(base, x.h);
  const effects = await a.apply({ ...base, api: { ...base.api, allowedOrigins: ['http://localhost:9'] } }, P(2));
  t.same(effects, [{ field: '/api/allowedOrigins', effect: 'restart' }]);
});

t.test('a first document changes every field; pinned fields are reported as pinned and not applied', async (t) => {
  const x = hooks({ pinned: ['/readers'] });
  const a = new FleetConfigApplier(undefined, x.h);
  const effects = await a.apply(base, P(1));
  t.equal(effects.length, Object.keys(CONFIG_FIELD_APPLY).length);
  t.same(effects.find((e) => e.field === '/readers'), { field: '/readers', effect: 'pinned' });
  t.notOk(x.log.some((l) => l.startsWith('swap:')), 'pinned readers are not swapped');
});

t.test('a document without readers: refused unless the local file pins readers', async (t) => {
  const x = hooks();
  await t.rejects(new FleetConfigApplier(base, x.h).apply({ ...base, readers: [] }, P(2)), { code: 'TERM_ERR_CONFIG_APPLY', details: { field: '/readers' } });
  t.same(x.log, [], 'nothing switched, nothing saved');
  const y = hooks({ pinned: ['/readers'] });
  const effects = await new FleetConfigApplier(base, y.h).apply({ ...base, readers: [], logLevel: 'warn' }, P(2));
  t.same(effects.map((e) => [e.field, e.effect]), [['/readers', 'pinned'], ['/logLevel', 'live']]);
});

t.test('readers that cannot be opened: rejected, previous live settings back, nothing saved', async (t) => {
  const x = hooks({ failSwap: true });
  const a = new FleetConfigApplier(base, x.h);
  await t.rejects(a.apply({ ...base, logLevel: 'warn', readers: [{ ...r0, path: '/dev/ttyNOPE' }] }, P(2)), { code: 'TERM_ERR_LINK_OPEN' });
  t.same(x.log, ['live:warn', 'swap:/dev/ttyNOPE', `live:${base.logLevel}`]);
  t.equal(x.saved.length, 0);
  t.equal(a.document, base, 'the previous document stays in effect');
});

t.test('agent tuning from a document; what the caller fixed is left alone', async (t) => {
  const x = hooks();
  const a = new FleetConfigApplier(base, x.h);
  t.same(agentTuning(a.settings), { batchSize: 200, flushIntervalMs: 5000, telemetryIntervalMs: 60_000, hotlistRefreshMs: 900_000 });
  t.same(agentTuning(a.settings, { flushIntervalMs: 50 }), { batchSize: 200, telemetryIntervalMs: 60_000, hotlistRefreshMs: 900_000 });
});

t.test('hotlist staleness: purchases refused once the last confirmation is older than the limit, kept across restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fresh-'));
  const f = await HotlistFreshness.open(dir);
  t.equal(f.checkedAt, undefined);
  let now = 1_000_000;
  let max: number | undefined = 60;
  let purchases = 0;
  const base = { purchase: async () => { purchases++; return {} as never; } } as unknown as LocalApiServices;
  const svc = staleHotlistGuard(base, { maxStaleSeconds: () => max, checkedAt: () => f.checkedAt, now: () => now });
  await t.rejects(svc.purchase({} as never), { code: 'TERM_ERR_HOTLIST_STALE' }, 'never confirmed: refused');
  await f.mark(now);
  await svc.purchase({} as never);
  now += 61_000;
  await t.rejects(svc.purchase({} as never), { code: 'TERM_ERR_HOTLIST_STALE' }, '61 s after the last confirmation, limit 60 s');
  max = undefined;
  await svc.purchase({} as never);
  t.equal(purchases, 2, 'the card was touched only when fresh or without a limit');
  t.equal((await HotlistFreshness.open(dir)).checkedAt, 1_000_000, 'the confirmation time survives a restart');
});

t.test('e-card QR switch refuses verification while off', async (t) => {
  let on = false;
  const v = switchableEcardVerifier({ verify: async () => ({ ok: true }) as never, replayCacheSize: () => 3 }, () => on);
  await t.rejects(v.verify('x'), { code: 'TERM_ERR_SERVICE_DISABLED' });
  on = true;
  t.same(await v.verify('x'), { ok: true });
  t.equal(v.replayCacheSize(), 3);
});
