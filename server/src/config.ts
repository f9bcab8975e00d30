/**
 * Server configuration from (lowest to highest precedence) defaults, a JSON file (`--config`),
 * environment variables (`ONECARD_*`) and command-line flags. Pure: takes argv, env and a file
 * reader, returns the settings or a usage error; `main.ts` does the I/O.
 */
import { ServerError } from './errors.ts';

export interface ServerConfig {
  dataDir: string;
  host: string;
  httpPort: number;
  mqttPort: number;
  mqttHost: string;
  /** URL terminals are told to connect to; defaults to mqtt://<host>:<mqttPort>. */
  publicMqttUrl: string | undefined;
  /** Public HTTP base URL terminals fetch documents from; defaults to http://<host>:<httpPort>. */
  publicHttpUrl: string | undefined;
  logLevel: string;
  enrolmentTokenTtlSeconds: number;
  authRateLimitPerMinute: number;
  /** Comma-separated public keys (`ed25519:…`, `sm2:…`) trusted for update packages. */
  updateKeys?: string | undefined;
  /** Store: `postgres://…` for PostgreSQL, else the SQLite file in the data dir. */
  storeUrl?: string | undefined;
  /** Redis URL: the embedded broker shares sessions, retained messages and publishes with other servers. */
  redisUrl?: string | undefined;
  /** External broker URL (Mosquitto, EMQX): the server connects as a client instead of embedding aedes. */
  brokerUrl?: string | undefined;
  /** The server's user name on the external broker (also its client id). */
  brokerUsername?: string | undefined;
  /** The server's password on the external broker (prefer the environment variable). */
  brokerPassword?: string | undefined;
  /** Directory of Mosquitto's generated password_file and acl_file; kept in sync while the server runs. */
  mosquittoDir?: string | undefined;
  /** Mosquitto's pid file: sent SIGHUP after each sync. */
  mosquittoPidFile?: string | undefined;
  /** Embedded broker: connections held at most (the MQTT listener's descriptor budget). */
  mqttMaxConnections?: number | undefined;
  /** Embedded broker: connections from one address. */
  mqttMaxPerAddress?: number | undefined;
  /** Embedded broker: connections not yet authenticated, in total. */
  mqttMaxPending?: number | undefined;
  /** Embedded broker: connections not yet authenticated, per address. */
  mqttMaxPendingPerAddress?: number | undefined;
  /** Embedded broker: milliseconds a new connection has to be authenticated. */
  mqttConnectTimeoutMs?: number | undefined;
  /** HTTP listener: connections held at most (its own descriptor budget). */
  httpMaxConnections?: number | undefined;
  /** Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed. */
  trustedProxies?: string | undefined;
  /** Who may read `/metrics` and `/docs`: `token` (any admin token), `loopback` (or a token), `open`. */
  opsAccess?: string | undefined;
}

/** Who may read `/metrics` and `/docs` (see `plugins/auth.ts` `requireOpsAccess`). */
export const OPS_ACCESS = ['token', 'loopback', 'open'] as const;
export type OpsAccess = (typeof OPS_ACCESS)[number];

export const CONFIG_DEFAULTS: ServerConfig = {
  dataDir: './data',
  host: '127.0.0.1',
  httpPort: 8080,
  mqttPort: 1883,
  mqttHost: '127.0.0.1',
  publicMqttUrl: undefined,
  publicHttpUrl: undefined,
  logLevel: 'info',
  enrolmentTokenTtlSeconds: 86400,
  authRateLimitPerMinute: 30,
  updateKeys: undefined,
  storeUrl: undefined,
  redisUrl: undefined,
  brokerUrl: undefined,
  brokerUsername: undefined,
  brokerPassword: undefined,
  mosquittoDir: undefined,
  mosquittoPidFile: undefined,
  mqttMaxConnections: 20_000,
  mqttMaxPerAddress: 2_000,
  mqttMaxPending: 1_000,
  mqttMaxPendingPerAddress: 32,
  mqttConnectTimeoutMs: 10_000,
  httpMaxConnections: 1_024,
  trustedProxies: undefined,
  opsAccess: 'loopback',
};

interface OptionSpec {
  readonly key: keyof ServerConfig;
  readonly flag: string;
  readonly env: string;
  readonly kind: 'string' | 'port' | 'int';
  readonly help: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'dataDir', flag: '--data-dir', env: 'ONECARD_DATA_DIR', kind: 'string', help: 'directory for the SQLite store and the server key (created if missing)' },
  { key: 'host', flag: '--host', env: 'ONECARD_HOST', kind: 'string', help: 'address the HTTP API binds to' },
  { key: 'httpPort', flag: '--http-port', env: 'ONECARD_HTTP_PORT', kind: 'port', help: 'HTTP API port (0 picks a free one)' },
  { key: 'mqttHost', flag: '--mqtt-host', env: 'ONECARD_MQTT_HOST', kind: 'string', help: 'address the embedded MQTT broker binds to' },
  { key: 'mqttPort', flag: '--mqtt-port', env: 'ONECARD_MQTT_PORT', kind: 'port', help: 'embedded MQTT broker port (0 picks a free one)' },
  { key: 'publicMqttUrl', flag: '--public-mqtt-url', env: 'ONECARD_PUBLIC_MQTT_URL', kind: 'string', help: 'MQTT URL handed to terminals at enrolment' },
  { key: 'publicHttpUrl', flag: '--public-http-url', env: 'ONECARD_PUBLIC_HTTP_URL', kind: 'string', help: 'HTTP base URL terminals fetch documents from' },
  { key: 'logLevel', flag: '--log-level', env: 'ONECARD_LOG_LEVEL', kind: 'string', help: 'pino level: fatal, error, warn, info, debug, trace' },
  { key: 'enrolmentTokenTtlSeconds', flag: '--enrolment-ttl', env: 'ONECARD_ENROLMENT_TTL', kind: 'int', help: 'default enrolment token lifetime in seconds' },
  { key: 'updateKeys', flag: '--update-keys', env: 'ONECARD_UPDATE_KEYS', kind: 'string', help: 'comma-separated public keys (ed25519:… or sm2:…) trusted to sign update packages' },
  { key: 'storeUrl', flag: '--store', env: 'ONECARD_STORE_URL', kind: 'string', help: 'store: postgres://user:pass@host/db for PostgreSQL (default: SQLite file in the data dir)' },
  { key: 'redisUrl', flag: '--redis-url', env: 'ONECARD_REDIS_URL', kind: 'string', help: 'redis://host:port/db: share the embedded broker with other servers (sessions, retained, publishes)' },
  { key: 'brokerUrl', flag: '--broker-url', env: 'ONECARD_BROKER_URL', kind: 'string', help: 'mqtt://host:port of an external broker (Mosquitto): no embedded broker' },
  { key: 'brokerUsername', flag: '--broker-username', env: 'ONECARD_BROKER_USERNAME', kind: 'string', help: 'the server\'s user name (and client id) on the external broker (default onecard-server)' },
  { key: 'brokerPassword', flag: '--broker-password', env: 'ONECARD_BROKER_PASSWORD', kind: 'string', help: 'the server\'s password on the external broker (prefer the environment variable)' },
  { key: 'mosquittoDir', flag: '--mosquitto-dir', env: 'ONECARD_MOSQUITTO_DIR', kind: 'string', help: 'write Mosquitto password_file and acl_file here, kept in sync with the registry' },
  { key: 'mosquittoPidFile', flag: '--mosquitto-pid-file', env: 'ONECARD_MOSQUITTO_PID_FILE', kind: 'string', help: 'Mosquitto pid file: SIGHUP after each sync so it reloads the files' },
  { key: 'authRateLimitPerMinute', flag: '--auth-rate-limit', env: 'ONECARD_AUTH_RATE_LIMIT', kind: 'int', help: 'enrolment attempts per minute per client address; failed admin/terminal authentications per minute per client address and per target (wrong credentials then get 429; right ones always pass)' },
  { key: 'trustedProxies', flag: '--trusted-proxies', env: 'ONECARD_TRUSTED_PROXIES', kind: 'string', help: 'comma-separated addresses/CIDRs of the load balancers or reverse proxies in front of the HTTP API; only their X-Forwarded-For is believed' },
  { key: 'opsAccess', flag: '--ops-access', env: 'ONECARD_OPS_ACCESS', kind: 'string', help: '/metrics and /docs: token (any admin token), loopback (loopback without forwarding headers, or a token), open' },
  { key: 'httpMaxConnections', flag: '--http-max-connections', env: 'ONECARD_HTTP_MAX_CONNECTIONS', kind: 'int', help: 'connections the HTTP listener holds at most' },
  { key: 'mqttMaxConnections', flag: '--mqtt-max-connections', env: 'ONECARD_MQTT_MAX_CONNECTIONS', kind: 'int', help: 'connections the embedded broker holds at most (reduced to fit the open-file limit)' },
  { key: 'mqttMaxPerAddress', flag: '--mqtt-max-per-address', env: 'ONECARD_MQTT_MAX_PER_ADDRESS', kind: 'int', help: 'embedded broker connections from one address' },
  { key: 'mqttMaxPending', flag: '--mqtt-max-pending', env: 'ONECARD_MQTT_MAX_PENDING', kind: 'int', help: 'embedded broker connections not yet authenticated, in total' },
  { key: 'mqttMaxPendingPerAddress', flag: '--mqtt-max-pending-per-address', env: 'ONECARD_MQTT_MAX_PENDING_PER_ADDRESS', kind: 'int', help: 'embedded broker connections not yet authenticated, per address' },
  { key: 'mqttConnectTimeoutMs', flag: '--mqtt-connect-timeout', env: 'ONECARD_MQTT_CONNECT_TIMEOUT', kind: 'int', help: 'milliseconds a new MQTT connection has to send its CONNECT and be authenticated' },
];

export function usage(): string {
  const lines = [
    'Usage: onecard-server [options]',
    '',
    'Starts the OneCard fleet server: HTTP API (with /docs), embedded MQTT broker and SQLite store.',
    'On an empty data directory the first admin token is taken from ONECARD_ADMIN_TOKEN or',
    'generated and printed once.',
    'Transit key sets need a 32-byte master key: ONECARD_MASTER_KEY_FILE (a file) or',
    'ONECARD_MASTER_KEY (hex); it is never stored in the database.',
    '',
    'Options (flag, environment variable, default):',
  ];
  for (const o of OPTIONS) lines.push(`  ${o.flag.padEnd(20)} ${o.env.padEnd(26)} ${String(CONFIG_DEFAULTS[o.key] ?? '-')}`, `      ${o.help}`);
  lines.push('  --config FILE        ONECARD_CONFIG             JSON file with any of the keys above (camelCase)', '  --help               show this help', '', 'Example: onecard-server --data-dir ./data --http-port 8080 --mqtt-port 1883');
  return lines.join('\n');
}

function coerce(o: OptionSpec, raw: unknown, source: string): string | number {
  if (o.kind === 'string') {
    if (typeof raw !== 'string' || raw.length === 0) throw new ServerError('SRV_ERR_CONFIG', `${source}: ${o.flag} needs a value`, { option: o.key });
    return raw;
  }
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || (o.kind === 'port' && n > 65535)) throw new ServerError('SRV_ERR_CONFIG', `${source}: ${o.flag} must be ${o.kind === 'port' ? 'a port number (0-65535)' : 'a non-negative integer'}`, { option: o.key });
  return n;
}

export type ParsedArgs = { help: true } | { help: false; config: ServerConfig };

/**
 * @throws ServerError `SRV_ERR_CONFIG` naming the option at fault.
 */
export function parseServerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readFile: (path: string) => string): ParsedArgs {
  const cfg: Record<string, unknown> = { ...CONFIG_DEFAULTS };
  const flags = new Map<string, string>();
  let configFile = env.ONECARD_CONFIG;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return { help: true };
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = inline ?? argv[++i];
    if (name === '--config') {
      if (value === undefined) throw new ServerError('SRV_ERR_CONFIG', '--config needs a file', { option: 'config' });
      configFile = value;
      continue;
    }
    if (!OPTIONS.some((o) => o.flag === name)) throw new ServerError('SRV_ERR_CONFIG', `unknown option ${name} (see --help)`, { option: name });
    if (value === undefined) throw new ServerError('SRV_ERR_CONFIG', `${name} needs a value`, { option: name });
    flags.set(name, value);
  }
  if (configFile !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFile(configFile));
    } catch (cause) {
      throw new ServerError('SRV_ERR_CONFIG', `cannot read config file ${configFile}`, { option: 'config' }, { cause });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ServerError('SRV_ERR_CONFIG', `${configFile}: must be a JSON object`);
    for (const [k, v] of Object.entries(doc)) {
      const o = OPTIONS.find((x) => x.key === k);
      if (o === undefined) throw new ServerError('SRV_ERR_CONFIG', `${configFile}: unknown key ${k}`, { option: k });
      cfg[o.key] = coerce(o, v, configFile);
    }
  }
  for (const o of OPTIONS) {
    const e = env[o.env];
    if (e !== undefined && e !== '') cfg[o.key] = coerce(o, e, o.env);
  }
  for (const o of OPTIONS) {
    const f = flags.get(o.flag);
    if (f !== undefined) cfg[o.key] = coerce(o, f, o.flag);
  }
  if (!OPS_ACCESS.includes(cfg.opsAccess as OpsAccess)) throw new ServerError('SRV_ERR_CONFIG', `--ops-access must be one of ${OPS_ACCESS.join(', ')}`, { option: 'opsAccess' });
  for (const k of ['mqttMaxConnections', 'mqttMaxPerAddress', 'mqttMaxPending', 'mqttMaxPendingPerAddress', 'mqttConnectTimeoutMs', 'httpMaxConnections'] as const) {
    if (cfg[k] === 0) throw new ServerError('SRV_ERR_CONFIG', `${OPTIONS.find((o) => o.key === k)!.flag} must be at least 1`, { option: k });
  }
  return { help: false, config: cfg as unknown as ServerConfig };
}
