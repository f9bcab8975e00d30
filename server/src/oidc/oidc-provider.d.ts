/**
 * The part of `oidc-provider` v8's API (it ships no type declarations) that the card-login plugin
 * uses; see the library's documentation for the full configuration.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ClientView {
    readonly clientId: string;
    readonly clientName?: string;
    readonly sectorIdentifier?: string;
  }
  export interface KoaContextWithOIDC {
    readonly oidc: {
      readonly client?: ClientView;
      readonly session?: { readonly acr?: string; readonly accountId?: string };
      readonly params?: Record<string, unknown>;
      readonly route?: string;
    };
    readonly ip: string;
    type: string;
    body: unknown;
    status: number;
    set(name: string, value: string): void;
    readonly host: string;
  }
  export interface AdapterPayload {
    readonly [key: string]: unknown;
    readonly grantId?: string;
    readonly uid?: string;
    readonly userCode?: string;
    consumed?: number;
  }
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }
  export interface InteractionDetails {
    readonly uid: string;
    readonly prompt: { readonly name: string; readonly reasons: readonly string[]; readonly details: Record<string, unknown> };
    readonly params: Record<string, unknown> & { readonly client_id: string; readonly scope?: string };
    readonly session?: { readonly accountId: string; readonly acr?: string };
    readonly grantId?: string;
  }
  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: readonly string[]): void;
    save(): Promise<string>;
  }
  export interface GrantConstructor {
    new (init: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  }
  export class Check {
    constructor(reason: string, description: string, check: (ctx: KoaContextWithOIDC) => boolean | Promise<boolean>);
    static readonly REQUEST_PROMPT: true;
    static readonly NO_NEED_TO_PROMPT: false;
  }
  export interface PromptInstance {
    readonly checks: { add(check: Check, index?: number): void };
  }
  export interface PolicyInstance {
    get(name: string): PromptInstance | undefined;
  }
  export const interactionPolicy: { base(): PolicyInstance; Check: typeof Check };
  export const errors: Record<string, new (description?: string) => Error>;

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    readonly Grant: GrantConstructor;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, opts?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    on(event: string, listener: (...args: never[]) => void): this;
  }
  export default Provider;
}
