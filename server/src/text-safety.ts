/**
 * One validator for text an operator or a terminal gives the server to keep and show to others:
 * group, token, key-set and document names, labels, reasons, tags. NUL and other C0/C1 control
 * characters (tab, line feed and carriage return excepted), the Unicode bidirectional controls
 * (U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates, U+200E/U+200F/U+061C marks)
 * and lone UTF-16 surrogates are refused: they truncate strings in C consumers, make one name
 * look like another in the dashboard and the audit log ("Trojan Source"), and cannot be stored by
 * every backend. The plugin in `plugins/text-guard.ts` applies it to every JSON request body.
 */
import { ServerError } from './errors.ts';

/** Characters refused anywhere in kept text. */
export const UNSAFE_TEXT_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` is unsafe (`control`, `bidi`, `surrogate`), or undefined when it is fine. */
export function unsafeTextReason(s: string): 'control' | 'bidi' | 'surrogate' | undefined {
  if (LONE_SURROGATE_RE.test(s)) return 'surrogate';
  const m = UNSAFE_TEXT_RE.exec(s);
  if (m === null) return undefined;
  const c = m[0].codePointAt(0)!;
  return c <= 0x9f ? 'control' : 'bidi';
}

/** Largest nesting the walk follows (deeper values are refused as well: nothing kept is that deep). */
const MAX_WALK_DEPTH = 64;

/**
 * Checks every string (values and property names) in a parsed JSON value.
 * @throws ServerError `SRV_ERR_UNSAFE_TEXT` with details `{ field, reason }` (field: a JSON path)
 */
export function assertSafeText(value: unknown, field = '$'): void {
  const stack: [unknown, string, number][] = [[value, field, 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      const reason = unsafeTextReason(v);
      if (reason !== undefined) throw new ServerError('SRV_ERR_UNSAFE_TEXT', path, { field: path, reason });
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_WALK_DEPTH) throw new ServerError('SRV_ERR_UNSAFE_TEXT', path, { field: path, reason: 'depth' });
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${path}[${i}]`, depth + 1]);
      continue;
    }
    for (const [k, x] of Object.entries(v)) {
      const reason = unsafeTextReason(k);
      if (reason !== undefined) throw new ServerError('SRV_ERR_UNSAFE_TEXT', `${path} (property name)`, { field: path, reason });
      stack.push([x, `${path}.${k}`, depth + 1]);
    }
  }
}
