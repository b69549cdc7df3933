/**
 * The zod schema of the raw YAML configuration. Objects are strict (an unknown key is an error),
 * every optional key has its default here, and the output is already camel-cased with durations
 * in milliseconds. Paths stay as written: `load.ts` resolves them against the config file.
 */

import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { hstsSchema, tlsSchema } from './tls-schema.js'; // issue 11: the edge
import type {
  AccessLogConfig,
  DockerConfig,
  DrainConfig,
  HealthConfig,
  HoldConfig,
  HostPort,
  MaintenanceConfig,
  MigrateConfig,
  LimitsConfig,
  NotifyConfig,
  ProcessConfig,
  ServiceConfig,
} from './types.js';

/** Valid service names (also the `{name}` of control API paths). */
export const SERVICE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** Valid versions: safe in image tags, container names and file names. */
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Longest delay a Node.js timer honours; a longer one fires at once (TimeoutOverflowWarning). */
export const MAX_DURATION_MS = 2_147_483_647;

const VERSION_EXPECTED = 'a version like "v2" (up to 128 letters, digits, ".", "_" or "-", not starting with a symbol)';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** What was expected, as returned by a leaf's converter in place of a value. */
class Expected {
  constructor(readonly text: string) {}
}

/** Describe a YAML value in an error message: strings quoted, collections named. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/**
 * Check a version string.
 * @returns an error message (`expected ..., got ...`), or `undefined` when `v` is valid.
 */
export function validateVersion(v: string): string | undefined {
  return VERSION_RE.test(v) ? undefined : `expected ${VERSION_EXPECTED}, got ${describeValue(v)}`;
}

/** Parse `host:port` or `[ipv6]:port` (port 0-65535; 0 picks a free one). */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  const [, v6, host] = match;
  if (v6 !== undefined) return isIPv6(v6) ? { host: v6, port } : undefined;
  if (host === undefined || (isIP(host) === 0 && !HOSTNAME_RE.test(host.toLowerCase()))) return undefined;
  return { host, port };
}

/**
 * Normalize a Host pattern: `exact.host`, `*.domain.tld`, `[::1]` or `*`, lower-cased.
 * @returns the pattern, or `undefined` when it is none of those (ports are not part of patterns).
 */
export function normalizeHostPattern(pattern: string): string | undefined {
  const p = pattern.toLowerCase();
  if (p === '*') return p;
  if (p.startsWith('[') && p.endsWith(']')) return isIPv6(p.slice(1, -1)) ? p : undefined;
  const host = p.startsWith('*.') ? p.slice(2) : p;
  return host.length <= 253 && HOSTNAME_RE.test(host) ? p : undefined;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Parse a byte size: a non-negative integer, or a string like `"512kb"`, `"10mb"` (1024-based). */
export function parseByteSize(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(input.trim());
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'none'];
  if (match === null || unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A leaf that validates itself: `convert` returns the value, or what was expected instead. */
function leaf<T>(convert: (input: unknown) => T | Expected) {
  return z.unknown().transform((input, ctx): T => {
    const out = convert(input);
    if (!(out instanceof Expected)) return out;
    const got = input === undefined ? 'but the key is missing' : `got ${describeValue(input)}`;
    ctx.addIssue({ code: 'custom', message: `expected ${out.text}, ${got}`, input });
    return z.NEVER;
  });
}

/** A strict object whose unknown-key issue lists the keys it knows. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `expected one of ${known}` : undefined),
  });
}

/** A duration string with a default; `positive` forbids 0 (a zero health interval would spin). */
function duration(fallback: string, positive = false) {
  return leaf((input) => {
    const ms = typeof input === 'string' ? parseDuration(input) : undefined;
    if (ms === undefined) return new Expected('a duration like "500ms"');
    if (positive && ms === 0) return new Expected('a duration above 0 like "500ms"');
    return ms <= MAX_DURATION_MS ? ms : new Expected('a duration of at most 596h');
  }).prefault(fallback);
}

/** An integer within bounds, with a message saying which ("an integer from 1 to 65535"). */
function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return leaf((v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : new Expected(range)));
}

const versionSchema = leaf((v) => (typeof v === 'string' && VERSION_RE.test(v) ? v : new Expected(VERSION_EXPECTED)));

const hostPatternSchema = leaf((input) => {
  const pattern = typeof input === 'string' ? normalizeHostPattern(input) : undefined;
  return pattern ?? new Expected('a host pattern like "example.com", "*.example.com" or "*"');
});

/** A path prefix: "/" or "/seg/seg", matched on whole segments; a trailing "/" is dropped. */
export function normalizePathPrefix(input: string): string | undefined {
  if (!input.startsWith('/') || /[?#\s\\]|\/\//.test(input) || !/^[\x21-\x7e]+$/.test(input)) return undefined;
  return input.length > 1 && input.endsWith('/') ? input.slice(0, -1) : input;
}

const pathPrefixSchema = leaf((input) => {
  const prefix = typeof input === 'string' ? normalizePathPrefix(input) : undefined;
  return prefix ?? new Expected('a path prefix like "/" or "/api" (no query, no "//")');
});

const ipSchema = leaf((input) =>
  typeof input === 'string' && isIP(input) !== 0 ? input : new Expected('an IP address like "10.0.0.1"'),
);

// Numbers and booleans are stringified: `DEBUG: 1` is what operators write.
const envSchema = z
  .record(
    z.string().regex(/^[^=\0]+$/, 'expected an environment variable name without "="'),
    leaf((v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : new Expected('a string'))),
  )
  .default(() => ({}));

const processSchema = strict({
  command: z
    .array(z.string())
    .min(1)
    .refine((argv) => argv[0] !== '', { message: 'expected a program as the first element, got ""' })
    .optional(),
  cwd: z.string().min(1).default('.'),
  env: envSchema,
}).prefault({});

const dockerSchema = strict({
  image: z.string().min(1).optional(),
  port: integer(1, 65_535).prefault(3000),
  network: z.string().min(1).default('host'),
  env: envSchema,
}).prefault({});

const healthSchema = strict({
  path: leaf((p) => (typeof p === 'string' && p.startsWith('/') ? p : new Expected('a path starting with "/"'))).prefault('/healthz'),
  interval: duration('200ms', true),
  timeout: duration('2s', true),
  deadline: duration('60s', true),
  healthy_threshold: integer(1).prefault(1),
  interval_running: duration('2s', true),
  unhealthy_threshold: integer(1).prefault(3),
})
  .transform((h): HealthConfig => ({
    path: h.path,
    intervalMs: h.interval,
    timeoutMs: h.timeout,
    deadlineMs: h.deadline,
    healthyThreshold: h.healthy_threshold,
    intervalRunningMs: h.interval_running,
    unhealthyThreshold: h.unhealthy_threshold,
  }))
  .prefault({});

const holdSchema = strict({ timeout: duration('10s'), max_queued: integer(0).prefault(10_000) })
  .transform((h): HoldConfig => ({ timeoutMs: h.timeout, maxQueued: h.max_queued }))
  .prefault({});

const drainSchema = strict({ timeout: duration('30s'), websocket_grace: duration('5s') })
  // The contract caps the grace at the drain timeout: the old version is stopped by then anyway.
  .transform((d): DrainConfig => ({ timeoutMs: d.timeout, websocketGraceMs: Math.min(d.websocket_grace, d.timeout) }))
  .prefault({});

const notifySchema = strict({ inject: z.boolean().default(false) }).transform((n): NotifyConfig => n).prefault({});

const migrateSchema = strict({
  command: z
    .array(z.string())
    .min(1)
    .refine((argv) => argv[0] !== '', { message: 'expected a program as the first element, got ""' }),
  hold: z.boolean().default(true),
  timeout: duration('60s', true),
})
  .transform((m): MigrateConfig => ({ command: m.command, hold: m.hold, timeoutMs: m.timeout }))
  .optional();

const maintenanceSchema = strict({
  page: z.string().min(1).optional(),
  retry_after: duration('30s', true),
})
  .transform((m): MaintenanceConfig => ({ ...(m.page === undefined ? {} : { page: m.page }), retryAfterMs: m.retry_after }))
  .prefault({});

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const serviceSchema = strict({
  hosts: z.array(hostPatternSchema).min(1).default(() => ['*']),
  paths: z.array(pathPrefixSchema).min(1).default(() => ['/']),
  strip_prefix: z.boolean().default(false),
  version: versionSchema,
  runtime: z.enum(['process', 'docker']).default('process'),
  process: processSchema,
  docker: dockerSchema,
  health: healthSchema,
  hold: holdSchema,
  drain: drainSchema,
  notify: notifySchema,
  migrate: migrateSchema,
  maintenance: maintenanceSchema,
  replicas: integer(1, 64).prefault(1),
  load_balancing: z.enum(['least_inflight', 'round_robin']).default('least_inflight'),
  hsts: hstsSchema, // issue 11
})
  .superRefine(
    (parsed, ctx) => {
      // Runs even when siblings failed (`when`), so every problem is reported in one pass; hence
      // `s` may be anything the YAML held, even null.
      const s: unknown = parsed;
      if (!isRecord(s)) return;
      if (s['runtime'] === 'process' && isRecord(s['process']) && s['process']['command'] === undefined) {
        const message = 'expected a command like ["node", "server.js"] (required when runtime is "process"), but the key is missing';
        ctx.addIssue({ code: 'custom', path: ['process', 'command'], message });
      }
      if (s['runtime'] === 'docker' && isRecord(s['docker']) && s['docker']['image'] === undefined) {
        const message = 'expected an image like "my-app:{version}" (required when runtime is "docker"), but the key is missing';
        ctx.addIssue({ code: 'custom', path: ['docker', 'image'], message });
      }
    },
    { when: () => true },
  )
  .transform((s): Omit<ServiceConfig, 'name'> => {
    const processConfig: ProcessConfig = { command: s.process.command ?? [], cwd: s.process.cwd, env: s.process.env };
    const docker: DockerConfig = { image: s.docker.image ?? '', port: s.docker.port, network: s.docker.network, env: s.docker.env };
    const { replicas, load_balancing, strip_prefix, hsts, ...rest } = s;
    return { ...rest, migrate: s.migrate, ...(hsts === undefined ? {} : { hsts }), hosts: [...new Set(s.hosts)], paths: [...new Set(s.paths)], stripPrefix: strip_prefix, process: processConfig, docker, replicas, loadBalancing: load_balancing };
  });

const servicesSchema = z
  .record(z.string(), serviceSchema)
  .superRefine(
    (services, ctx) => {
      if (!isRecord(services)) return;
      const names = Object.keys(services);
      if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one service, got none', input: services });
      // A host pattern and path prefix belong to one service: two claiming both is ambiguous.
      const owners = new Map<string, string>();
      for (const name of names) {
        if (!SERVICE_NAME_RE.test(name)) {
          const message = `expected a service name of letters, digits, "_" or "-" (up to 63, starting with a letter or digit), got ${describeValue(name)}`;
          ctx.addIssue({ code: 'custom', path: [name], message, input: name });
        }
        const service = isRecord(services[name]) ? services[name] : undefined;
        const hosts = service?.['hosts'] ?? ['*'];
        const rawPaths = service?.['paths'] ?? ['/'];
        if (!Array.isArray(hosts) || !Array.isArray(rawPaths)) continue;
        const paths = rawPaths.flatMap((p: unknown) => (typeof p === 'string' ? [normalizePathPrefix(p) ?? p] : []));
        hosts.forEach((host: unknown, i) => {
          if (typeof host !== 'string') return;
          for (const prefix of new Set(paths)) {
            const key = `${host.toLowerCase()} ${prefix}`;
            const owner = owners.get(key);
            if (owner === undefined) owners.set(key, name);
            else if (owner !== name) {
              const where = prefix === '/' ? `host pattern ${describeValue(host)}` : `host pattern ${describeValue(host)} with path ${describeValue(prefix)}`;
              const message = `${where} is claimed by both service "${owner}" and service "${name}"`;
              ctx.addIssue({ code: 'custom', path: service?.['hosts'] === undefined ? [name] : [name, 'hosts', i], message, input: host });
            }
          }
        });
      }
    },
    { when: () => true },
  )
  .transform((services): Record<string, ServiceConfig> =>
    Object.fromEntries(Object.entries(services).map(([name, s]) => [name, { name, ...s }])),
  );

const limitsSchema = strict({
  headers_timeout: duration('10s'),
  request_timeout: duration('300s'),
  keep_alive_timeout: duration('5s'),
  max_header_size: integer(1).prefault(16_384),
  max_headers_count: integer(0).prefault(100),
  max_body: leaf((v) => parseByteSize(v) ?? new Expected('a size in bytes like 1048576 or "10mb" (0 = unlimited)')).prefault(0),
  upstream_headers_timeout: duration('60s', true),
  notice_sockets_per_client: integer(1).prefault(64),
  underscores_in_headers: z.boolean().default(false),
})
  .transform(
    (l): LimitsConfig => ({
      headersTimeoutMs: l.headers_timeout,
      requestTimeoutMs: l.request_timeout,
      keepAliveTimeoutMs: l.keep_alive_timeout,
      maxHeaderSize: l.max_header_size,
      maxHeadersCount: l.max_headers_count,
      maxBodyBytes: l.max_body,
      upstreamHeadersTimeoutMs: l.upstream_headers_timeout,
      noticeSocketsPerClient: l.notice_sockets_per_client,
      underscoresInHeaders: l.underscores_in_headers,
    }),
  )
  .prefault({});

// --- access_log and traceparent (issue 16) ---
/** `access_log:` present means on (`enabled` defaults to true); absent, off. */
const accessLogSchema = strict({
  enabled: z.boolean().default(true),
  path: z.string().min(1).default('stdout'),
  sample: leaf((v) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : new Expected('a fraction from 0 to 1 like 0.1'))).prefault(1),
  include_query: z.boolean().default(false),
  buffer: leaf((v) => {
    const n = parseByteSize(v);
    return n !== undefined && n >= 4096 ? n : new Expected('a size of at least 4kb like "8mb"');
  }).prefault('8mb'),
})
  .transform((a): AccessLogConfig => ({ enabled: a.enabled, path: a.path, sample: a.sample, includeQuery: a.include_query, bufferBytes: a.buffer }))
  .optional()
  .transform((a): AccessLogConfig => a ?? { enabled: false, path: 'stdout', sample: 1, includeQuery: false, bufferBytes: 8 * 1024 * 1024 });

const traceparentSchema = z.enum(['generate', 'forward']).default('generate');
// --- end access_log and traceparent ---

/**
 * The whole file. Its output is a `Config` minus what depends on where the file lives:
 * `file`, `dir`, and absolute paths (`stateFile` is `undefined` when not set).
 */
export const configSchema = strict({
  listen: leaf((v) => (typeof v === 'string' ? parseHostPort(v) : undefined) ?? new Expected('host:port like "127.0.0.1:8080"')).prefault(
    '127.0.0.1:8080',
  ),
  control: strict({
    socket: z.string().min(1).default('./baton.sock'),
    // Off by default. When set, `token_file` is required (checked in load.ts).
    tcp: strict({
      listen: leaf((v) => (typeof v === 'string' ? parseHostPort(v) : undefined) ?? new Expected('host:port like "127.0.0.1:9900"')),
      token_file: z.string().min(1),
    }).optional(),
  }).prefault({}),
  state_file: z.string().min(1).optional(),
  trusted_proxies: z.array(ipSchema).default(() => []),
  limits: limitsSchema,
  tls: tlsSchema.optional(), // issue 11
  access_log: accessLogSchema,
  traceparent: traceparentSchema,
  services: servicesSchema,
}).transform((c) => ({
  listen: c.listen,
  control: c.control,
  stateFile: c.state_file,
  trustedProxies: c.trusted_proxies,
  limits: c.limits,
  tls: c.tls,
  accessLog: c.access_log,
  traceparent: c.traceparent,
  services: c.services,
}));

/** What `configSchema` produces, before paths are resolved. */
export type RawConfig = z.output<typeof configSchema>;
