// The reference HTTP region adapter: signed requests, signed answers, replay refused.
import t from 'tap';
import { fromHex } from '@onecard/protocol/bytes';
import { FakeRegion } from '@onecard/simulators/src/issuance/region.ts';
import { serveRegion } from '@onecard/simulators/src/issuance/region-server.ts';
import { httpRegionalServices } from '../../src/issuance/http-region.ts';
import { clock, holder, roots } from './fixtures.ts';

const SECRET = fromHex('11'.repeat(32));

t.test('[issue 20] region adapter over HTTP: calls, refusals, forged and replayed messages', async (t) => {
  const region = new FakeRegion({ region: '639900', holders: [holder], ukssseRoot: roots.ukssse, clock });
  const srv = await serveRegion(region, { secret: SECRET });
  t.teardown(() => srv.close());
  const api = httpRegionalServices({ url: srv.url, region: '639900', secret: SECRET });
  const app = { jobId: 'H1', region: '639900', ssn: holder.ssn, name: holder.name, kind: 'new' as const };
  const m = await api.markCard(app);
  const d = await api.getCardData('H1', m.batch);
  t.same(await api.getCardData('H1', m.batch), d, 'idempotent through the wire');
  await t.rejects(api.enableCard('H1', d.cardNumber), { code: 'TERM_ERR_ISSUANCE_BACK_OFFICE', details: { reason: 'not-returned' } });
  const wrong = httpRegionalServices({ url: srv.url, region: '639900', secret: fromHex('22'.repeat(32)) });
  await t.rejects(wrong.markCard(app), { code: 'TERM_ERR_ISSUANCE_BACK_OFFICE', details: { reason: 'signature' } }, 'a request under another secret is refused (and its answer does not verify)');
  // a recorded request sent twice: the second is a replay
  let recorded: [string, RequestInit] | undefined;
  const recorder: typeof fetch = async (url, init) => {
    recorded = [String(url), init!];
    return fetch(url, init);
  };
  await httpRegionalServices({ url: srv.url, region: '639900', secret: SECRET, fetch: recorder }).markCard(app);
  const again = await fetch(recorded![0], recorded![1]);
  t.equal(again.status, 409);
  t.same(await again.json(), { reason: 'replay' });
  const tampered: typeof fetch = async (url, init) => {
    const r = await fetch(url, init);
    const body = (await r.text()).replace(m.batch, 'B000');
    return new Response(body, { status: r.status, headers: r.headers });
  };
  await t.rejects(httpRegionalServices({ url: srv.url, region: '639900', secret: SECRET, fetch: tampered }).markCard(app), { code: 'TERM_ERR_ISSUANCE_BACK_OFFICE', details: { reason: 'signature' } }, 'an altered answer is refused');
  const down = httpRegionalServices({ url: 'http://127.0.0.1:1', region: '639900', secret: SECRET, timeoutMs: 2000 });
  await t.rejects(down.markCard(app), { code: 'TERM_ERR_ISSUANCE_BACK_OFFICE', details: { reason: 'unreachable' } });
});
