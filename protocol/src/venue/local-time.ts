/**
 * Local calendar time in a venue's IANA time zone, from an injected clock reading (ms since the
 * Unix epoch), and age in whole years from the birth date in a citizen ID number. Pure: the only
 * dependency is the ECMAScript `Intl` time-zone data.
 */

/** A moment as the venue sees it. */
export interface VenueLocalTime {
  /** `YYYY-MM-DD`. */
  readonly date: string;
  /** `HH:MM`, 00:00–23:59. */
  readonly time: string;
  /** ISO weekday, 1 Monday … 7 Sunday. */
  readonly weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Local date, time and weekday of `ms` in `timeZone`. Throws `RangeError` for an unknown zone (validated rules never have one). */
export function venueLocalTime(ms: number, timeZone: string): VenueLocalTime {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(ms))) parts[p.type] = p.value;
  const year = (parts['year'] ?? '').padStart(4, '0');
  return {
    date: `${year}-${parts['month']}-${parts['day']}`,
    time: `${parts['hour']}:${parts['minute']}`,
    weekday: WEEKDAY[parts['weekday'] ?? ''] ?? 0,
  };
}

/** `YYYY-MM-DD` of the day after `date` (calendar arithmetic, no time zone involved). */
export function nextLocalDate(date: string, days = 1): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return t.toISOString().slice(0, 10);
}

/**
 * The birth date `YYYYMMDD` in a citizen ID number [GB 11643]: digits 7–14 of an 18-character
 * number, or `19` + digits 7–12 of a 15-digit one. `undefined` when the number has neither form
 * or the date does not exist.
 */
export function birthDateFromId(id: string): string | undefined {
  let b: string;
  if (/^[0-9]{17}[0-9X]$/.test(id)) b = id.slice(6, 14);
  else if (/^[0-9]{15}$/.test(id)) b = `19${id.slice(6, 12)}`;
  else return undefined;
  const y = Number(b.slice(0, 4));
  const m = Number(b.slice(4, 6));
  const d = Number(b.slice(6, 8));
  const t = new Date(Date.UTC(y, m - 1, d));
  if (y < 1850 || t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return undefined;
  return b;
}

/** Whole years from `birth` (`YYYYMMDD`) to the local date `on` (`YYYY-MM-DD`); a 29 February birthday falls on 1 March in other years. */
export function ageOn(birth: string, on: string): number {
  const today = on.replaceAll('-', '');
  const years = Number(today.slice(0, 4)) - Number(birth.slice(0, 4));
  return today.slice(4) < birth.slice(4) ? years - 1 : years;
}
