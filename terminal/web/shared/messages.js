// Cardholder- and staff-facing texts of the OneCard screens (zh-CN default, English), and a plain
// message for every terminal error code (TERM_ERR_*): a screen never shows a raw code alone. The
// code is shown small beside the message for the staff who help.

/** @type {Record<string, {zh: string, en: string}>} */
export const ERRORS = {
  TERM_ERR_NO_CARD: { zh: '读卡器中没有卡片，请插入社保卡。', en: 'There is no card in the reader. Please insert your card.' },
  TERM_ERR_CARD_REMOVED: { zh: '卡片已被取出，操作未完成。', en: 'The card was taken out, so the step was not finished.' },
  TERM_ERR_CARD_RESET: { zh: '卡片被重置，请重新插卡。', en: 'The card was reset. Please insert it again.' },
  TERM_ERR_CARD_TIMEOUT: { zh: '卡片没有响应，请取出后重新插入。', en: 'The card did not answer. Take it out and insert it again.' },
  TERM_ERR_CARD_PROTOCOL: { zh: '卡片通信出错，请取出后重新插入。', en: 'Talking to the card failed. Take it out and insert it again.' },
  TERM_ERR_CARD_ATR: { zh: '无法识别此卡片，请确认插入的是社保卡。', en: 'This card cannot be recognised. Please check it is your social security card.' },
  TERM_ERR_CARD_MUTE: { zh: '卡片无响应，请确认芯片朝上、方向正确后重新插入。', en: 'The card does not respond. Insert it again, chip first and facing up.' },
  TERM_ERR_SESSION_CLOSED: { zh: '本次读卡已结束，请重新插卡。', en: 'This card session has ended. Please insert the card again.' },
  TERM_ERR_WRONG_CARD_TYPE: { zh: '此卡不支持该项服务。', en: 'This card does not support this service.' },
  TERM_ERR_CARD_DATA: { zh: '卡片数据无法读取，请到人工窗口办理。', en: 'The card data cannot be read. Please go to a service counter.' },
  TERM_ERR_CARD_STATUS: { zh: '卡片拒绝了此操作，请到人工窗口办理。', en: 'The card refused this step. Please go to a service counter.' },
  TERM_ERR_CARD_NOT_GENUINE: { zh: '卡片验证未通过，无法办理。请到人工窗口咨询。', en: 'The card could not be verified as genuine. Please go to a service counter.' },
  TERM_ERR_CARD_HOTLISTED: { zh: '此卡已挂失或停用，不能使用。如需解挂，请携带身份证到人工窗口办理。', en: 'This card has been reported lost or is blocked. To unblock it, bring your ID card to a service counter.' },
  TERM_ERR_CARD_EXPIRED: { zh: '此卡已过有效期，请到人工窗口办理换卡。', en: 'This card has expired. Please renew it at a service counter.' },
  TERM_ERR_CARD_NOT_YET_VALID: { zh: '此卡尚未启用，请到人工窗口咨询。', en: 'This card is not valid yet. Please ask at a service counter.' },
  TERM_ERR_EXTERNAL_AUTH_FAILED: { zh: '卡片安全认证未通过，请到人工窗口办理。', en: 'The card security check failed. Please go to a service counter.' },
  TERM_ERR_PIN_FORMAT: { zh: '密码应为 4 至 16 位数字（通常为 6 位）。', en: 'The PIN must be 4 to 16 digits (usually 6).' },
  TERM_ERR_PIN_WRONG: { zh: '密码错误，还可以尝试 {triesLeft} 次。次数用完后密码将被锁定。', en: 'Wrong PIN. {triesLeft} tries left before the PIN is locked.' },
  TERM_ERR_PIN_LOCKED: { zh: '密码已锁定（连续输错次数过多）。请携带身份证和社保卡到人工窗口办理密码重置。', en: 'The PIN is locked after too many wrong tries. Bring your ID card and this card to a service counter to reset it.' },
  TERM_ERR_NO_PSAM: { zh: '本机安全模块缺失，暂停服务，请联系工作人员。', en: 'This machine is missing its security module. Please ask staff for help.' },
  TERM_ERR_PSAM_STATUS: { zh: '本机安全模块出错，请联系工作人员。', en: 'The security module of this machine failed. Please ask staff for help.' },
  TERM_ERR_PSAM_NO_ALGORITHM: { zh: '本机不支持此卡，请到人工窗口办理。', en: 'This machine does not support this card. Please go to a service counter.' },
  TERM_ERR_PSAM_NO_RKSSSE: { zh: '本机不支持此卡的部分信息，请到人工窗口办理。', en: 'This machine cannot read all of this card. Please go to a service counter.' },
  TERM_ERR_PSAM_KEY_LEVEL: { zh: '本机安全模块配置有误，请联系工作人员。', en: 'The security module of this machine is misconfigured. Please ask staff.' },
  TERM_ERR_INSUFFICIENT_FUNDS: { zh: '卡内余额不足，请充值后再试。', en: 'Not enough balance on the card. Please top it up and try again.' },
  TERM_ERR_PURCHASE_MAC2: { zh: '交易验证失败，未扣款，请联系工作人员。', en: 'The payment could not be verified. Please ask staff.' },
  TERM_ERR_PURCHASE_INTERRUPTED: { zh: '交易中断，请重新插卡以确认是否已扣款。', en: 'The payment was interrupted. Insert the card again to check whether it was charged.' },
  TERM_ERR_PURCHASE_UNKNOWN: { zh: '交易结果待核对，不会重复扣款。', en: 'The payment result will be reconciled; you will not be charged twice.' },
  TERM_ERR_PURCHASE_PENDING: { zh: '此卡有一笔中断的交易需要先处理，请重新插卡。', en: 'An interrupted payment of this card must be settled first. Insert the card again.' },
  TERM_ERR_SERVICE_DISABLED: { zh: '本机未开通此项服务。', en: 'This service is not offered on this machine.' },
  TERM_ERR_LIBRARY_UNAVAILABLE: { zh: '暂时无法连接图书馆系统，请稍后再试或到服务台办理。', en: 'The library system cannot be reached. Please try again later or ask at the desk.' },
  TERM_ERR_LIBRARY_LOGIN: { zh: '本机未能登录图书馆系统，请联系工作人员。', en: 'This machine could not sign in to the library system. Please ask staff.' },
  TERM_ERR_LIBRARY_PROTOCOL: { zh: '图书馆系统应答异常，请到服务台办理。', en: 'The library system answered wrongly. Please ask at the desk.' },
  TERM_ERR_LIBRARY_NO_SCAN: { zh: '没有扫描到图书条码，请将条码对准扫描器。', en: 'No book barcode was scanned. Hold the barcode under the scanner.' },
  TERM_ERR_HOTLIST_STALE: { zh: '本机挂失名单未及时更新，暂停此项服务，请联系工作人员。', en: 'This machine\'s lost-card list is out of date, so this service is paused. Please ask staff.' },
  TERM_ERR_ID_MISMATCH: { zh: '证件号码与卡内持卡人信息不符，不能办理。请核对证件后重新输入。', en: 'The ID document number does not match the card holder. Check the document and type it again.' },
  TERM_ERR_API_NOT_CONFIGURED: { zh: '本机未开通此项服务。', en: 'This service is not offered on this machine.' },
  TERM_ERR_API_SESSION: { zh: '本机页面会话已结束，暂停服务，请联系工作人员。', en: 'This screen\'s session has ended; out of service. Please ask staff.' },
  TERM_ERR_STAFF_REQUIRED: { zh: '请工作人员先用本人凭证登录柜台。', en: 'A member of staff must sign in at the desk with their own credential first.' },
  TERM_ERR_STAFF_REFUSED: { zh: '凭证无效、已吊销或不适用于本终端，不能登录。', en: 'The credential is unknown, revoked or not valid at this terminal; sign-in refused.' },
  TERM_ERR_STAFF_UNCHECKED: { zh: '无法连接管理服务器，凭证暂时无法核验，不能登录或办理。', en: 'The fleet server cannot be reached, so the credential cannot be checked: sign-in and desk actions are refused for now.' },
  TERM_ERR_PINPAD_UNAVAILABLE: { zh: '密码键盘暂时不可用，请联系工作人员。', en: 'The PIN pad is not available. Please ask staff for help.' },
  TERM_ERR_PINPAD_BUSY: { zh: '密码键盘正在使用中，请稍候再试。', en: 'The PIN pad is busy. Please wait and try again.' },
  TERM_ERR_PINPAD_CANCELLED: { zh: '已取消在密码键盘上输入密码。', en: 'PIN entry on the PIN pad was cancelled.' },
  TERM_ERR_PINPAD_TIMEOUT: { zh: '长时间未在密码键盘上输入密码，操作已取消。', en: 'No PIN was entered on the PIN pad for a while, so the step was cancelled.' },
  TERM_ERR_PINPAD_PROTOCOL: { zh: '密码键盘出错，请联系工作人员。', en: 'The PIN pad had a problem. Please ask staff for help.' },
  TERM_ERR_PIN_MISMATCH: { zh: '两次输入的新密码不一致，密码未修改，请重新输入。', en: 'The two new PINs differ, so the PIN was not changed. Please enter them again.' },
  TERM_ERR_API_TIMEOUT: { zh: '等待超时，请重试。', en: 'Timed out. Please try again.' },
  TERM_ERR_LOGIN_UNKNOWN: { zh: '登录码无效或已过期。请在网站登录页面刷新后，输入新的登录码。', en: 'This login code is unknown or has expired. Refresh the login page of the website and enter the new code.' },
  TERM_ERR_LOGIN_OFFLINE: { zh: '登录服务需要连接服务中心，本机暂时无法连接，请稍后再试或联系工作人员。', en: 'Logging in needs the service centre, which this machine cannot reach right now. Try later or ask staff.' },
  TERM_ERR_LOGIN_REFUSED: { zh: '本机暂不能用于登录此网站，请联系工作人员。', en: 'This machine cannot be used to log in to this website right now. Please ask staff.' },
  TERM_ERR_OUTBOX_FULL: { zh: '本机暂时无法记录业务，请稍后再试或联系工作人员。', en: 'This machine cannot record the request right now. Try later or ask staff.' },
  TERM_ERR_RUNTIME_CLOSED: { zh: '本机正在重启，请稍候。', en: 'This machine is restarting. Please wait.' },
  TERM_ERR_ECARD_EXPIRED: { zh: '电子社保卡二维码已过期，请刷新后重新出示。', en: 'The e-card QR code has expired. Refresh it and show it again.' },
  TERM_ERR_ECARD_REPLAYED: { zh: '此二维码已使用过，请刷新后重新出示。', en: 'This QR code was already used. Refresh it and show it again.' },
  TERM_ERR_ECARD_NOT_YET_VALID: { zh: '二维码时间有误，请联系工作人员检查本机时钟。', en: 'The QR code time is wrong. Please ask staff to check this machine\'s clock.' },
  TERM_ERR_ECARD_ONLINE_REJECTED: { zh: '电子社保卡平台拒绝了此二维码。', en: 'The e-card platform refused this QR code.' },
  TERM_ERR_HOLDER_UNVERIFIED: { zh: '请先输入社保卡密码（插入的卡片已更换或操作时间过长）。', en: 'Please enter your card PIN first (the card was changed or too much time has passed).' },
  TERM_ERR_HOLDER_OFFLINE: { zh: '此项服务需要连接服务中心，本机暂时无法连接，请稍后再试。', en: 'This service needs the service centre, which this machine cannot reach right now. Please try later.' },
  TERM_ERR_HOLDER_REFUSED: { zh: '服务中心未受理此项业务，请到服务窗口咨询。', en: 'The service centre did not accept this request. Please ask at a service counter.' },
  TERM_ERR_VENUE_NOT_CONFIGURED: { zh: '本机未开通场馆服务。', en: 'Venue services are not offered on this machine.' },
  TERM_ERR_VENUE_OFFLINE: { zh: '此项服务需要连接服务中心，本机暂时无法连接，请稍后再试。', en: 'This service needs the service centre, which this machine cannot reach right now. Please try later.' },
  TERM_ERR_VENUE_REGISTRATION_REFUSED: { zh: '报名未被受理（名额已满、不在报名时间内或卡片不可用）。', en: 'The registration was not accepted (event full, registration not open, or the card cannot be used).' },
  TERM_ERR_VENUE_STATE_IO: { zh: '本机场馆数据无法保存，请联系工作人员。', en: 'This machine cannot store its venue data. Please ask staff.' },
  TERM_ERR_ECARD_ONLINE_UNAVAILABLE: { zh: '电子社保卡平台暂时无法连接，请稍后再试。', en: 'The e-card platform cannot be reached. Please try later.' },
};

const FAMILIES = [
  { re: /^TERM_ERR_(LINK|READER)_/, zh: '读卡器暂时不可用，请联系工作人员。', en: 'The card reader is not available. Please ask staff for help.' },
  { re: /^TERM_ERR_ECARD_/, zh: '无法识别此电子社保卡二维码，请刷新后重新出示。', en: 'This e-card QR code cannot be accepted. Refresh it and show it again.' },
  { re: /^TERM_ERR_(JOURNAL|OUTBOX|KEYSTORE|SAM|KEY)_?/, zh: '本机暂时无法完成此业务，请联系工作人员。', en: 'This machine cannot complete this service right now. Please ask staff.' },
  { re: /^TERM_ERR_API_/, zh: '本机服务出错，请重试或联系工作人员。', en: 'This machine had a problem. Try again or ask staff for help.' },
];
const FALLBACK = { zh: '本机暂时无法完成此操作，请联系工作人员。', en: 'This machine cannot do that right now. Please ask staff for help.' };

/**
 * The plain message for a terminal error code in `lang` ('zh' or 'en'), with `{triesLeft}` filled
 * from `details` when known.
 * @param {string} code @param {'zh'|'en'} lang @param {Record<string, unknown>} [details]
 */
export function errorMessage(code, lang, details = {}) {
  const m = ERRORS[code] ?? FAMILIES.find((f) => f.re.test(code)) ?? FALLBACK;
  let text = m[lang];
  if (text.includes('{triesLeft}')) {
    const n = details.triesLeft;
    text = typeof n === 'number' ? text.replace('{triesLeft}', String(n)) : lang === 'zh' ? text.replace('还可以尝试 {triesLeft} 次。', '') : text.replace('{triesLeft} tries left before the PIN is locked.', '');
  }
  return text;
}

/** Masks all but the first `head` and last `tail` characters. */
export function mask(s, head, tail) {
  if (typeof s !== 'string') return '';
  if (s.length <= head + tail) return '*'.repeat(s.length);
  return s.slice(0, head) + '*'.repeat(s.length - head - tail) + s.slice(s.length - tail);
}

/** 张三 → 张*, 欧阳娜娜 → 欧***. */
export function maskName(n) {
  if (typeof n !== 'string' || n.length === 0) return '';
  return n.slice(0, 1) + '*'.repeat(Math.max(1, [...n].length - 1));
}

/** 19700101 → 1970-01-01. */
export function formatDate(d) {
  return typeof d === 'string' && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : (d ?? '');
}
