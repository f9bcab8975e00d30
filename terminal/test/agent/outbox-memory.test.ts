import t from 'tap';
import { MemoryOutbox } from '../../src/agent/memory-outbox.ts';
import { outboxConformance } from './outbox-conformance.ts';

await outboxConformance(t, async (opts) => new MemoryOutbox({ ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.clock ? { clock: opts.clock } : {}) }));
