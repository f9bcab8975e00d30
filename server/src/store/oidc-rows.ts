/** Helpers shared by the SQLite and PostgreSQL card-login stores. */
import type { LoginOutcome, LoginRecord } from './oidc-types.ts';

export interface PayloadRow {
  readonly payload: string;
  readonly expires_at: number | null;
  readonly consumed_at: number | null;
}

/** A pending login after `outcome`. */
export function finishedLogin(l: LoginRecord, outcome: LoginOutcome, at: number): LoginRecord {
  return outcome.status === 'done'
    ? { ...l, status: 'done', method: outcome.method, accountId: outcome.accountId, acr: outcome.acr, amr: [...outcome.amr], terminalId: outcome.terminalId, error: null, finishedAt: at }
    : { ...l, status: 'refused', method: outcome.method, error: outcome.error, terminalId: outcome.terminalId, finishedAt: at };
}
