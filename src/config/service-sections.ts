/**
 * The sections of one service, each a strict zod schema with its defaults, camel-cased on the
 * way out: `process`, `docker` (each with its `env`), `health`, `hold`, `drain`, `notify`,
 * `migrate` and `maintenance`. Assembled into a service by service-schema.ts.
 */

import { z } from 'zod';
import { duration, Expected, integer, leaf, strict } from './leaf.js';
import type { DrainConfig, HealthConfig, HoldConfig, MaintenanceConfig, MigrateConfig, NotifyConfig } from './types.js';

// Numbers and booleans are stringified: `DEBUG: 1` is what operators write.
const envSchema = z
  .record(
    z.string().regex(/^[^=\0]+$/, 'expected an environment variable name without "="'),
    leaf((v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : new Expected('a string'))),
  )
  .default(() => ({}));

export const processSchema = strict({
  command: z
    .array(z.string())
    .min(1)
    .refine((argv) => argv[0] !== '', { message: 'expected a program as the first element, got ""' })
    .optional(),
  cwd: z.string().min(1).default('.'),
  env: envSchema,
}).prefault({});

export const dockerSchema = strict({
  image: z.string().min(1).optional(),
  port: integer(1, 65_535).prefault(3000),
  network: z.string().min(1).default('host'),
  env: envSchema,
}).prefault({});

export const healthSchema = strict({
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

export const holdSchema = strict({ timeout: duration('10s'), max_queued: integer(0).prefault(10_000) })
  .transform((h): HoldConfig => ({ timeoutMs: h.timeout, maxQueued: h.max_queued }))
  .prefault({});

export const drainSchema = strict({ timeout: duration('30s'), websocket_grace: duration('5s') })
  // The contract caps the grace at the drain timeout: the old version is stopped by then anyway.
  .transform((d): DrainConfig => ({ timeoutMs: d.timeout, websocketGraceMs: Math.min(d.websocket_grace, d.timeout) }))
  .prefault({});

export const notifySchema = strict({ inject: z.boolean().default(false) }).transform((n): NotifyConfig => n).prefault({});

export const migrateSchema = strict({
  command: z
    .array(z.string())
    .min(1)
    .refine((argv) => argv[0] !== '', { message: 'expected a program as the first element, got ""' }),
  hold: z.boolean().default(true),
  timeout: duration('60s', true),
})
  .transform((m): MigrateConfig => ({ command: m.command, hold: m.hold, timeoutMs: m.timeout }))
  .optional();

export const maintenanceSchema = strict({
  page: z.string().min(1).optional(),
  retry_after: duration('30s', true),
})
  .transform((m): MaintenanceConfig => ({ ...(m.page === undefined ? {} : { page: m.page }), retryAfterMs: m.retry_after }))
  .prefault({});
