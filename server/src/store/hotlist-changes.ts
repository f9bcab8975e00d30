/**
 * How both store backends apply the hotlist changes carried by a terminal's records, in order:
 * each run of loss reports as one new version, each cancellation as its own. The backends run
 * the steps in their own transaction (SQLite synchronously, PostgreSQL with the meta row locked)
 * and fold the step results here into the one result `ingestEvents` reports.
 */
import type { HotlistAdd, HotlistChange, HotlistChangeResult } from './types.ts';

/** One version's worth of changes: a run of reports, or one cancellation. */
export type HotlistStep =
  | { readonly op: 'add'; readonly adds: readonly HotlistAdd[] }
  | { readonly op: 'remove'; readonly cardNumber: string; readonly by: string };

/** The result of applying changes, with each changed card's operation in the order applied. */
export type AppliedHotlistChanges = HotlistChangeResult & { readonly ops: { cardNumber: string; op: 'add' | 'remove' }[] };

/** Splits `changes` into steps, in order: consecutive reports form one step, each cancellation is one. */
export function hotlistSteps(changes: readonly HotlistChange[]): HotlistStep[] {
  const steps: HotlistStep[] = [];
  let adds: HotlistAdd[] = [];
  for (const ch of changes) {
    if (!('cancel' in ch)) {
      adds.push(ch);
      continue;
    }
    if (adds.length > 0) steps.push({ op: 'add', adds });
    adds = [];
    steps.push({ op: 'remove', cardNumber: ch.cardNumber, by: ch.by });
  }
  if (adds.length > 0) steps.push({ op: 'add', adds });
  return steps;
}

/**
 * Folds the steps' results, in the order they were applied: the version after the last step
 * (`version`, the one read before the first, when there were none), every changed card and its operation.
 */
export function foldHotlistSteps(version: number, applied: readonly { readonly op: 'add' | 'remove'; readonly result: HotlistChangeResult }[]): AppliedHotlistChanges {
  const changed: string[] = [];
  const ops: { cardNumber: string; op: 'add' | 'remove' }[] = [];
  for (const { op, result } of applied) {
    version = result.version;
    changed.push(...result.changed);
    ops.push(...result.changed.map((cardNumber) => ({ cardNumber, op })));
  }
  return { version, changed, ops };
}
