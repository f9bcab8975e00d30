// Staff sign-in of the counter desk: the member of staff types their own credential (issued by the
// fleet server); the terminal checks it with the server and binds this page session to them. Desk
// actions that change a card or the hotlist are refused until someone is signed in, and are
// attributed to them. The credential field is cleared right after each attempt; the page never
// stores it.
import { call } from './shared/api.js';
import { errorMessage } from './shared/messages.js';

const T = {
  zh: { title: '工作人员', credential: '工作人员凭证', signIn: '登录', signOut: '退出登录', signedIn: (s) => `已登录：${s.name}（${s.staffId}）`, signedOut: '请工作人员用本人凭证登录后办理业务。', bye: '已退出登录。' },
  en: { title: 'Staff', credential: 'Staff credential', signIn: 'Sign in', signOut: 'Sign out', signedIn: (s) => `Signed in: ${s.name} (${s.staffId})`, signedOut: 'Staff: sign in with your own credential before serving.', bye: 'Signed out.' },
};
const $ = (id) => document.getElementById(id);
const lang = () => (document.documentElement.lang === 'en' ? 'en' : 'zh');
let staff;

function render(note) {
  const t = T[lang()];
  $('staff-title').textContent = t.title;
  $('staff-credential-label').textContent = t.credential;
  $('staff-sign-in').textContent = t.signIn;
  $('staff-sign-out').textContent = t.signOut;
  $('staff-form').hidden = staff !== undefined;
  $('staff-sign-out').hidden = staff === undefined;
  $('staff-status').textContent = note ?? (staff === undefined ? t.signedOut : t.signedIn(staff));
}

async function refresh() {
  try {
    const s = await call('/v1/staff');
    staff = s.signedIn ? { staffId: s.staffId, name: s.name } : undefined;
  } catch {
    staff = undefined;
  }
  render();
}

$('staff-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('staff-credential');
  const credential = input.value.trim();
  input.value = '';
  if (credential === '') return;
  try {
    staff = await call('/v1/staff/sign-in', { credential });
    render();
  } catch (e) {
    staff = undefined;
    render(errorMessage(e.code, lang(), e.details));
    input.focus();
  }
});

$('staff-sign-out').addEventListener('click', async () => {
  try {
    await call('/v1/staff/sign-out', {});
  } finally {
    staff = undefined;
    render(T[lang()].bye);
    $('staff-credential').focus();
  }
});

// The language switch of desk.js changes <html lang>; follow it.
new MutationObserver(() => render()).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
// A desk action refused for want of a signed-in member of staff (or after a revocation) refreshes the state.
document.addEventListener('onecard-staff-check', () => void refresh());
void refresh();
