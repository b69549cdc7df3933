/**
 * `services:`: one service (its routes, version, runtime and sections) and the mapping of them,
 * with the checks that span keys: a runtime's required key, service names, and a host pattern
 * and path prefix claimed by two services.
 */

import { z } from 'zod';
import { Expected, integer, leaf, strict } from './leaf.js';
import { dockerSchema, drainSchema, healthSchema, holdSchema, maintenanceSchema, migrateSchema, notifySchema, processSchema } from './service-sections.js';
import { hstsSchema } from './tls-schema.js'; // issue 11: the edge
import type { DockerConfig, ProcessConfig, ServiceConfig } from './types.js';
import { describeValue, normalizeHostPattern, normalizePathPrefix, SERVICE_NAME_RE, VERSION_EXPECTED, VERSION_RE } from './values.js';

const versionSchema = leaf((v) => (typeof v === 'string' && VERSION_RE.test(v) ? v : new Expected(VERSION_EXPECTED)));

const hostPatternSchema = leaf((input) => {
  const pattern = typeof input === 'string' ? normalizeHostPattern(input) : undefined;
  return pattern ?? new Expected('a host pattern like "example.com", "*.example.com" or "*"');
});

const pathPrefixSchema = leaf((input) => {
  const prefix = typeof input === 'string' ? normalizePathPrefix(input) : undefined;
  return prefix ?? new Expected('a path prefix like "/" or "/api" (no query, no "//")');
});

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

/** The `services:` mapping: each service named, at least one, no route claimed twice. */
export const servicesSchema = z
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
