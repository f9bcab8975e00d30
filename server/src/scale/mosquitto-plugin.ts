/**
 * Keeps Mosquitto's password and ACL files in step with the terminal registry while the server
 * runs: when an enrolment or re-key answers with a terminal's new password, its broker entry is
 * captured (`mosquitto.ts`); after an enrolment, a re-key, a disable or an enable the files are
 * rewritten and Mosquitto is sent SIGHUP. Syncs are serialised and coalesced. Registered by
 * `server.ts` when `--mosquitto-dir` is set.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { hashToken, sameHash } from '../crypto-util.ts';
import { captureCredentials, syncMosquitto, type SyncResult } from './mosquitto.ts';

export interface MosquittoPluginOptions {
  readonly dir: string;
  readonly serverUsername: string;
  readonly serverPassword?: string | undefined;
  readonly pidFile?: string | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Rewrites the Mosquitto files now (after pending changes); resolves with the outcome. */
    mosquittoSync(): Promise<SyncResult>;
  }
}

const TRIGGERS = /^\/api\/v1\/(enrol|terminals\/[^/]+\/(disable|enable))$/;

async function mosquittoPlugin(app: FastifyInstance, opts: MosquittoPluginOptions): Promise<void> {
  const { store } = app.ctx;
  let running: Promise<SyncResult> | undefined;
  let again = false;
  const sync = (): Promise<SyncResult> => {
    if (running !== undefined) {
      again = true;
      return running.then(() => sync());
    }
    const p = syncMosquitto({ store, dir: opts.dir, serverUsername: opts.serverUsername, serverPassword: opts.serverPassword, pidFile: opts.pidFile });
    running = p.finally(() => {
      running = undefined;
      if (again) { again = false; void sync().catch(() => {}); }
    });
    return p;
  };
  const syncLogged = (): void => {
    sync().then((r) => app.log.info({ written: r.written, missing: r.missing.length, reloaded: r.reloaded }, 'mosquitto files synced'),
      (err: unknown) => app.log.error({ err }, 'mosquitto sync failed'));
  };
  app.decorate('mosquittoSync', sync);

  // The enrolment answer is the only place the clear password exists: capture its broker entry.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'POST' || reply.statusCode !== 201 || req.routeOptions.url !== '/api/v1/enrol' || typeof payload !== 'string') return payload;
    try {
      const body = JSON.parse(payload) as { terminalId?: unknown; mqtt?: { password?: unknown } };
      const id = body.terminalId;
      const password = body.mqtt?.password;
      if (typeof id === 'string' && typeof password === 'string') {
        const t = await store.getTerminal(id);
        const h = hashToken(password);
        if (t !== undefined && sameHash(h, t.credentialHash)) captureCredentials(opts.dir, id, password, h);
      }
    } catch (err) {
      req.log.error({ err }, 'capturing the broker credentials failed');
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'POST' && reply.statusCode < 300 && TRIGGERS.test(req.routeOptions.url ?? '')) syncLogged();
  });
  app.fleet.on('terminal-disabled', syncLogged);
  app.fleet.on('terminal-credentials-changed', syncLogged);
  app.addHook('onReady', async () => { syncLogged(); });
  app.addHook('onClose', async () => { await running?.catch(() => {}); });
}

export default fp(mosquittoPlugin, { name: 'onecard-mosquitto-sync' });
