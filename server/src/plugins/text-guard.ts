/**
 * Applies the one text validator (`text-safety.ts`) to every parsed JSON request body before the
 * route's schema runs, so no name, label, reason or tag with NUL, control or bidirectional-override
 * characters is ever kept, whichever route receives it. Raw bodies (update packages) are not JSON
 * and are checked by their own format.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { assertSafeText } from '../text-safety.ts';

async function textGuardPlugin(app: FastifyInstance): Promise<void> {
  app.addHook('preValidation', async (req) => {
    const body: unknown = req.body;
    if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body) && typeof (body as { pipe?: unknown }).pipe !== 'function') assertSafeText(body, 'body');
  });
}

export default fp(textGuardPlugin, { name: 'onecard-text-guard' });
