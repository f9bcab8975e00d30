/**
 * Consent through the card-login provider, over real HTTP on 127.0.0.1: a holder opens the consent
 * pages, is sent to the provider, logs in with card + PIN at a terminal (ES256 assertion), comes
 * back bound to the card they logged in with, and gives and withdraws a department's consent;
 * the department's basic-information call succeeds only while the consent is live, and a
 * withdrawal applies to the very next call. Attackers: another holder can neither read nor
 * withdraw nor create consents for the first card; a forged or foreign session and a missing form
 * token are refused; a department cannot grant itself consent (its token is no holder session,
 * nor terminal credentials); a purpose outside the department's list is refused when granting and
 * at query time even with a consent on record. The audit holds the events, never an ID number or name.
 */
import t, { type Test } from 'tap';
import { assertionPayload, Browser, enrolTerminal, postAssertion, signAssertion, startFixture, terminalLookup, type EnrolledTerminal, type OidcFixture } from '../oidc/fixture.ts';
import { syntheticCard } from '../../src/registry/synthetic.ts';
import { HOLDER_CLIENT_ID } from '../../src/sharing/holder-consent.ts';
import type { CardInput } from '../../src/registry/model.ts';

type Card = CardInput;

/** The holder opens the consent pages, logs in at the provider with `card` through terminal `term`, and lands back on the pages. */
async function holderLogin(t: Test, f: OidcFixture, term: EnrolledTerminal, card: Card): Promise<Browser> {
  const b = new Browser();
  const landed = await b.follow(`${f.base}/holder/consents`, f.base);
  t.match(landed.url, /\/oidc\/interaction\//, 'the consent pages send the holder to the provider login');
  const page = await landed.res!.text();
  const m = /<p class="code"[^>]*>(\d{4}) (\d{4})<\/p>/.exec(page);
  if (m === null) throw new Error(`no login page: ${page.slice(0, 300)}`);
  const code = `${m[1]}${m[2]}`;
  const uid = landed.url.split('/interaction/')[1]!.split('?')[0]!;
  const look = await terminalLookup(f, term, code);
  const ok = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, code, look.body.nonce, { card: { cardNumber: card.cardNumber, idNumber: card.idNumber, name: card.name } })), term.basic);
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  let at = await b.follow(`${f.base}/oidc/interaction/${uid}/finish`, f.base);
  let body = await at.res!.text();
  // The provider asks once whether the consent pages may know who logged in.
  const consentForm = /<form method="post" action="(\/oidc\/interaction\/[^"]+)"/.exec(body)?.[1]?.replace(/&amp;/g, '&');
  if (consentForm !== undefined) {
    const r = await b.post(new URL(consentForm, f.base).href, { decision: 'allow' });
    at = await b.follow(new URL(r.headers.get('location')!, f.base).href, f.base);
    body = await at.res!.text();
  }
  t.equal(at.url, `${f.base}/holder/consents`, 'back on the consent pages');
  t.equal(at.res!.status, 200);
  t.match(body, new RegExp(`\\*+${card.cardNumber.slice(-4)}`), 'the page names the masked card');
  t.notMatch(body, new RegExp(card.idNumber), 'no ID number on the page');
  return b;
}

async function json(b: Browser, f: OidcFixture, path: string): Promise<{ status: number; body: ReturnType<typeof JSON.parse> }> {
  const r = await b.get(`${f.base}${path}`);
  return { status: r.status, body: await r.json() };
}

/** A form post with `accept: application/json` (the pages' forms answer JSON to scripts). */
async function form(f: OidcFixture, path: string, fields: Record<string, string>, cookie?: string, extra: Record<string, string> = {}): Promise<{ status: number; body: ReturnType<typeof JSON.parse> }> {
  const r = await fetch(`${f.base}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(cookie !== undefined ? { cookie } : {}), ...extra }, body: new URLSearchParams(fields).toString() });
  return { status: r.status, body: await r.json().catch(() => ({})) };
}

t.test('consent through the card login: give, use, withdraw; attackers refused', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const term = await enrolTerminal(f, 'hall');
  const alice = syntheticCard(1);
  const bob = syntheticCard(2);
  for (const c of [alice, bob]) {
    const r = await f.admin('PUT', `/api/v1/registry/cards/${c.cardNumber}`, { idNumber: c.idNumber, name: c.name, region: c.region, generation: c.generation, issuedOn: c.issuedOn, expiresOn: c.expiresOn, status: 'active' });
    t.ok(r.statusCode === 200 || r.statusCode === 201, `card imported ${r.statusCode}`);
  }
  const dep = (await f.admin('POST', '/api/v1/sharing/departments', { id: 'civil', name: '民政局', purposes: ['subsidy', 'public-service'] })).json() as { clientId: string; clientSecret: string };
  const tokRes = await fetch(`${f.base}/sharing/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&client_id=${dep.clientId}&client_secret=${dep.clientSecret}` });
  const depAuth = { authorization: `Bearer ${(await tokRes.json() as { access_token: string }).access_token}` };
  const basic = async (card: Card, purpose = 'subsidy') => {
    const r = await fetch(`${f.base}/sharing/v1/holders/basic-info`, { method: 'POST', headers: { ...depAuth, 'content-type': 'application/json' }, body: JSON.stringify({ purpose, cardNumber: card.cardNumber }) });
    return { status: r.status, body: await r.json() as ReturnType<typeof JSON.parse> };
  };

  t.equal((await basic(alice)).body.error.code, 'SRV_ERR_SHARING_NO_CONSENT', 'no consent yet');

  // ── Alice logs in with her card and consents ──────────────────────────────────────────────
  const a = await holderLogin(t, f, term, alice);
  const aCookie = (await a.get(`${f.base}/holder/consents.json`)).headers.get('set-cookie');
  t.equal(aCookie, null, 'reading sets no cookie');
  const aView = await json(a, f, '/holder/consents.json');
  t.equal(aView.status, 200);
  t.same(aView.body.consents, []);
  t.same(aView.body.departments, [{ id: 'civil', name: '民政局', purposes: ['subsidy', 'public-service'] }]);
  const aCsrf = aView.body.csrf as string;
  const page = await (await a.get(`${f.base}/holder/consents`)).text();
  t.match(page, /name="csrf" value="[^"]+"/, 'the page\'s forms carry the session\'s token');
  const granted = await a.post(`${f.base}/holder/consents`, { csrf: aCsrf, department: 'civil', purpose: 'subsidy', days: '30' });
  t.equal(granted.status, 303, 'the form goes back to the page');
  const live = await basic(alice);
  t.equal(live.status, 200, `basic info answered ${live.status}`);
  t.equal(live.body.name, alice.name, 'released under the consent');
  t.equal(live.body.idNumber, alice.idNumber);
  const aConsents = (await json(a, f, '/holder/consents.json')).body.consents as { id: string; state: string; purpose: string; grantedVia: string }[];
  t.equal(aConsents.length, 1);
  t.match(aConsents[0], { state: 'live', purpose: 'subsidy', grantedVia: /^card-login:p/ });
  const aliceConsent = aConsents[0]!.id;

  // A purpose outside the department's list is refused when granting.
  const foreignPurpose = await a.post(`${f.base}/holder/consents`, { csrf: aCsrf, department: 'civil', purpose: 'credit-check', days: '30' });
  t.equal(foreignPurpose.status, 403);
  t.equal((await foreignPurpose.json() as { error: { code: string } }).error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED');
  // …and at query time even with a consent on record: the department loses the purpose later.
  t.equal((await a.post(`${f.base}/holder/consents`, { csrf: aCsrf, department: 'civil', purpose: 'public-service', days: '30' })).status, 303);
  t.equal((await basic(alice, 'public-service')).status, 200, 'consented and granted');
  t.equal((await f.admin('PATCH', '/api/v1/sharing/departments/civil', { purposes: ['subsidy'] })).statusCode, 200);
  const withdrawnPurpose = await basic(alice, 'public-service');
  t.equal(withdrawnPurpose.status, 403);
  t.equal(withdrawnPurpose.body.error.code, 'SRV_ERR_SHARING_PURPOSE_NOT_GRANTED', 'a consent does not widen the department\'s purposes');

  // ── Bob, logged in with his own card, attacks Alice's consents ──────────────────────────
  const b = await holderLogin(t, f, term, bob);
  const bView = await json(b, f, '/holder/consents.json');
  t.same(bView.body.consents, [], 'Bob sees none of Alice\'s consents');
  const bCsrf = bView.body.csrf as string;
  const steal = await b.post(`${f.base}/holder/consents/${aliceConsent}/withdraw`, { csrf: bCsrf });
  t.equal(steal.status, 404, 'another holder\'s consent is unknown to Bob');
  t.equal((await basic(alice)).status, 200, 'Alice\'s consent still holds');
  // A card number in the form is not how the pages pick the card: Bob's consent binds Bob's card.
  t.equal((await b.post(`${f.base}/holder/consents`, { csrf: bCsrf, department: 'civil', purpose: 'subsidy', days: '5', cardNumber: alice.cardNumber })).status, 303);
  const bobConsents = (await json(b, f, '/holder/consents.json')).body.consents as { cardNumber: string }[];
  t.equal(bobConsents.length, 1);
  t.equal(bobConsents[0]!.cardNumber, `*****${bob.cardNumber.slice(-4)}`);
  t.equal((await json(a, f, '/holder/consents.json')).body.consents.length, 2, 'Alice still has her two, nothing of Bob\'s');
  t.equal((await basic(bob)).status, 200, 'Bob\'s own consent works for Bob\'s card');
  // Alice's form token does not work with Bob's session, nor a post without one.
  const crossCsrf = await b.post(`${f.base}/holder/consents/${aliceConsent}/withdraw`, { csrf: aCsrf });
  t.equal(crossCsrf.status, 403);
  t.equal((await crossCsrf.json() as { error: { code: string } }).error.code, 'SRV_ERR_SHARING_HOLDER_CSRF');
  t.equal((await b.post(`${f.base}/holder/consents`, { department: 'civil', purpose: 'subsidy', days: '5' })).status, 403, 'no form token, no consent');

  // ── no session, forged session, and the department itself ─────────────────────────────
  const anon = await form(f, '/holder/consents', { department: 'civil', purpose: 'subsidy', days: '30' });
  t.equal(anon.status, 401);
  t.equal(anon.body.error.code, 'SRV_ERR_SHARING_HOLDER_SESSION');
  t.equal((await form(f, '/holder/consents', { csrf: aCsrf, department: 'civil', purpose: 'subsidy', days: '30' }, 'oc_holder=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status, 401, 'a forged session cookie is refused');
  const selfGrant = await form(f, '/holder/consents', { department: 'civil', purpose: 'subsidy', days: '30' }, undefined, depAuth);
  t.equal(selfGrant.status, 401, 'a department token is no holder session');
  const selfTerminal = await fetch(`${f.base}/api/v1/terminal/sharing/consents`, { method: 'POST', headers: { ...depAuth, 'content-type': 'application/json' }, body: JSON.stringify({ cardNumber: alice.cardNumber, pinVerified: true, department: 'civil', purposes: ['subsidy'], days: 30 }) });
  t.equal(selfTerminal.status, 401, 'nor terminal credentials');
  const readOther = await fetch(`${f.base}/holder/consents.json`, { headers: depAuth });
  t.equal(readOther.status, 401, 'a department cannot read a holder\'s consents');

  // ── Alice withdraws: the very next call is refused ─────────────────────────────────────
  t.equal((await a.post(`${f.base}/holder/consents/${aliceConsent}/withdraw`, { csrf: aCsrf })).status, 303);
  const after = await basic(alice);
  t.equal(after.status, 403);
  t.equal(after.body.error.code, 'SRV_ERR_SHARING_CONSENT_REVOKED', 'withdrawal takes effect at once');
  t.equal((await json(a, f, '/holder/consents.json')).body.consents.find((c: { id: string }) => c.id === aliceConsent).state, 'withdrawn');
  t.equal((await a.post(`${f.base}/holder/consents/${aliceConsent}/withdraw`, { csrf: aCsrf })).status, 303, 'withdrawing twice changes nothing');

  // The session ends: logout clears it.
  t.equal((await a.post(`${f.base}/holder/consents/logout`, { csrf: aCsrf })).status, 303);
  t.equal((await json(a, f, '/holder/consents.json')).status, 401);

  // The holder's tracker (admin view) shows exactly the department's calls on Alice's card.
  const trk = (await f.admin('GET', `/api/v1/registry/cards/${alice.cardNumber}/accesses`)).json() as { accesses: { purpose: string; outcome: string }[]; consents: { grantedVia: string }[] };
  t.same(trk.accesses.map((x) => `${x.purpose} ${x.outcome}`).reverse(), [
    'subsidy SRV_ERR_SHARING_NO_CONSENT', 'subsidy released', 'public-service released', 'public-service SRV_ERR_SHARING_PURPOSE_NOT_GRANTED', 'subsidy released', 'subsidy SRV_ERR_SHARING_CONSENT_REVOKED',
  ]);
  t.ok(trk.consents.every((c) => c.grantedVia.startsWith('card-login:')));

  const audit = await f.store.listAudit({ limit: 500 });
  const acts = audit.filter((x) => x.action.startsWith('sharing.consent.') || x.action.startsWith('sharing.holder.'));
  t.equal(acts.filter((x) => x.action === 'sharing.holder.login').length, 2);
  t.equal(acts.filter((x) => x.action === 'sharing.consent.grant').length, 3);
  t.equal(acts.filter((x) => x.action === 'sharing.consent.revoke').length, 1);
  t.ok(acts.every((x) => x.actor.startsWith('holder:p')), 'actor is the pairwise subject');
  t.ok(audit.some((x) => x.action === 'relying-party.create' && x.target === HOLDER_CLIENT_ID), 'the pages\' client was created and audited');
  t.notMatch(JSON.stringify(audit), new RegExp(`${alice.idNumber}|${alice.name}|${bob.idNumber}|${bob.name}`), 'no ID number or name in the audit');
});

t.test('a holder whose login card is not in the registry gets no session', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const term = await enrolTerminal(f, 'hall');
  const b = new Browser();
  const landed = await b.follow(`${f.base}/holder/consents`, f.base);
  const m = /<p class="code"[^>]*>(\d{4}) (\d{4})<\/p>/.exec(await landed.res!.text())!;
  const code = `${m[1]}${m[2]}`;
  const uid = landed.url.split('/interaction/')[1]!.split('?')[0]!;
  const stranger = syntheticCard(9);
  const look = await terminalLookup(f, term, code);
  await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, code, look.body.nonce, { card: { cardNumber: stranger.cardNumber, idNumber: stranger.idNumber, name: stranger.name } })), term.basic);
  let at = await b.follow(`${f.base}/oidc/interaction/${uid}/finish`, f.base);
  const consentForm = /<form method="post" action="(\/oidc\/interaction\/[^"]+)"/.exec(await at.res!.text())?.[1]?.replace(/&amp;/g, '&');
  if (consentForm !== undefined) {
    const r = await b.post(new URL(consentForm, f.base).href, { decision: 'allow' });
    at = await b.follow(new URL(r.headers.get('location')!, f.base).href, f.base);
  }
  t.match(at.url, /\/holder\/consents\/callback/);
  t.equal(at.res!.status, 403);
  t.match(await at.res!.text(), /SRV_ERR_SHARING_HOLDER_CARD/);
  t.equal((await json(b, f, '/holder/consents.json')).status, 401, 'no session');
  // A callback replayed without the login's state cookie is refused.
  const replay = await new Browser().get(at.url);
  t.equal(replay.status, 400);
  // An admin who disables the pages' client closes the pages; they do not re-enable it.
  const rp = await f.store.oidc.getRelyingParty(HOLDER_CLIENT_ID);
  await f.store.oidc.updateRelyingParty({ ...rp!, status: 'disabled' });
  const closed = await new Browser().get(`${f.base}/holder/consents/login`);
  t.equal(closed.status, 404);
  t.equal((await f.store.oidc.getRelyingParty(HOLDER_CLIENT_ID))?.status, 'disabled');
});
