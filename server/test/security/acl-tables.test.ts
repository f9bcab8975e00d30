/**
 * The broker's access decisions as pure functions, tried exhaustively: every connect case, every
 * topic kind of a three-terminal fleet from every terminal, hostile filters, and a property check
 * that no filter a terminal is allowed can match a topic outside its own downlink or the
 * broadcast tree.
 */
import t from 'tap';
import { decideConnect, decidePublish, decideSubscribe, type Verdict } from '../../src/broker/acl.ts';
import { hashToken } from '../../src/crypto-util.ts';
import type { TerminalRecord } from '../../src/store/types.ts';
import { UP_KINDS, DOWN_KINDS } from '@onecard/protocol/fleet';

const IDS = ['Ta1', 'Tb2', 'Tc3'] as const;
const MAX = 1024;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function record(id: string, password: string, status: 'active' | 'disabled' = 'active'): TerminalRecord {
  return { id, groupId: 'g', tags: [], kind: 'kiosk', publicKey: 'x', credentialHash: hashToken(password), status, createdAt: 0, lastSeen: null, online: false, epoch: 0, reported: {} };
}

const reason = (v: Verdict): string => (v.ok ? 'ok' : v.reason);

t.test('decideConnect: every credential case [MQTT-3.1.3-8]', async (t) => {
  const A = record('Ta1', 'pw-a');
  const Adis = record('Ta1', 'pw-a', 'disabled');
  const cases: [string, { clientId: string; username: string | undefined; password: Uint8Array | undefined }, TerminalRecord | undefined, string][] = [
    ['own credentials', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a') }, A, 'ok'],
    ['no username', { clientId: 'Ta1', username: undefined, password: enc('pw-a') }, A, 'no-credentials'],
    ['no password', { clientId: 'Ta1', username: 'Ta1', password: undefined }, A, 'no-credentials'],
    ['neither', { clientId: 'Ta1', username: undefined, password: undefined }, undefined, 'no-credentials'],
    ['empty password', { clientId: 'Ta1', username: 'Ta1', password: new Uint8Array(0) }, A, 'bad-password'],
    ['wrong password', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-b') }, A, 'bad-password'],
    ['password with a trailing byte', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a\u0000') }, A, 'bad-password'],
    ['password prefix', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-') }, A, 'bad-password'],
    ['unknown user', { clientId: 'Tzz', username: 'Tzz', password: enc('pw-a') }, undefined, 'unknown-terminal'],
    ['stolen client id (B id, A credentials)', { clientId: 'Tb2', username: 'Ta1', password: enc('pw-a') }, A, 'client-id-mismatch'],
    ['client id differs only in case', { clientId: 'TA1', username: 'Ta1', password: enc('pw-a') }, A, 'client-id-mismatch'],
    ['empty client id', { clientId: '', username: 'Ta1', password: enc('pw-a') }, A, 'bad-client-id'],
    ['client id with /', { clientId: 'Ta1/x', username: 'Ta1/x', password: enc('pw-a') }, undefined, 'bad-client-id'],
    ['client id with #', { clientId: '#', username: '#', password: enc('pw-a') }, undefined, 'bad-client-id'],
    ['client id with +', { clientId: '+', username: '+', password: enc('pw-a') }, undefined, 'bad-client-id'],
    ['client id $SYS', { clientId: '$SYS', username: '$SYS', password: enc('pw-a') }, undefined, 'bad-client-id'],
    ['client id 65 chars', { clientId: 'a'.repeat(65), username: 'a'.repeat(65), password: enc('pw-a') }, undefined, 'bad-client-id'],
    ['disabled, right password', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a') }, Adis, 'terminal-disabled'],
    // A wrong password must not reveal whether the terminal is disabled.
    ['disabled, wrong password', { clientId: 'Ta1', username: 'Ta1', password: enc('nope') }, Adis, 'bad-password'],
    ['old password after re-key', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a') }, record('Ta1', 'pw-a2'), 'bad-password'],
    ['new password after re-key', { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a2') }, record('Ta1', 'pw-a2'), 'ok'],
  ];
  for (const [name, attempt, rec, want] of cases) t.equal(reason(decideConnect(attempt, rec)), want, name);
});

/** Every concrete fleet topic owned by `owner`, with its direction. */
function topicsOf(owner: string): { topic: string; dir: 'up' | 'down' }[] {
  return [
    ...UP_KINDS.map((k) => ({ topic: `t/${owner}/up/${k}`, dir: 'up' as const })),
    { topic: `t/${owner}/up/jobs/job1`, dir: 'up' },
    { topic: `t/${owner}/up/rpc/req1`, dir: 'up' },
    ...DOWN_KINDS.map((k) => ({ topic: `t/${owner}/down/${k}`, dir: 'down' as const })),
    { topic: `t/${owner}/down/rpc/req1`, dir: 'down' },
  ];
}

t.test('decidePublish: the 3-terminal matrix — only own up topics', async (t) => {
  let n = 0;
  for (const subject of IDS) {
    for (const owner of IDS) {
      for (const { topic, dir } of topicsOf(owner)) {
        const want = subject === owner && dir === 'up' ? 'ok' : 'topic-not-allowed';
        t.equal(reason(decidePublish(subject, { topic, payloadLength: 10, retain: false }, MAX)), want, `${subject} → ${topic}`);
        n++;
      }
    }
    for (const topic of ['fleet/broadcast/all', 'fleet/broadcast/config', '$SYS/broker/clients', 'other', 't', `t/${subject}`, `t/${subject}/up`, `t/${subject}/up/`, `t/${subject}/down`]) {
      t.equal(reason(decidePublish(subject, { topic, payloadLength: 10, retain: false }, MAX)), 'topic-not-allowed', `${subject} → ${topic}`);
      n++;
    }
  }
  t.ok(n >= 3 * 3 * 13, `${n} combinations`);
});

t.test('decidePublish: hostile topics and sizes [MQTT-3.3.2-2]', async (t) => {
  const cases: [string, string, number, string][] = [
    ['Ta1', 't/Ta1/up/events', MAX, 'ok'],
    ['Ta1', 't/Ta1/up/events', MAX + 1, 'payload-too-large'],
    ['Ta1', 't/Ta1/up/events', 0, 'ok'],
    ['Ta1', 't/Ta1/up/#', 1, 'topic-not-allowed'],
    ['Ta1', 't/Ta1/up/+', 1, 'topic-not-allowed'],
    ['Ta1', 't/+/up/events', 1, 'topic-not-allowed'],
    ['Ta1', 't/Ta1/up/events\u0000x', 1, 'topic-not-allowed'],
    ['Ta1', 't/Ta1x/up/events', 1, 'topic-not-allowed'],
    ['Ta1', 't/Ta/up/events', 1, 'topic-not-allowed'],
    ['Ta1', 'T/Ta1/up/events', 1, 'topic-not-allowed'],
    ['Ta1', '/t/Ta1/up/events', 1, 'topic-not-allowed'],
    ['Ta1', 't//Ta1/up/events', 1, 'topic-not-allowed'],
    ['Ta1', 't/Ta1/UP/events', 1, 'topic-not-allowed'],
    ['Ta1', 't/Ta1/down/../up/events', 1, 'topic-not-allowed'],
    ['Ta1/x', 't/Ta1/x/up/events', 1, 'topic-not-allowed'],
    ['', 't//up/events', 1, 'topic-not-allowed'],
    ['#', 't/#/up/events', 1, 'topic-not-allowed'],
  ];
  for (const [id, topic, len, want] of cases) t.equal(reason(decidePublish(id, { topic, payloadLength: len, retain: false }, MAX)), want, `${JSON.stringify(id)} → ${JSON.stringify(topic)} (${len} B)`);
});

t.test('decidePublish: only the protocol\'s uplink topics, never retained (issue 12 item 4)', async (t) => {
  const ok = ['t/Ta1/up/birth', 't/Ta1/up/death', 't/Ta1/up/tele', 't/Ta1/up/events', 't/Ta1/up/config/status', 't/Ta1/up/jobs/job-1', 't/Ta1/up/rpc/r_1', `t/Ta1/up/jobs/${'j'.repeat(64)}`];
  for (const topic of ok) {
    t.equal(reason(decidePublish('Ta1', { topic, payloadLength: 10, retain: false }, MAX)), 'ok', `${topic} allowed`);
    t.equal(reason(decidePublish('Ta1', { topic, payloadLength: 10, retain: true }, MAX)), 'retain-not-allowed', `${topic} retained refused`);
  }
  const junk = [
    't/Ta1/up/junk/1', 't/Ta1/up/junk', 't/Ta1/up/birth/x', 't/Ta1/up/events/1', 't/Ta1/up/config', 't/Ta1/up/config/status/x',
    't/Ta1/up/jobs', 't/Ta1/up/jobs/', 't/Ta1/up/jobs/a/b', `t/Ta1/up/jobs/${'j'.repeat(65)}`, 't/Ta1/up/jobs/a.b', 't/Ta1/up/rpc',
    't/Ta1/up/rpc/x/y', 't/Ta1/up/tele/', 't/Ta1/up//tele', 't/Ta1/up/ack', 't/Ta1/up/hotlist', 't/Ta1/up/jobs/notify/x',
  ];
  for (const topic of junk) {
    for (const retain of [false, true]) t.equal(reason(decidePublish('Ta1', { topic, payloadLength: 10, retain }, MAX)), 'topic-not-allowed', `${topic}${retain ? ' (retained)' : ''} refused`);
  }
  // Size is checked first: an oversize retained junk publish is refused without looking further.
  t.equal(reason(decidePublish('Ta1', { topic: 't/Ta1/up/junk/1', payloadLength: MAX + 1, retain: true }, MAX)), 'payload-too-large');
});

t.test('decideConnect: a persistent session is refused, after the credentials are checked', async (t) => {
  const A = record('Ta1', 'pw-a');
  const base = { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a') };
  t.equal(reason(decideConnect({ ...base, clean: false }, A)), 'persistent-session');
  t.equal(reason(decideConnect({ ...base, clean: true }, A)), 'ok');
  t.equal(reason(decideConnect(base, A)), 'ok', 'absent flag = clean');
  t.equal(reason(decideConnect({ ...base, password: enc('nope'), clean: false }, A)), 'bad-password', 'wrong password still answered as such');
});

t.test('decideConnect: the Last Will must be the terminal\'s own up/death, not retained [MQTT-3.1.2-8]', async (t) => {
  const A = record('Ta1', 'pw-a');
  const base = { clientId: 'Ta1', username: 'Ta1', password: enc('pw-a') };
  const cases: [string, { topic: string; retain: boolean } | undefined, string][] = [
    ['no will', undefined, 'ok'],
    ['own up/death', { topic: 't/Ta1/up/death', retain: false }, 'ok'],
    ['own up/death retained', { topic: 't/Ta1/up/death', retain: true }, 'will-not-allowed'],
    ['another terminal\'s down/config', { topic: 't/Tb2/down/config', retain: true }, 'will-not-allowed'],
    ['own down/config', { topic: 't/Ta1/down/config', retain: false }, 'will-not-allowed'],
    ['broadcast', { topic: 'fleet/broadcast/hotlist', retain: true }, 'will-not-allowed'],
    ['own junk uplink', { topic: 't/Ta1/up/junk/1', retain: false }, 'will-not-allowed'],
    ['own birth', { topic: 't/Ta1/up/birth', retain: false }, 'will-not-allowed'],
  ];
  for (const [name, will, want] of cases) t.equal(reason(decideConnect({ ...base, will }, A)), want, name);
});

const ALLOWED_FILTERS = (id: string): string[] => [
  `t/${id}/down/#`, `t/${id}/down/+`, `t/${id}/down/config`, `t/${id}/down/ack`, `t/${id}/down/hotlist`, `t/${id}/down/jobs/notify`, `t/${id}/down/rpc/+`, `t/${id}/down/+/notify`,
  'fleet/broadcast/#', 'fleet/broadcast/+', 'fleet/broadcast/config', 'fleet/broadcast/+/x',
];
const REFUSED_FILTERS = (id: string, other: string): string[] => [
  '#', '+', '+/#', '+/+/+/+', 't/#', 't/+', 't/+/down/#', 't/+/down/config', 't/+/+/#', `t/${id}/#`, `t/${id}/+/config`, `t/${id}/+/#`,
  `t/${id}/up/#`, `t/${id}/up/events`, `t/${id}/down`, `t/${id}/down/`, `t/${id}`, `t/${other}/down/#`, `t/${other}/down/config`, `t/${other}/up/#`,
  `t/${id}x/down/#`, `t/${id.slice(0, -1)}/down/#`, `t/${id}/down/a#`, `t/${id}/down/#/x`, `t/${id}/down/a+`, `t/${id}/down/+a`, `t/${id}/down/x\u0000`,
  'fleet/#', 'fleet/+', 'fleet/+/#', 'fleet/broadcast', 'fleet/broadcast/', 'fleet/+/config', '$SYS/#', '$SYS/broker/clients', `$share/g/t/${id}/down/#`,
  `$share/g/#`, `/t/${id}/down/#`, `T/${id}/down/#`, '',
];

t.test('decideSubscribe: allowed and refused filters for every terminal [MQTT-4.7.1-2] [MQTT-4.7.1-3]', async (t) => {
  for (const id of IDS) {
    const other = IDS.find((x) => x !== id)!;
    for (const f of ALLOWED_FILTERS(id)) t.equal(reason(decideSubscribe(id, f)), 'ok', `${id} may subscribe ${f}`);
    for (const f of REFUSED_FILTERS(id, other)) t.equal(reason(decideSubscribe(id, f)), 'topic-not-allowed', `${id} may not subscribe ${JSON.stringify(f)}`);
    for (const owner of IDS) {
      for (const { topic, dir } of topicsOf(owner)) {
        t.equal(reason(decideSubscribe(id, topic)), owner === id && dir === 'down' ? 'ok' : 'topic-not-allowed', `${id} ⊂ ${topic}`);
      }
    }
  }
  t.equal(reason(decideSubscribe('bad/id', 'fleet/broadcast/#')), 'topic-not-allowed', 'an invalid subject id is refused everything');
});

/** MQTT filter matching [MQTT-4.7], used to check what an allowed filter could deliver. */
function matches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const tl = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= tl.length) return false;
    if (f[i] !== '+' && f[i] !== tl[i]) return false;
  }
  return f.length === tl.length || (f.length === tl.length + 1 && f[f.length - 1] === '#');
}

t.test('property: an allowed filter never matches another terminal\'s topic or any up topic (20k random filters)', async (t) => {
  let seed = 0x5eed;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const pool = ['t', 'fleet', 'broadcast', 'up', 'down', 'config', 'ack', 'events', '+', '#', '', '$SYS', ...IDS, 'Ta', 'Ta1x'];
  const concrete = [...IDS.flatMap((o) => topicsOf(o).map((x) => x.topic)), 'fleet/broadcast/all', 'fleet/other', '$SYS/x', 't/Ta1'];
  let allowed = 0;
  for (let i = 0; i < 20_000; i++) {
    const subject = IDS[rnd(3)]!;
    // Half the filters start from an allowed prefix (possibly another terminal's) so many pass.
    const starts = [[], ['t', subject, 'down'], ['fleet', 'broadcast'], ['t', IDS[rnd(3)]!, 'down'], ['t', '+', 'down']];
    const levels = [...starts[rnd(starts.length)]!, ...Array.from({ length: 1 + rnd(4) }, () => pool[rnd(pool.length)]!)];
    const filter = levels.join('/');
    const v = decideSubscribe(subject, filter);
    if (!v.ok) continue;
    allowed++;
    for (const topic of concrete) {
      if (!matches(filter, topic)) continue;
      const ok = topic.startsWith(`t/${subject}/down/`) || topic.startsWith('fleet/broadcast/');
      if (!ok) t.fail(`${subject} allowed ${filter} which matches ${topic}`);
    }
  }
  t.ok(allowed > 2_000, `${allowed} random filters were allowed and checked`);
  t.ok(matches('t/Ta1/down/#', 't/Ta1/down/config') && !matches('t/+/down/#', 'fleet/broadcast/x'), 'matcher sanity');
});
