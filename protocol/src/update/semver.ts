/**
 * Semantic versions (semver 2.0.0) as the update system needs them: parse and compare, nothing
 * else. Build metadata is accepted and ignored in comparisons [semver §10]; a pre-release sorts
 * before its release [semver §11].
 */

const SEMVER = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly pre: readonly string[];
}

/** Parses `v`, or returns `undefined` when it is not a semantic version (at most 64 characters). */
export function parseSemver(v: string): SemVer | undefined {
  if (v.length > 64) return undefined;
  const m = SEMVER.exec(v);
  if (m === null) return undefined;
  const pre = m[4] === undefined ? [] : m[4].split('.');
  if (pre.some((p) => /^0\d+$/.test(p))) return undefined; // [semver §9] no leading zeros
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre };
}

/** True when `v` is a semantic version. */
export function isSemver(v: string): boolean {
  return parseSemver(v) !== undefined;
}

/** Compares two versions: negative, zero or positive. Unparseable versions sort before all others. */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (x === undefined || y === undefined) return (x === undefined ? 0 : 1) - (y === undefined ? 0 : 1);
  if (x.major !== y.major) return x.major - y.major;
  if (x.minor !== y.minor) return x.minor - y.minor;
  if (x.patch !== y.patch) return x.patch - y.patch;
  // [semver §11.3] a release is greater than any of its pre-releases
  if (x.pre.length === 0 || y.pre.length === 0) return (x.pre.length === 0 ? 1 : 0) - (y.pre.length === 0 ? 1 : 0);
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i]!;
    const q = y.pre[i]!;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1; // [semver §11.4.3] numeric identifiers sort first
    return p < q ? -1 : 1;
  }
  return x.pre.length - y.pre.length;
}
