/**
 * The one formatter of error messages for every OneCard registry (protocol, terminal, server,
 * simulators). A registry message is a template: `{name}` stands for `details.name` of the error.
 * Placeholders sit inside a parenthesised group, e.g. `Wrong PIN ({triesLeft} tries left)` or
 * `The card refused a command (SW {sw})`; a group's comma-separated parts whose details are missing
 * are left out, and a group left empty disappears with its leading space, so a message never shows
 * an unfilled placeholder. `sw` values print as 4 upper-case hex digits, other numbers in decimal.
 */

const GROUP = / ?\(([^()]*\{[A-Za-z][A-Za-z0-9]*\}[^()]*)\)/g;
const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** The text of one detail value, or undefined when it cannot be shown (absent, object, empty). */
function show(name: string, v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) {
    // Status words are read as hex everywhere in the card standards.
    if ((name === 'sw' || name.endsWith('Sw')) && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v.toString(16).toUpperCase().padStart(4, '0');
    return String(v);
  }
  if (typeof v === 'string' && v !== '') return v.length > 120 ? `${v.slice(0, 119)}…` : v;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/** Fills every placeholder of `text`, or returns undefined when one has no showable value. */
function fill(text: string, details: Readonly<Record<string, unknown>>): string | undefined {
  let missing = false;
  const out = text.replace(PLACEHOLDER, (_, name: string) => {
    const s = show(name, details[name]);
    if (s === undefined) missing = true;
    return s ?? '';
  });
  return missing ? undefined : out;
}

/**
 * Formats a registry message template with an error's details (see the file comment for the
 * template rules), then appends `: detail` when a free-text detail is given.
 */
export function formatErrorMessage(template: string, details: Readonly<Record<string, unknown>> = {}, detail?: string): string {
  const grouped = template.replace(GROUP, (_, inner: string) => {
    const parts = inner.split(', ').map((p) => ({ p, filled: p.includes('{') ? fill(p, details) : p, placeholder: p.includes('{') }));
    // The group stays only when at least one of its placeholders could be filled.
    if (!parts.some((x) => x.placeholder && x.filled !== undefined)) return '';
    return ` (${parts.flatMap((x) => (x.filled === undefined ? [] : [x.filled])).join(', ')})`;
  });
  // A placeholder outside any group: show it, or say the value is unknown.
  const base = grouped.replace(PLACEHOLDER, (_, name: string) => show(name, details[name]) ?? 'unknown');
  return detail === undefined ? base : `${base}: ${detail}`;
}
