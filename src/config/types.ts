import type { HstsConfig, TlsConfig } from './tls-schema.js';

export type { AcmeConfig, HstsConfig, TlsConfig } from './tls-schema.js';

/**
 * The validated, typed configuration. Produced by `loadConfig` from YAML text; every path is
 * absolute and every duration is in milliseconds. Pure data: no behaviour lives here.
 */

export interface HostPort {
  host: string;
  port: number;
}

export interface ProcessConfig {
  /** argv; "{version}" in any element is replaced at start. */
  command: string[];
  /** Absolute working directory (relative paths are resolved against the config file's folder). */
  cwd: string;
  env: Record<string, string>;
}

export interface DockerConfig {
  /** Image reference; "{version}" is replaced at start. */
  image: string;
  /** Port the app listens on inside the container. */
  port: number;
  /** "host": the app gets PORT and listens on 127.0.0.1; else the name of a Docker network. */
  network: string;
  env: Record<string, string>;
}

export interface HealthConfig {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  deadlineMs: number;
  /** Consecutive 2xx probes needed before a new version counts as healthy, or a serving instance rejoins (default 1). */
  healthyThreshold: number;
  /** How often a serving instance is probed (default 2 s). */
  intervalRunningMs: number;
  /** Consecutive failed probes after which a serving instance leaves the rotation (default 3). */
  unhealthyThreshold: number;
}

export interface HoldConfig {
  timeoutMs: number;
  maxQueued: number;
}

export interface DrainConfig {
  timeoutMs: number;
  websocketGraceMs: number;
}

export interface NotifyConfig {
  /** Add the client script tag to text/html 200 responses that lack it. */
  inject: boolean;
}

/** A command run with each deploy, as the new version (issue 13). */
export interface MigrateConfig {
  command: string[];
  /** true: run inside the hold, once the old version has no request in flight; false: before the hold, both versions serving. */
  hold: boolean;
  timeoutMs: number;
}

export interface MaintenanceConfig {
  /** An HTML file served as the maintenance page (absolute once loaded). */
  page?: string;
  /** Retry-After of the maintenance answer. */
  retryAfterMs: number;
}

export type RuntimeKind = 'process' | 'docker';

export interface ServiceConfig {
  name: string;
  hosts: string[];
  /** Path prefixes (normalized: "/" or "/a/b"); the longest matching one of a matching host wins. */
  paths: string[];
  /** Take the matched prefix off the path sent to the app (X-Forwarded-Prefix carries it). */
  stripPrefix: boolean;
  version: string;
  runtime: RuntimeKind;
  process: ProcessConfig;
  docker: DockerConfig;
  health: HealthConfig;
  hold: HoldConfig;
  drain: DrainConfig;
  notify: NotifyConfig;
  migrate: MigrateConfig | undefined;
  maintenance: MaintenanceConfig;
  /** Instances per version, all health-gated before a switch. */
  replicas: number;
  loadBalancing: 'least_inflight' | 'round_robin';
  /** Strict-Transport-Security on its answers over TLS (issue 11); absent: off. */
  hsts?: HstsConfig;
}

/** Limits of the public listener (slowloris, oversize headers, bodies). */
export interface LimitsConfig {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderSize: number;
  maxHeadersCount: number;
  /** Bytes of a request body at most (0: no limit); past it the body fails `too_large`. */
  maxBodyBytes: number;
  /** Time an upstream may take to send response headers before the client gets 504. */
  upstreamHeadersTimeoutMs: number;
  /** Browser notice sockets (/_baton/ws) one client address may hold at once. */
  noticeSocketsPerClient: number;
  /** Whether request header names with "_" are passed on (nginx's `underscores_in_headers`; default: dropped). */
  underscoresInHeaders: boolean;
}

/** The access log (issue 16): one JSON line per request, through pino's asynchronous destination. */
export interface AccessLogConfig {
  enabled: boolean;
  /** "stdout", or an absolute file path once loaded (reopened on SIGUSR1). */
  path: string;
  /** Share of successful requests logged, 0 to 1; errors (5xx, outcomes other than ok) are always logged. */
  sample: number;
  includeQuery: boolean;
  /** Bytes of lines waiting for the disk past which new lines are dropped (and counted). */
  bufferBytes: number;
}

/** W3C traceparent: `generate` forwards a valid one and starts a trace otherwise; `forward` passes on what came. */
export type TraceparentMode = 'generate' | 'forward';

export interface Config {
  /** Absolute path of the file this came from ("<default>" for the embedded default). */
  file: string;
  /** Absolute folder that relative paths are resolved against. */
  dir: string;
  listen: HostPort;
  control: {
    socket: string;
    /** Optional TCP control listener; every request must carry `Authorization: Bearer <token>`. */
    tcp?: { listen: HostPort; tokenFile: string };
  };
  /** Absolute path of the state file (last deployed version per service). */
  stateFile: string;
  /** Client addresses whose X-Forwarded-For is appended to rather than replaced. */
  trustedProxies: string[];
  limits: LimitsConfig;
  /** HTTPS and HTTP/2 on their own listener (issue 11); absent: plain HTTP only. */
  tls?: TlsConfig;
  accessLog: AccessLogConfig;
  traceparent: TraceparentMode;
  services: Record<string, ServiceConfig>;
}
