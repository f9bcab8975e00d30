// The holder's own services on the kiosk after card + PIN (docs/kiosk.md): library account over
// SIP2, venue status of the day, event registration, and the data tracker (which departments
// queried the holder's data, when, for what, and the consents given, which can be withdrawn).
// Each is offered only when the terminal is configured for it (GET /v1/holder/services). The
// terminal binds these answers to the card whose PIN this page verified (/v1/holder/verify), so the
// page never names a card number. What came back lives in `data` only and is wiped with the card;
// the screens render through the kiosk's show(), so language, focus, idle wipe and card removal
// work as for every kiosk screen.

const T = {
  zh: {
    library: '图书馆借阅', venue: '场馆入园', events: '活动报名', tracker: '我的数据使用记录', loading: '正在查询，请稍候……',
    libTitle: '图书馆借阅状态', mayBorrow: '可以正常借阅。', mayNot: (r) => `暂时不能借阅：${r}`, reader: '读者', loans: '在借图书', overdue: '逾期图书', holds: '预约图书', fineItems: '有罚款的图书', fees: '欠款',
    expires: '读者证有效期至', flagsTitle: '图书馆设置的限制', noFlags: '没有借阅限制。', libMessage: (m) => `图书馆提示：${m}`, books: (n) => `${n} 本`,
    reasons: {
      hotlisted: '此卡已挂失或停用。', expired: '读者证已过期，请到图书馆服务台续期。', 'unknown-patron': '图书馆系统中没有此卡的读者记录，请到图书馆服务台办理读者证。',
      lost: '读者证已挂失，请到图书馆服务台办理。', fines: '有未缴罚款，请先缴清罚款。', blocked: '借阅权限已被图书馆暂停，请到图书馆服务台咨询。',
    },
    flags: {
      chargePrivilegesDenied: '不能借书', renewalPrivilegesDenied: '不能续借', recallPrivilegesDenied: '不能召回图书', holdPrivilegesDenied: '不能预约图书',
      cardReportedLost: '读者证已挂失', tooManyItemsCharged: '在借图书已达上限', tooManyItemsOverdue: '逾期图书过多', tooManyRenewals: '续借次数过多',
      tooManyClaimsOfItemsReturned: '声称已还但未还的图书过多', tooManyItemsLost: '遗失图书过多', excessiveOutstandingFines: '未缴罚款超过限额', excessiveOutstandingFees: '未缴费用超过限额',
      recallOverdue: '被召回的图书逾期未还', tooManyItemsBilled: '被收费的图书过多',
    },
    venueTitle: (n) => `${n ?? '场馆'}：今日入园状态`, entries: '今日已入园', entriesOf: (n, max) => (max > 0 ? `${n} 次（每日最多 ${max} 次）` : `${n} 次（不限次数）`),
    fare: '您的票种', categories: { standard: '普通票', senior: '老年人优惠', child: '儿童免票', student: '学生优惠' }, price: (fen) => (fen === 0 ? '免费' : `${(fen / 100).toFixed(2)} 元`),
    registeredFor: '已报名的活动', noRegistrations: '没有已报名的活动。', entryNow: (r) => `现在入园：${r}`, admitNow: '现在可以入园。', stale: '本机的场馆数据暂未更新，入园以闸机判断为准。',
    venueReasons: {
      admitted: '现在可以入园。', 'admitted-registered': '您已报名今日活动，现在可以入园。', hotlisted: '此卡已挂失或停用，不能入园。', 'hotlist-stale': '本机挂失名单未及时更新，暂不能刷卡入园。',
      expired: '此卡已过有效期。', 'not-yet-valid': '此卡尚未启用。', 'card-invalid': '卡片无法读取或验证未通过。', 'ecard-invalid': '电子社保卡二维码无效。',
      'generation-not-accepted': '本场馆不接受此代社保卡。', 'card-type-not-accepted': '本场馆不接受此类卡片。', 'ecard-not-accepted': '本场馆不接受电子社保卡。',
      'closed-day': '今日闭馆。', 'closed-hours': '当前不在开放时间。', 'venue-data-stale': '场馆人数和报名数据未及时更新，暂不能入园，请联系工作人员。',
      'not-registered': '今日仅限已报名活动的持卡人入园，您尚未报名。', 'event-full': '今日活动人数已满。', 'daily-limit': '您今日入园次数已达上限。', 'capacity-full': '场馆人数已满，请稍后再来。',
      'not-configured': '本机未配置场馆规则。', exit: '已出园。',
    },
    eventsTitle: '可报名的活动', noEvents: '目前没有开放报名的活动。', eventDate: (d) => `活动日期：${d}`, places: (r, c) => (c > 0 ? `已报名 ${r} / ${c} 人` : `已报名 ${r} 人（不限名额）`), closes: (s) => `报名截止：${s}`,
    register: '报名', registerLabel: (n) => `报名：${n}`, alreadyBadge: '您已报名', registering: '正在报名……',
    registered: (n, d) => `报名成功：${n}（${d}）。活动当天刷社保卡入园。`, already: (n, d) => `您已报名过：${n}（${d}），无需重复报名。`,
    refusals: {
      SRV_ERR_VENUE_EVENT_FULL: '报名失败：活动名额已满。', SRV_ERR_VENUE_REGISTRATION_CLOSED: '报名失败：不在报名时间内（尚未开始或已截止）。',
      SRV_ERR_VENUE_CARD_HOTLISTED: '报名失败：此卡已挂失或停用。', SRV_ERR_NOT_FOUND: '报名失败：活动不存在或已取消。',
    },
    refusedOther: '报名未被受理，请到服务窗口咨询。', offline: '报名需要连接服务中心，本机暂时无法连接，请稍后再试。',
    trackerTitle: '我的数据使用记录', accessesTitle: '哪些部门查询过我的信息', noAccesses: '没有部门查询过您的信息。', consentsTitle: '我给出的授权', noConsents: '您没有给出任何授权。',
    when: '时间', department: '部门', purpose: '用途', what: '查询内容', outcome: '结果', granted: '授权时间', until: '有效期至', state: '状态',
    purposes: { 'public-service': '办理公共服务', subsidy: '补贴发放核验', 'credit-query': '信用查询' },
    calls: { 'card-status': '卡片状态', verify: '身份核验（是/否）', 'basic-info': '基本信息', 'batch-verify': '批量身份核验', changes: '卡片状态变更' },
    fields: { name: '姓名', idNumber: '身份证号', region: '地区', generation: '卡片代数', issuedOn: '发卡日期', expiresOn: '有效期', status: '卡状态', match: '是否一致', usable: '是否可用' },
    released: (list) => `已提供：${list}`, outcomes: {
      SRV_ERR_SHARING_NO_CONSENT: '已拒绝：您没有授权', SRV_ERR_SHARING_CONSENT_EXPIRED: '已拒绝：授权已过期', SRV_ERR_SHARING_CONSENT_REVOKED: '已拒绝：授权已撤回',
      SRV_ERR_SHARING_PURPOSE_NOT_GRANTED: '已拒绝：该部门无此用途权限', SRV_ERR_SHARING_QUOTA: '已拒绝：超出查询限额',
    },
    refusedAccess: '已拒绝', active: '有效', expiredConsent: '已过期', revoked: '已撤回', withdraw: '撤回授权', withdrawLabel: (d, p) => `撤回对 ${d}（${p}）的授权`,
    withdrawTitle: '撤回授权', withdrawExplain: (d, p) => `撤回后，${d} 将不能再以“${p}”为用途查询您的基本信息。确定撤回吗？`, withdrawConfirm: '确定撤回',
    withdrawn: '授权已撤回。', alreadyWithdrawn: '此授权已经撤回过。', back: '返回', finish: '结束并退卡', toEvents: '查看可报名的活动', toTracker: '返回使用记录', toList: '返回活动列表',
    holderRefused: { SRV_ERR_NOT_FOUND: '服务中心没有此卡的记录，或该授权不属于此卡。', SRV_ERR_REGISTRY_TRANSITION: '此卡当前状态不能办理此项业务。' },
  },
  en: {
    library: 'Library account', venue: 'Venue entry', events: 'Event registration', tracker: 'Who used my data', loading: 'Looking it up, please wait…',
    libTitle: 'Library account', mayBorrow: 'You can borrow as usual.', mayNot: (r) => `You cannot borrow right now: ${r}`, reader: 'Reader', loans: 'Books on loan', overdue: 'Overdue books', holds: 'Books on hold', fineItems: 'Books with fines', fees: 'Amount owed',
    expires: 'Library card valid until', flagsTitle: 'Limits set by the library', noFlags: 'No limits on borrowing.', libMessage: (m) => `Message from the library: ${m}`, books: (n) => `${n} book${n === 1 ? '' : 's'}`,
    reasons: {
      hotlisted: 'This card has been reported lost or is blocked.', expired: 'Your library registration has expired; renew it at the library desk.', 'unknown-patron': 'The library has no reader record for this card; register at the library desk.',
      lost: 'Your library card has been reported lost; please ask at the library desk.', fines: 'You have unpaid fines; please pay them first.', blocked: 'The library has suspended your borrowing; please ask at the library desk.',
    },
    flags: {
      chargePrivilegesDenied: 'Borrowing not allowed', renewalPrivilegesDenied: 'Renewing not allowed', recallPrivilegesDenied: 'Recalls not allowed', holdPrivilegesDenied: 'Holds not allowed',
      cardReportedLost: 'Library card reported lost', tooManyItemsCharged: 'Loan limit reached', tooManyItemsOverdue: 'Too many overdue books', tooManyRenewals: 'Too many renewals',
      tooManyClaimsOfItemsReturned: 'Too many books claimed returned', tooManyItemsLost: 'Too many books lost', excessiveOutstandingFines: 'Unpaid fines over the limit', excessiveOutstandingFees: 'Unpaid fees over the limit',
      recallOverdue: 'A recalled book is overdue', tooManyItemsBilled: 'Too many books billed',
    },
    venueTitle: (n) => `${n ?? 'Venue'}: your entry today`, entries: 'Entries today', entriesOf: (n, max) => (max > 0 ? `${n} (at most ${max} a day)` : `${n} (no daily limit)`),
    fare: 'Your ticket', categories: { standard: 'Standard', senior: 'Senior discount', child: 'Child (free)', student: 'Student discount' }, price: (fen) => (fen === 0 ? 'free' : `¥${(fen / 100).toFixed(2)}`),
    registeredFor: 'Events you registered for', noRegistrations: 'No event registrations.', entryNow: (r) => `Entry now: ${r}`, admitNow: 'You can enter now.', stale: 'This machine’s venue data is not current; the gate decides.',
    venueReasons: {
      admitted: 'You can enter now.', 'admitted-registered': 'You are registered for today’s event and can enter now.', hotlisted: 'This card is reported lost or blocked, so it cannot be used to enter.', 'hotlist-stale': 'This machine’s lost-card list is out of date; card entry is paused.',
      expired: 'This card has expired.', 'not-yet-valid': 'This card is not valid yet.', 'card-invalid': 'The card could not be read or verified.', 'ecard-invalid': 'The e-card QR code is not valid.',
      'generation-not-accepted': 'This venue does not accept this card generation.', 'card-type-not-accepted': 'This venue does not accept this card type.', 'ecard-not-accepted': 'This venue does not accept e-cards.',
      'closed-day': 'The venue is closed today.', 'closed-hours': 'The venue is not open at this hour.', 'venue-data-stale': 'Visitor and registration data is out of date; entry is paused. Please ask staff.',
      'not-registered': 'Today only holders registered for the event may enter, and you are not registered.', 'event-full': 'Today’s event is full.', 'daily-limit': 'You have used all your entries for today.', 'capacity-full': 'The venue is full. Please come back later.',
      'not-configured': 'This machine has no venue rules.', exit: 'Exit counted.',
    },
    eventsTitle: 'Events open for registration', noEvents: 'No event is open for registration right now.', eventDate: (d) => `Date: ${d}`, places: (r, c) => (c > 0 ? `${r} of ${c} places taken` : `${r} registered (no limit)`), closes: (s) => `Registration closes ${s}`,
    register: 'Register', registerLabel: (n) => `Register for ${n}`, alreadyBadge: 'You are registered', registering: 'Registering…',
    registered: (n, d) => `Registered: ${n} (${d}). On the day, enter with your card.`, already: (n, d) => `You were already registered for ${n} (${d}); nothing more to do.`,
    refusals: {
      SRV_ERR_VENUE_EVENT_FULL: 'Not registered: the event is full.', SRV_ERR_VENUE_REGISTRATION_CLOSED: 'Not registered: registration is not open (not started yet or closed).',
      SRV_ERR_VENUE_CARD_HOTLISTED: 'Not registered: this card is reported lost or blocked.', SRV_ERR_NOT_FOUND: 'Not registered: the event does not exist or was cancelled.',
    },
    refusedOther: 'The registration was not accepted. Please ask at a service counter.', offline: 'Registration needs the service centre, which this machine cannot reach right now. Please try later.',
    trackerTitle: 'Who used my data', accessesTitle: 'Departments that looked up my data', noAccesses: 'No department has looked up your data.', consentsTitle: 'Consents I gave', noConsents: 'You have not given any consent.',
    when: 'Time', department: 'Department', purpose: 'Purpose', what: 'Looked up', outcome: 'Result', granted: 'Given on', until: 'Valid until', state: 'State',
    purposes: { 'public-service': 'Public services', subsidy: 'Subsidy payment check', 'credit-query': 'Credit enquiry' },
    calls: { 'card-status': 'Card status', verify: 'Identity check (yes/no)', 'basic-info': 'Basic information', 'batch-verify': 'Batch identity check', changes: 'Card status changes' },
    fields: { name: 'name', idNumber: 'ID number', region: 'region', generation: 'card generation', issuedOn: 'issue date', expiresOn: 'expiry date', status: 'card status', match: 'match', usable: 'usable' },
    released: (list) => `Released: ${list}`, outcomes: {
      SRV_ERR_SHARING_NO_CONSENT: 'Refused: no consent from you', SRV_ERR_SHARING_CONSENT_EXPIRED: 'Refused: your consent had expired', SRV_ERR_SHARING_CONSENT_REVOKED: 'Refused: you withdrew the consent',
      SRV_ERR_SHARING_PURPOSE_NOT_GRANTED: 'Refused: purpose not allowed for the department', SRV_ERR_SHARING_QUOTA: 'Refused: over the department’s quota',
    },
    refusedAccess: 'Refused', active: 'valid', expiredConsent: 'expired', revoked: 'withdrawn', withdraw: 'Withdraw', withdrawLabel: (d, p) => `Withdraw the consent for ${d} (${p})`,
    withdrawTitle: 'Withdraw consent', withdrawExplain: (d, p) => `After this, ${d} can no longer look up your basic information for “${p}”. Withdraw the consent?`, withdrawConfirm: 'Withdraw',
    withdrawn: 'The consent has been withdrawn.', alreadyWithdrawn: 'This consent was already withdrawn.', back: 'Back', finish: 'Finish and return card', toEvents: 'See events open for registration', toTracker: 'Back to the record', toList: 'Back to the events',
    holderRefused: { SRV_ERR_NOT_FOUND: 'The service centre has no record of this card, or that consent is not this card’s.', SRV_ERR_REGISTRY_TRANSITION: 'This card’s status does not allow this service.' },
  },
};

/**
 * Wires the holder screens into the kiosk. `k` gives the kiosk's own helpers:
 * `{h, button, show, call, errorMessage, lang(), finish, failure, say, back}` (`back` returns to the services menu).
 * Returns `{refresh(), menu(), wipe()}`.
 */
export function createHolder(k) {
  const t = () => T[k.lang()];
  /** Which services the terminal offers (GET /v1/holder/services). */
  let offered = { library: false, venue: false, events: false, tracker: false };
  /** Answers of the current holder, wiped with the card. */
  let data = {};

  const wipe = () => {
    data = {};
  };
  const field = (label, value) => [k.h('dt', {}, label), k.h('dd', {}, value)];
  const time = (ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  const day = (ms) => time(ms).slice(0, 10);
  const purpose = (p) => t().purposes[p] ?? p;
  /** A department as the holder reads it: its registered name, else its id. */
  const dept = (x) => x.departmentName ?? x.department;
  const endActions = (...extra) => k.h('div', { class: 'actions' }, ...extra, k.button(t().back, k.back, { class: extra.length === 0 ? 'btn primary' : 'btn' }), k.button(t().finish, k.finish));

  /** Plain words for a failed holder call: the server's refusal reason where it gave one. */
  const problem = (e) => {
    const sc = e.details?.serverCode;
    if (e.code === 'TERM_ERR_VENUE_REGISTRATION_REFUSED') return t().refusals[sc] ?? t().refusedOther;
    if (e.code === 'TERM_ERR_VENUE_OFFLINE') return t().offline;
    if (e.code === 'TERM_ERR_HOLDER_REFUSED' && t().holderRefused[sc] !== undefined) return t().holderRefused[sc];
    return k.errorMessage(e.code, k.lang(), e.details);
  };

  // ---- screens (named: the kiosk shows each name in #screen[data-screen]) ----

  function holderLoading() {
    return [k.h('h1', {}, t().loading), k.h('div', { class: 'spinner', role: 'progressbar', 'aria-label': t().loading })];
  }

  /** A refusal or failure of a holder service, in words, the code small for staff, and a way back. */
  function holderProblem(code, details, backTo) {
    return [
      k.h('h1', {}, { library: t().libTitle, venue: t().venueTitle(data.venue?.name), events: t().eventsTitle, register: t().eventsTitle, tracker: t().trackerTitle, revoke: t().withdrawTitle }[backTo] ?? t().trackerTitle),
      k.h('p', { class: 'lead problem', role: 'alert', id: 'holder-problem' }, problem({ code, details })),
      k.h('p', { class: 'code' }, `${k.lang() === 'zh' ? '代码' : 'Code'}: ${details?.serverCode ?? code}`),
      backTo === 'register' ? endActions(k.button(t().toList, () => void open('events'), { class: 'btn primary' }))
        : backTo === 'revoke' ? endActions(k.button(t().toTracker, () => void open('tracker'), { class: 'btn primary' }))
          : endActions(),
    ];
  }

  function libraryScreen() {
    const l = data.library;
    const n = (v) => (v === undefined ? '—' : t().books(v));
    return [
      k.h('h1', {}, t().libTitle),
      k.h('p', { class: l.mayBorrow ? 'lead status ok' : 'lead problem', id: 'library-verdict', role: 'status' }, l.mayBorrow ? t().mayBorrow : t().mayNot(t().reasons[l.reason] ?? t().reasons.blocked)),
      k.h('dl', { class: 'fields', id: 'library-fields' },
        l.name === undefined ? null : field(t().reader, l.name),
        field(t().loans, n(l.loans)), field(t().overdue, n(l.overdue)), field(t().holds, n(l.holds)), field(t().fineItems, n(l.fineItems)),
        l.fees === undefined ? null : field(t().fees, `${l.fees}${l.currency === undefined ? '' : ` ${l.currency}`}`),
        l.expires === undefined ? null : field(t().expires, l.expires)),
      k.h('h2', {}, t().flagsTitle),
      l.flags.length === 0 ? k.h('p', {}, t().noFlags) : k.h('ul', { id: 'library-flags' }, l.flags.map((f) => k.h('li', {}, t().flags[f] ?? f))),
      l.messages.length === 0 ? null : k.h('p', { class: 'hint', id: 'library-message' }, t().libMessage(l.messages.join(' '))),
      endActions(),
    ];
  }

  function venueScreen() {
    const v = data.venue;
    const reason = v.entryNow?.reason;
    return [
      k.h('h1', {}, t().venueTitle(v.name)),
      k.h('p', { class: v.entryNow?.admit ? 'lead status ok' : 'lead problem', id: 'venue-entry', role: 'status' }, t().entryNow(t().venueReasons[reason] ?? t().admitNow)),
      v.fresh ? null : k.h('p', { class: 'hint' }, t().stale),
      k.h('dl', { class: 'fields', id: 'venue-fields' },
        field(t().entries, t().entriesOf(v.entriesToday, v.maxDailyEntries)),
        field(t().fare, `${t().categories[v.category] ?? v.category} · ${t().price(v.priceFen)}`)),
      k.h('h2', {}, t().registeredFor),
      v.registrations.length === 0 ? k.h('p', {}, t().noRegistrations) : k.h('ul', { id: 'venue-registrations' }, v.registrations.map((r) => k.h('li', {}, `${r.name}（${r.date}）`))),
      endActions(offered.events ? k.button(t().toEvents, () => void open('events'), { class: 'btn primary', id: 'to-events' }) : null),
    ];
  }

  function eventsScreen() {
    const list = data.events;
    return [
      k.h('h1', {}, t().eventsTitle),
      list.length === 0 ? k.h('p', { class: 'lead' }, t().noEvents) : k.h('ul', { class: 'events', id: 'events' }, list.map((e) => k.h('li', { class: 'event' },
        k.h('h2', {}, e.name),
        k.h('p', {}, `${t().eventDate(e.date)} · ${t().places(e.registered, e.capacity)}`),
        k.h('p', { class: 'hint' }, t().closes(time(e.closesAt))),
        e.registeredByHolder ? k.h('p', { class: 'status ok' }, t().alreadyBadge)
          : k.button(t().register, () => void register(e), { class: 'btn primary', 'aria-label': t().registerLabel(e.name), 'data-event': e.eventId })))),
      endActions(),
    ];
  }

  function eventResult(kind) {
    const r = data.registration;
    return [
      k.h('h1', {}, kind === 'registered' ? t().registered(r.name, r.date) : t().already(r.name, r.date)),
      endActions(k.button(t().toList, () => void open('events'), { class: 'btn primary' })),
    ];
  }

  function trackerScreen() {
    const tr = data.tracker;
    const now = Date.now();
    const consentState = (c) => (c.revokedAt !== null ? t().revoked : c.expiresAt <= now ? t().expiredConsent : t().active);
    return [
      k.h('h1', {}, t().trackerTitle),
      k.h('h2', {}, t().accessesTitle),
      tr.accesses.length === 0 ? k.h('p', {}, t().noAccesses) : k.h('table', { id: 'accesses' },
        k.h('caption', { class: 'sr-only' }, t().accessesTitle),
        k.h('thead', {}, k.h('tr', {}, [t().when, t().department, t().purpose, t().what, t().outcome].map((c) => k.h('th', { scope: 'col' }, c)))),
        k.h('tbody', {}, tr.accesses.map((a) => k.h('tr', {},
          k.h('td', {}, time(a.at)), k.h('td', {}, dept(a)), k.h('td', {}, purpose(a.purpose)),
          k.h('td', {}, t().calls[a.call] ?? a.call),
          k.h('td', {}, a.outcome === 'released' ? t().released(a.released.map((f) => t().fields[f] ?? f).join(k.lang() === 'zh' ? '、' : ', ')) : (t().outcomes[a.outcome] ?? t().refusedAccess)))))),
      k.h('h2', {}, t().consentsTitle),
      tr.consents.length === 0 ? k.h('p', {}, t().noConsents) : k.h('table', { id: 'consents' },
        k.h('caption', { class: 'sr-only' }, t().consentsTitle),
        k.h('thead', {}, k.h('tr', {}, [t().department, t().purpose, t().granted, t().until, t().state, ''].map((c) => k.h('th', { scope: 'col' }, c)))),
        k.h('tbody', {}, tr.consents.map((c) => k.h('tr', {},
          k.h('td', {}, dept(c)), k.h('td', {}, purpose(c.purpose)), k.h('td', {}, day(c.grantedAt)), k.h('td', {}, day(c.expiresAt)), k.h('td', {}, consentState(c)),
          k.h('td', {}, c.revokedAt === null && c.expiresAt > now ? k.button(t().withdraw, () => k.show(withdrawConfirm, c.id), { class: 'btn small', 'aria-label': t().withdrawLabel(dept(c), purpose(c.purpose)), 'data-consent': c.id }) : ''))))),
      endActions(),
    ];
  }

  function withdrawConfirm(id) {
    const c = data.tracker?.consents.find((x) => x.id === id);
    if (c === undefined) return trackerScreen();
    return [
      k.h('h1', {}, t().withdrawTitle),
      k.h('p', { class: 'lead' }, t().withdrawExplain(dept(c), purpose(c.purpose))),
      k.h('div', { class: 'actions' }, k.button(t().withdrawConfirm, () => void withdraw(id), { class: 'btn danger', id: 'withdraw-confirm' }), k.button(t().back, () => k.show(trackerScreen))),
    ];
  }

  function withdrawResult(revoked) {
    return [k.h('h1', {}, revoked ? t().withdrawn : t().alreadyWithdrawn), endActions(k.button(t().toTracker, () => void open('tracker'), { class: 'btn primary' }))];
  }

  // ---- flows ----

  const SCREENS = { library: libraryScreen, venue: venueScreen, events: eventsScreen, tracker: trackerScreen };
  const PATHS = { library: '/v1/holder/library', venue: '/v1/holder/venue', events: '/v1/holder/events', tracker: '/v1/holder/tracker' };

  async function open(what) {
    k.show(holderLoading);
    const epoch = data;
    try {
      const r = await k.call(PATHS[what]);
      if (data !== epoch) return; // wiped meanwhile (card out, idle)
      data[what] = what === 'events' ? r.events : r;
      k.show(SCREENS[what]);
    } catch (e) {
      if (data !== epoch) return;
      k.show(holderProblem, e.code, e.details ?? {}, what);
    }
  }

  async function register(e) {
    k.show(holderLoading);
    const epoch = data;
    try {
      const r = await k.call('/v1/holder/events/register', { eventId: e.eventId });
      if (data !== epoch) return;
      data.registration = { name: r.name ?? e.name, date: r.date ?? e.date };
      k.say(r.status === 'registered' ? t().registered(data.registration.name, data.registration.date) : t().already(data.registration.name, data.registration.date));
      k.show(eventResult, r.status === 'registered' ? 'registered' : 'already');
    } catch (err) {
      if (data !== epoch) return;
      k.show(holderProblem, err.code, err.details ?? {}, 'register');
    }
  }

  async function withdraw(id) {
    k.show(holderLoading);
    const epoch = data;
    try {
      const r = await k.call('/v1/holder/consents/revoke', { consentId: id });
      if (data !== epoch) return;
      k.show(withdrawResult, r.revoked === true);
    } catch (err) {
      if (data !== epoch) return;
      k.show(holderProblem, err.code, err.details ?? {}, 'revoke');
    }
  }

  return {
    wipe,
    /** Asks the terminal which holder services it offers now (the fleet configuration may have changed). */
    async refresh() {
      try {
        offered = await k.call('/v1/holder/services');
      } catch {
        offered = { library: false, venue: false, events: false, tracker: false };
      }
    },
    /** The services-menu buttons of the offered holder services. */
    menu() {
      return ['library', 'venue', 'events', 'tracker'].filter((s) => offered[s]).map((s) => k.button(t()[s], () => void open(s), { class: 'btn big', id: `holder-${s}` }));
    },
  };
}
