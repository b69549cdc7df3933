/**
 * What a reload changes: the running config against the new one, service by service. Pure.
 * The reload (baton.ts) applies it; `baton reload` prints it.
 */
import type { Config, ServiceConfig } from './types.js';

/** Service settings that apply to the running version at once. */
const IN_PLACE = ['hosts', 'paths', 'stripPrefix', 'health', 'hold', 'drain', 'notify', 'loadBalancing', 'migrate', 'maintenance', 'hsts'] as const;
/** Service settings of how a version is started: they wait for the next deploy. */
const NEXT_DEPLOY = ['runtime', 'process', 'docker', 'replicas', 'version'] as const;
/** Top-level settings a running Baton cannot take without a restart (or `baton upgrade`). */
const RESTART = ['listen', 'control', 'stateFile'] as const;

export interface ServiceChange {
  service: string;
  /** Keys applied at once (YAML names). */
  now: string[];
  /** Keys that take effect with the service's next deploy: its running version keeps its settings. */
  next_deploy: string[];
}

export interface ConfigDiff {
  added: string[];
  removed: string[];
  changed: ServiceChange[];
  unchanged: string[];
  /** Top-level keys applied at once (limits, trusted_proxies, access_log, traceparent). */
  global: string[];
  /** Top-level keys not applied: they need a restart. */
  restart_required: string[];
}

const YAML_NAMES: Record<string, string> = {
  stripPrefix: 'strip_prefix',
  loadBalancing: 'load_balancing',
  stateFile: 'state_file',
  trustedProxies: 'trusted_proxies',
  accessLog: 'access_log',
};

export function diffConfig(running: Config, next: Config): ConfigDiff {
  const diff: ConfigDiff = { added: [], removed: [], changed: [], unchanged: [], global: [], restart_required: [] };
  for (const name of Object.keys(next.services)) if (running.services[name] === undefined) diff.added.push(name);
  for (const name of Object.keys(running.services)) {
    const now = running.services[name]!;
    const then = next.services[name];
    if (then === undefined) {
      diff.removed.push(name);
      continue;
    }
    const change = serviceChange(now, then);
    if (change.now.length === 0 && change.next_deploy.length === 0) diff.unchanged.push(name);
    else diff.changed.push(change);
  }
  // tls: certificates re-read and settings applied in place (issue 11); its listen address needs a restart.
  if (!same(running.tls === undefined ? undefined : { ...running.tls, listen: undefined }, next.tls === undefined ? undefined : { ...next.tls, listen: undefined })) diff.global.push('tls');
  if (!same(running.tls?.listen, next.tls?.listen)) diff.restart_required.push('tls.listen');
  for (const key of ['limits', 'trustedProxies', 'accessLog', 'traceparent'] as const) if (!same(running[key], next[key])) diff.global.push(yamlName(key));
  for (const key of RESTART) if (!same(running[key], next[key])) diff.restart_required.push(yamlName(key));
  return diff;
}

function serviceChange(now: ServiceConfig, next: ServiceConfig): ServiceChange {
  return {
    service: now.name,
    now: IN_PLACE.filter((k) => !same(now[k], next[k])).map(yamlName),
    next_deploy: NEXT_DEPLOY.filter((k) => !same(now[k], next[k])).map(yamlName),
  };
}

function yamlName(key: string): string {
  return YAML_NAMES[key] ?? key;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
