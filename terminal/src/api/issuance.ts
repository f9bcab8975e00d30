/**
 * Local API routes of instant issuance at the counter desk (docs/issuance.md): a signed-in member
 * of staff submits a holder's application (`POST /v1/issuance/jobs`), the desk page polls the
 * job's progress step by step (`GET /v1/issuance/jobs/{jobId}`), and resumes a held job once the
 * back office answers again (`POST /v1/issuance/jobs/{jobId}/resume`). Both POSTs are staff-only
 * services (`STAFF_ROUTES`): the kiosk's session cannot call them and token holders name a member
 * of staff. Progress answers carry the card number and the step, never holder data. Maintenance of
 * an issued card in the desk's reader: information change (`POST /v1/issuance/holder-change`) and
 * the permanent APPLICATION BLOCK (`POST /v1/issuance/block` with the confirmation words), both
 * staff-only. Registered by `app.ts`; without an issuing device the job routes answer
 * `TERM_ERR_API_NOT_CONFIGURED`.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import type { IssuanceService, JobView } from '../issuance/service.ts';
import { BLOCK_CONFIRMATION, blockApplication, changeHolderInformation } from '../issuance/maintenance.ts';
import type { CardAccess } from './card-access.ts';
import { staffOf } from './staff.ts';

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message', 'national'] } },
} as const;
const jobSchema = {
  type: 'object',
  properties: {
    jobId: { type: 'string' },
    status: { type: 'string', enum: ['running', 'held', 'issued', 'failed'] },
    step: { type: 'string' },
    phase: { type: 'string' },
    stepIndex: { type: 'integer' },
    steps: { type: 'array', items: { type: 'string' } },
    cardNumber: { type: 'string' },
    retained: { type: 'boolean' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
  required: ['jobId', 'status', 'step', 'phase', 'stepIndex', 'steps'],
} as const;
const answer = { 200: jobSchema, '4xx': errorSchema, '5xx': errorSchema } as const;

export interface IssuanceApiOptions {
  readonly logger?: Logger;
  /** The desk's card reader (and PSAM) for maintenance of issued cards. */
  readonly readers?: CardAccess;
  readonly issuance?: IssuanceService;
  /** Region of this site's card stock (6 digits). */
  readonly issuanceRegion?: string;
}

/** Adds the `/v1/issuance/*` routes. */
export function registerIssuance(app: FastifyInstance, opts: IssuanceApiOptions): void {
  const need = (): { svc: IssuanceService; region: string } => {
    if (opts.issuance === undefined || opts.issuanceRegion === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no card-issuing device on this terminal');
    return { svc: opts.issuance, region: opts.issuanceRegion };
  };

  app.post<{ Body: { ssn: string; name: string; kind: 'new' | 'replacement' } }>('/v1/issuance/jobs', {
    schema: {
      summary: 'Issue a card on the spot for a holder (staff only); answers at once with the job, then poll it',
      description: 'Runs 标注, 制卡数据, dispense, write and read back, print, 回盘, 启用 and eject on the card-issuing device. A device or card fault ends with the card in the retain bin (status failed, retained true); a back-office refusal after writing holds the job (status held) until resumed.',
      tags: ['issuance'],
      body: {
        type: 'object',
        properties: { ssn: { type: 'string', minLength: 15, maxLength: 18 }, name: { type: 'string', minLength: 1, maxLength: 40 }, kind: { type: 'string', enum: ['new', 'replacement'] } },
        required: ['ssn', 'name', 'kind'],
        additionalProperties: false,
      },
      response: answer,
    },
  }, async (req): Promise<JobView> => {
    const { svc, region } = need();
    const jobId = randomBytes(12).toString('hex');
    const view = await svc.submit({ jobId, region, ssn: req.body.ssn, name: req.body.name, kind: req.body.kind });
    req.log.info({ jobId, ...staffOf(req) }, 'issuance submitted');
    return view;
  });

  app.get<{ Params: { jobId: string } }>('/v1/issuance/jobs/:jobId', {
    schema: { summary: 'Progress of an issuance job, step by step', tags: ['issuance'], params: { type: 'object', properties: { jobId: { type: 'string', maxLength: 64 } }, required: ['jobId'] }, response: answer },
  }, async (req) => need().svc.view(req.params.jobId));

  app.post<{ Params: { jobId: string } }>('/v1/issuance/jobs/:jobId/resume', {
    schema: { summary: 'Resume a held or interrupted issuance job (staff only)', tags: ['issuance'], params: { type: 'object', properties: { jobId: { type: 'string', maxLength: 64 } }, required: ['jobId'] }, response: answer },
  }, async (req) => {
    const view = await need().svc.submitResume(req.params.jobId);
    req.log.info({ jobId: req.params.jobId, ...staffOf(req) }, 'issuance resumed by staff');
    return view;
  });

  const masked = (n: string): string => (n.length > 4 ? `${'*'.repeat(n.length - 4)}${n.slice(-4)}` : n);
  const withDeskCard = <T>(fn: (c: { card: Parameters<typeof changeHolderInformation>[0]['card']; psam: Parameters<typeof changeHolderInformation>[0]['psam'] }) => Promise<T>): Promise<T> => {
    if (opts.readers === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no card reader');
    return opts.readers.withCard(({ card, psam }) => {
      if (psam === undefined) throw new TerminalError('TERM_ERR_NO_PSAM');
      return fn({ card, psam });
    });
  };

  app.post<{ Body: { ssn?: string; name?: string; sex?: string; ethnicGroup?: string; birthplace?: string; birthDate?: string } }>('/v1/issuance/holder-change', {
    schema: {
      summary: 'Information change (信息变更) of the card in the desk reader: rewrites the given EF06 items under UKSSSE and reads them back (staff only)',
      tags: ['issuance'],
      body: {
        type: 'object',
        properties: {
          ssn: { type: 'string', minLength: 15, maxLength: 18 },
          name: { type: 'string', minLength: 1, maxLength: 40 },
          sex: { type: 'string', enum: ['1', '2', '9'] },
          ethnicGroup: { type: 'string', pattern: '^[0-9]{2}$' },
          birthplace: { type: 'string', pattern: '^[0-9]{6}$' },
          birthDate: { type: 'string', pattern: '^[0-9]{8}$' },
        },
        additionalProperties: false,
        minProperties: 1,
      },
      response: { 200: { type: 'object', properties: { cardNumber: { type: 'string' }, changed: { type: 'array', items: { type: 'string' } } } }, '4xx': errorSchema, '5xx': errorSchema },
    },
  }, async (req) => {
    const r = await withDeskCard((c) => changeHolderInformation({ ...c, ...(opts.logger === undefined ? {} : { logger: opts.logger }) }, req.body));
    req.log.info({ changed: r.tags.map((x) => x.toString(16)), ...staffOf(req) }, 'holder information changed at the desk');
    return { cardNumber: masked(r.cardNumber), changed: r.tags.map((x) => x.toString(16).padStart(2, '0').toUpperCase()) };
  });

  app.post<{ Body: { confirmation: string } }>('/v1/issuance/block', {
    schema: {
      summary: `APPLICATION BLOCK of the card in the desk reader — permanent, confirm with "${BLOCK_CONFIRMATION}" (staff only)`,
      tags: ['issuance'],
      body: { type: 'object', properties: { confirmation: { type: 'string', maxLength: 64 } }, required: ['confirmation'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { blocked: { type: 'boolean' }, cardNumber: { type: 'string' } } }, '4xx': errorSchema, '5xx': errorSchema },
    },
  }, async (req) => {
    const r = await withDeskCard((c) => blockApplication({ ...c, ...(opts.logger === undefined ? {} : { logger: opts.logger }) }, req.body.confirmation));
    req.log.warn({ ...staffOf(req) }, 'social security application blocked at the desk');
    return { blocked: true, cardNumber: masked(r.cardNumber) };
  });
}
