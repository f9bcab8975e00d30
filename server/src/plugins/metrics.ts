/**
 * Prometheus metrics at `GET /metrics` (text exposition format 0.0.4). Counters and gauges are
 * kept in a small registry; gauges may be computed at scrape time by callbacks. No dependency.
 * Who may scrape is the `opsAccess` setting (`opsAccessGuard` in `plugins/auth.ts`).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

type Labels = Readonly<Record<string, string>>;

export class MetricsRegistry {
  readonly #help = new Map<string, { type: 'counter' | 'gauge'; help: string }>();
  readonly #values = new Map<string, Map<string, number>>();
  readonly #collectors: (() => void)[] = [];

  define(name: string, type: 'counter' | 'gauge', help: string): void {
    this.#help.set(name, { type, help });
    if (!this.#values.has(name)) this.#values.set(name, new Map());
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    this.#series(name).set(labelKey(labels), (this.#series(name).get(labelKey(labels)) ?? 0) + by);
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.#series(name).set(labelKey(labels), value);
  }

  get(name: string, labels: Labels = {}): number {
    return this.#values.get(name)?.get(labelKey(labels)) ?? 0;
  }

  /** Registers a callback run before each scrape (to refresh gauges). */
  collect(fn: () => void): void {
    this.#collectors.push(fn);
  }

  render(): string {
    for (const c of this.#collectors) c();
    let out = '';
    for (const [name, series] of this.#values) {
      const h = this.#help.get(name);
      if (h !== undefined) out += `# HELP ${name} ${h.help}\n# TYPE ${name} ${h.type}\n`;
      for (const [k, v] of series) out += `${name}${k} ${v}\n`;
    }
    return out;
  }

  #series(name: string): Map<string, number> {
    let s = this.#values.get(name);
    if (s === undefined) {
      s = new Map();
      this.#values.set(name, s);
    }
    return s;
  }
}

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: MetricsRegistry;
  }
}

async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const m = new MetricsRegistry();
  m.define('onecard_http_requests_total', 'counter', 'HTTP requests by route and status class');
  m.define('onecard_auth_failures_total', 'counter', 'Refused authentications by kind (admin, terminal, mqtt)');
  m.define('onecard_auth_limited_total', 'counter', 'Wrong credentials answered 429 because their client address or target was over the failure limit');
  m.define('onecard_process_resident_memory_bytes', 'gauge', 'Resident set size of the server process');
  m.collect(() => m.set('onecard_process_resident_memory_bytes', process.memoryUsage().rss));
  app.decorate('metrics', m);
  app.addHook('onResponse', async (req, reply) => {
    m.inc('onecard_http_requests_total', { route: req.routeOptions.url ?? 'unknown', status: `${Math.floor(reply.statusCode / 100)}xx` });
  });
  // Access per `opsAccess` (auth plugin, registered after this one; resolved per request).
  app.get('/metrics', { schema: { hide: true }, preHandler: async (req, reply) => app.opsAccessGuard(req, reply) }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4');
    return m.render();
  });
}

export default fp(metricsPlugin, { name: 'onecard-metrics' });
