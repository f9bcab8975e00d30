/**
 * The jobs plugin: decorates `app.jobs` (the {@link JobsNotifier} every feature registers its
 * job source with), re-announces a terminal's next job on its birth (retained messages of the
 * embedded broker do not survive a restart), and serves `GET /api/v1/terminal/jobs` so a
 * terminal lists its pending jobs when it (re)connects instead of relying on the broker.
 * Register after the broker and auth plugins and before the features that add sources.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { JobsNotifier } from './notifier.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared per-terminal job notifier. */
    jobs: JobsNotifier;
  }
}

async function jobsPlugin(app: FastifyInstance): Promise<void> {
  const notifier = new JobsNotifier((topic, payload, retain) => app.publishDown(topic, payload, retain));
  app.decorate('jobs', notifier);

  app.uplink.handle('birth', async (terminalId) => {
    await notifier.refresh(terminalId, true);
  });

  app.get('/api/v1/terminal/jobs', {
    preHandler: app.requireTerminal(),
    schema: {
      tags: ['terminal'], summary: 'This terminal\'s pending jobs (every kind), in the order to do them; the first is what `down/jobs/notify` announces',
      security: [{ terminalBasic: [] }],
    },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const jobs = await notifier.pending(req.terminal!.id);
    return { v: 1, jobs };
  });
}

export default fp(jobsPlugin, { name: 'onecard-jobs', dependencies: ['onecard-broker', 'onecard-auth'] });
