// Masking of personal data before anything from an event or transaction reaches the screen.
// The server already minimises event bodies; the dashboard masks again so that a body that
// carries an ID number (公民身份号码), a name or a card number never shows in full. Bodies are never
// rendered raw: only `summarizeBody()` output is displayed.

/** Keys whose values are personal data, masked whatever they look like. */
const PERSONAL_KEY = /(ssn|idno|id_?number|identity|citizen|social|cert|name|holder|card_?no|card_?number|cardnumber|pan|phone|mobile|tel|address|addr|birth|dob|email|pin|password|secret|key|photo|qr|token)/i;
/** 18-character citizen ID number [GB 11643-1999]. */
const ID18 = /\b\d{17}[\dXx]\b/g;
/** 15-digit first-generation ID number. */
const ID15 = /\b\d{15}\b/g;
/** Social security card number: 9 digits/capitals with at least one digit [SPEC SC-IF §10.4]. */
const CARD9 = /\b(?=[0-9A-Z]*\d)[0-9A-Z]{9}\b/g;
/** Long digit runs (bank card numbers, phone numbers). */
const DIGITS = /\b\d{11,19}\b/g;

/** Keeps `head` and `tail` characters and stars the rest (at least 3 stars). */
export function maskMiddle(s, head, tail) {
  const chars = [...s];
  if (chars.length <= head + tail) return '*'.repeat(Math.max(3, chars.length));
  return chars.slice(0, head).join('') + '*'.repeat(Math.max(3, chars.length - head - tail)) + chars.slice(chars.length - tail).join('');
}

/** A name: first character only (张三 → 张*, Zhang San → Z***). */
export function maskName(s) {
  const chars = [...String(s).trim()];
  if (chars.length === 0) return '';
  return chars[0] + '*'.repeat(Math.max(1, Math.min(chars.length - 1, 3)));
}

/** Masks personal-data patterns inside free text. */
export function maskText(s) {
  return String(s)
    .replace(ID18, (m) => maskMiddle(m, 3, 2))
    .replace(ID15, (m) => maskMiddle(m, 3, 2))
    .replace(DIGITS, (m) => maskMiddle(m, 2, 2))
    .replace(CARD9, (m) => maskMiddle(m, 1, 2));
}

/** Masks one value given its key: personal keys always, other strings by pattern. */
export function maskValue(key, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean' || typeof value === 'number') {
    return PERSONAL_KEY.test(key) && typeof value === 'number' ? '***' : String(value);
  }
  if (typeof value === 'object') return Array.isArray(value) ? `[${value.length} items]` : '{…}';
  const s = String(value);
  if (PERSONAL_KEY.test(key)) {
    if (/name|holder/i.test(key)) return maskName(s);
    if (/pin|password|secret|key|token|photo|qr/i.test(key)) return '***';
    return maskMiddle(s, Math.min(3, Math.floor(s.length / 4)), Math.min(2, Math.floor(s.length / 6)));
  }
  return maskText(s).slice(0, 120);
}

/**
 * A short, masked summary of an event body: up to `max` top-level `key=value` pairs, nested
 * objects and arrays shown only by shape.
 */
export function summarizeBody(body, max = 6) {
  if (body === null || typeof body !== 'object') return '';
  const keys = Object.keys(body);
  const parts = keys.slice(0, max).map((k) => `${maskText(k).slice(0, 40)}=${maskValue(k, body[k])}`);
  if (keys.length > max) parts.push(`+${keys.length - max} more`);
  return parts.join(' · ');
}
