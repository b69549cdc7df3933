/**
 * The zod schema of the raw YAML configuration. Objects are strict (an unknown key is an error),
 * every optional key has its default here, and the output is already camel-cased with durations
 * in milliseconds. Paths stay as written: `load.ts` resolves them against the config file.
 * This file holds the top level (listen, control, limits, access_log, traceparent); `services:`
 * is service-schema.ts, `tls:` tls-schema.ts, the leaf values values.ts.
 */

import { isIP } from 'node:net';
import { z } from 'zod';
import { Expected, duration, integer, leaf, strict } from './leaf.js';
import { servicesSchema } from './service-schema.js';
import { tlsSchema } from './tls-schema.js'; // issue 11: the edge
import type { AccessLogConfig, LimitsConfig } from './types.js';
import { parseByteSize, parseHostPort } from './values.js';

const ipSchema = leaf((input) =>
  typeof input === 'string' && isIP(input) !== 0 ? input : new Expected('an IP address like "10.0.0.1"'),
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
