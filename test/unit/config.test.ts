import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { stringify } from 'yaml';
import { formatDuration, parseDuration } from '../../src/config/duration.js';
import { loadConfig, parseConfig, type ConfigProblem } from '../../src/config/load.js';
import { validateVersion } from '../../src/config/values.js';
import type { Config } from '../../src/config/types.js';
import { BatonError, isBatonError } from '../../src/errors.js';

const FILE = '/srv/baton/baton.yaml';

/** Join lines, so a test reads with its line numbers in mind. */
function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

const MINIMAL_LINES = ['services:', '  web:', '    version: v1', '    process:', '      command: [node, server.js]'];
const MINIMAL = yaml(...MINIMAL_LINES);

/** Parse text expected to be invalid; fail unless it throws CONFIG_INVALID. */
function rejected(text: string): { error: BatonError; problems: ConfigProblem[] } {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    if (!isBatonError(error)) throw error;
    expect(error.code).toBe('CONFIG_INVALID');
    return { error, problems: error.details['problems'] as ConfigProblem[] };
  }
  throw new Error('expected parseConfig to throw CONFIG_INVALID');
}

function problemAt(text: string, path: string): ConfigProblem {
  const { problems } = rejected(text);
  const problem = problems.find((p) => p.path === path);
  if (problem === undefined) throw new Error(`no problem at ${path}: ${JSON.stringify(problems)}`);
  return problem;
}

describe('parseDuration', () => {
  it('reads ms, s, m, h and decimals', () => {
    expect(['250ms', '10s', '2m', '1h', '1.5s', '0s'].map(parseDuration)).toEqual([250, 10_000, 120_000, 3_600_000, 1_500, 0]);
  });

  it('rejects bare numbers, negatives, unknown units and empty text', () => {
    expect(['500', '-1s', '10d', '', 's', '1.s', ' 1s', '1S'].map(parseDuration)).toEqual(Array(8).fill(undefined));
  });
});

describe('formatDuration', () => {
  it('keeps about three significant digits with the fitting unit', () => {
    expect([0.4, 12, 1234, 90_000, 3_600_000].map(formatDuration)).toEqual(['0.4ms', '12ms', '1.23s', '1m30s', '1h']);
  });
});

describe('validateVersion', () => {
  it('accepts tags and rejects path-like versions', () => {
    expect(validateVersion('v1.2.3-rc_1')).toBeUndefined();
    expect(validateVersion('../v1')).toMatch(/expected a version/);
  });
});

describe('parseConfig', () => {
  it('gives a minimal config every default', () => {
    const config = parseConfig(MINIMAL, FILE);
    expect(config).toEqual({
      file: FILE,
      dir: '/srv/baton',
      listen: { host: '127.0.0.1', port: 8080 },
      control: { socket: '/srv/baton/baton.sock' },
      stateFile: '/srv/baton/baton.state.json',
      trustedProxies: [],
      limits: {
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 300_000,
        keepAliveTimeoutMs: 5_000,
        maxHeaderSize: 16_384,
        maxHeadersCount: 100,
        noticeSocketsPerClient: 64,
        maxBodyBytes: 0,
        upstreamHeadersTimeoutMs: 60_000,
        underscoresInHeaders: false,
      },
      accessLog: { enabled: false, path: 'stdout', sample: 1, includeQuery: false, bufferBytes: 8 * 1024 * 1024 },
      traceparent: 'generate',
      services: {
        web: {
          name: 'web',
          hosts: ['*'],
          version: 'v1',
          runtime: 'process',
          process: { command: ['node', 'server.js'], cwd: '/srv/baton', env: {} },
          docker: { image: '', port: 3000, network: 'host', env: {} },
          health: { path: '/healthz', intervalMs: 200, timeoutMs: 2_000, deadlineMs: 60_000, healthyThreshold: 1, intervalRunningMs: 2_000, unhealthyThreshold: 3 },
          hold: { timeoutMs: 10_000, maxQueued: 10_000 },
          drain: { timeoutMs: 30_000, websocketGraceMs: 5_000 },
          notify: { inject: false },
          migrate: undefined,
          maintenance: { retryAfterMs: 30_000 },
          replicas: 1,
          loadBalancing: 'least_inflight',
          paths: ['/'],
          stripPrefix: false,
        },
      } satisfies Config['services'],
    } satisfies Config);
  });

  it('resolves relative cwd, control.socket and state_file against the config folder', () => {
    const text = yaml(
      'control: {socket: ../run/baton.sock}',
      'state_file: state/last.json',
      'services:',
      '  web:',
      '    version: v1',
      '    process: {command: [node, s.js], cwd: ../app}',
    );
    const config = parseConfig(text, FILE);
    expect(config.control.socket).toBe('/srv/run/baton.sock');
    expect(config.stateFile).toBe('/srv/baton/state/last.json');
    expect(config.services['web']?.process.cwd).toBe('/srv/app');
  });

  it('accepts a bracketed IPv6 listen address', () => {
    expect(parseConfig(yaml('listen: "[::1]:9090"', ...MINIMAL_LINES), FILE).listen).toEqual({ host: '::1', port: 9090 });
  });

  it('reads max_body as bytes or as a size string', () => {
    expect(parseConfig(yaml('limits: {max_body: 10mb}', ...MINIMAL_LINES), FILE).limits.maxBodyBytes).toBe(10 * 1024 * 1024);
    expect(parseConfig(yaml('limits: {max_body: 512}', ...MINIMAL_LINES), FILE).limits.maxBodyBytes).toBe(512);
  });

  it('clamps websocket_grace to drain.timeout', () => {
    const config = parseConfig(yaml(...MINIMAL_LINES, '    drain: {timeout: 2s, websocket_grace: 5s}'), FILE);
    expect(config.services['web']?.drain).toEqual({ timeoutMs: 2_000, websocketGraceMs: 2_000 });
  });

  it('needs no process.command for a docker service', () => {
    const text = yaml('services:', '  web:', '    version: v1', '    runtime: docker', '    docker: {image: "demo:{version}"}');
    expect(parseConfig(text, FILE).services['web']?.docker.image).toBe('demo:{version}');
  });

  it('names key path, expectation, value and line of a bad duration, as the contract shows', () => {
    const text = yaml(
      'listen: 127.0.0.1:8080',
      'control:',
      '  socket: ./baton.sock',
      'services:',
      '  web:',
      '    hosts: ["*"]',
      '    version: v1',
      '    runtime: process',
      '    process:',
      '      command: ["node", "app/server.js"]',
      '      cwd: .',
      '    health:',
      '      path: /healthz',
      '      interval: fast',
    );
    const { error } = rejected(text);
    expect(error.message).toContain('services.web.health.interval: expected a duration like "500ms", got "fast" (line 14)');
  });

  it('names the path and line of an unknown key', () => {
    const problem = problemAt(yaml(...MINIMAL_LINES, '    helth: {path: /}'), 'services.web.helth');
    expect(problem.line).toBe(6);
    expect(problem.message).toMatch(/unknown key/);
  });

  it('names the path and line of a value of the wrong type', () => {
    const problem = problemAt(yaml(...MINIMAL_LINES, '    hold: {max_queued: lots}'), 'services.web.hold.max_queued');
    expect(problem).toEqual({ path: 'services.web.hold.max_queued', message: 'expected an integer >= 0, got "lots"', line: 6 });
  });

  it('names the path and line of a bad version', () => {
    const problem = problemAt(yaml('services:', '  web:', '    process: {command: [node]}', '    version: ../v1'), 'services.web.version');
    expect(problem.line).toBe(4);
    expect(problem.message).toMatch(/expected a version .*got "\.\.\/v1"/);
  });

  it('names the line of the parent mapping when process.command is missing', () => {
    const problem = problemAt(yaml('services:', '  web:', '    version: v1', '    process:', '      cwd: app'), 'services.web.process.command');
    expect(problem.line).toBe(4);
    expect(problem.message).toMatch(/key is missing/);
  });

  it('names the path and line of a bad host pattern', () => {
    const problem = problemAt(yaml(...MINIMAL_LINES, '    hosts: [example.com, "exa mple.com"]'), 'services.web.hosts[1]');
    expect(problem.line).toBe(6);
  });

  it('names both services when they claim the same host pattern', () => {
    const text = yaml(
      'services:',
      '  web:',
      '    hosts: [example.com]',
      '    version: v1',
      '    process: {command: [node]}',
      '  api:',
      '    hosts: [Example.com]',
      '    version: v1',
      '    process: {command: [node]}',
    );
    const problem = problemAt(text, 'services.api.hosts[0]');
    expect(problem.line).toBe(7);
    expect(problem.message).toContain('"web"');
    expect(problem.message).toContain('"api"');
  });

  it('lets two services share a host with different path prefixes', () => {
    const text = yaml(
      'services:',
      '  web:',
      '    hosts: [example.com]',
      '    version: v1',
      '    process: {command: [node]}',
      '  api:',
      '    hosts: [example.com]',
      '    paths: [/api/]',
      '    strip_prefix: true',
      '    version: v1',
      '    process: {command: [node]}',
    );
    const config = parseConfig(text, FILE);
    expect(config.services.api).toMatchObject({ paths: ['/api'], stripPrefix: true });
    expect(config.services.web).toMatchObject({ paths: ['/'], stripPrefix: false });
  });

  it('names both services when they claim the same host and path prefix', () => {
    const text = yaml(
      'services:',
      '  web:',
      '    hosts: [example.com]',
      '    paths: [/, /api]',
      '    version: v1',
      '    process: {command: [node]}',
      '  api:',
      '    hosts: [example.com]',
      '    paths: [/api/]',
      '    version: v1',
      '    process: {command: [node]}',
    );
    const problem = problemAt(text, 'services.api.hosts[0]');
    expect(problem.message).toContain('"/api"');
    expect(problem.message).toContain('"web"');
  });

  it.each(['api', '/a?b', '/a//b', '/a b', ''])('rejects the path prefix %j, naming it', (bad) => {
    const problem = problemAt(yaml(...MINIMAL_LINES, `    paths: [${JSON.stringify(bad)}]`), 'services.web.paths[0]');
    expect(problem.message).toMatch(/expected a path prefix/);
  });

  it('names the line of a YAML syntax error', () => {
    const { problems } = rejected(yaml('services:', '  web:', '    version: v1', '   process: [node')); // misindented, unclosed
    expect(problems[0]?.line).toBe(4);
    expect(problems[0]?.message).toMatch(/YAML syntax error/);
  });

  it('rejects an empty services map, naming its line', () => {
    const problem = problemAt(yaml('listen: 127.0.0.1:8080', 'services: {}'), 'services');
    expect(problem.line).toBe(2);
    expect(problem.message).toMatch(/at least one service/);
  });

  it('rejects an empty file', () => {
    expect(rejected('').problems).toHaveLength(1);
  });

  it('lists every problem in a single-line message', () => {
    const { error, problems } = rejected(yaml('listen: 8080', 'services:', '  web:', '    version: v1', '    runtime: podman'));
    expect(problems.map((p) => p.path)).toEqual(['listen', 'services.web.runtime']);
    expect(error.message).not.toContain('\n');
    expect(error.details['file']).toBe(FILE);
  });

  it('rejects an alias bomb quickly instead of expanding it', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i += 1) lines.push(`${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(10).fill(`*${'abcdefghij'[i - 1]}`).join(',')}]`);
    expect(rejected(yaml(...lines)).problems.length).toBeGreaterThan(0);
  });
});

describe('loadConfig', () => {
  it('loads the demo config', async () => {
    const config = await loadConfig('config/baton.yaml');
    expect(config.services['web']?.health.intervalMs).toBe(100);
    expect(config.control.socket).toBe(join(process.cwd(), 'baton.sock'));
  });

  it('reports an unreadable file as CONFIG_UNREADABLE naming the file and the OS reason', async () => {
    const file = join(tmpdir(), 'baton-no-such-dir', 'baton.yaml');
    const error: unknown = await loadConfig(file).catch((e: unknown) => e);
    expect(isBatonError(error) && error.code).toBe('CONFIG_UNREADABLE');
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain('ENOENT');
  });
});

/** The property: any input yields a Config or CONFIG_INVALID with located problems, nothing else. */
function acceptsOrRejectsCleanly(text: string): void {
  let config: Config;
  try {
    config = parseConfig(text, FILE);
  } catch (error) {
    expect(isBatonError(error) && error.code).toBe('CONFIG_INVALID');
    const problems = (error as BatonError).details['problems'] as ConfigProblem[];
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(Number.isInteger(p.line) && p.line >= 1).toBe(true);
    return;
  }
  expect(Object.keys(config.services).length).toBeGreaterThan(0);
}

const FRAGMENTS = [
  'services:', 'web:', 'version: v1', 'process:', 'command: [node, s.js]', 'hosts:', 'health:', 'interval: 1s',
  'runtime: docker', 'image: x', 'limits:', 'max_body: 1kb', '\n', '\n  ', '\n    ', '  ', '- ', '* ', '[', ']', '{', '}',
  ':', ',', '"', "'", '#', '&a ', '*a', '!!str ', '!!binary ', '? ', '|', '>-', '---\n', '...\n', '%YAML 1.2\n', '\t', '~', '.inf', '0x1F',
];

const MUTABLE_PATHS: string[][] = [
  ['listen'], ['control'], ['control', 'socket'], ['state_file'], ['trusted_proxies'], ['limits'], ['limits', 'max_body'],
  ['limits', 'headers_timeout'], ['services'], ['services', 'web'], ['services', 'Web-2'], ['services', 'web', 'hosts'],
  ['services', 'web', 'version'], ['services', 'web', 'runtime'], ['services', 'web', 'process'],
  ['services', 'web', 'process', 'command'], ['services', 'web', 'process', 'env'], ['services', 'web', 'docker'],
  ['services', 'web', 'docker', 'port'], ['services', 'web', 'health'], ['services', 'web', 'health', 'interval'],
  ['services', 'web', 'hold', 'max_queued'], ['services', 'web', 'drain'], ['services', 'web', 'notify', 'inject'],
];

/** A valid raw config with `value` written at `path`. */
function validWith(path: string[], value: unknown): unknown {
  const root: Record<string, unknown> = { services: { web: { version: 'v1', process: { command: ['node', 's.js'] } } } };
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node[key] = typeof next === 'object' && next !== null ? next : {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
  return root;
}

describe('parseConfig on arbitrary input', () => {
  const runs = { numRuns: 300 };
  const scalarish = fc.oneof(fc.jsonValue(), fc.constantFrom('1s', '0s', '-1s', '*', '*.a.b', 'a:1', '[::1]:0', '10mb', '/x', ''));

  it('returns a Config or throws CONFIG_INVALID for YAML-ish text', () => {
    const text = fc.oneof(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join('')), fc.string({ unit: 'binary', maxLength: 200 }));
    fc.assert(fc.property(text, acceptsOrRejectsCleanly), runs);
  });

  it('returns a Config or throws CONFIG_INVALID for arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => acceptsOrRejectsCleanly(JSON.stringify(value) ?? 'null')), runs);
  });

  it('returns a Config or throws CONFIG_INVALID for a valid config with one value replaced', () => {
    const mutated = fc.tuple(fc.constantFrom(...MUTABLE_PATHS), scalarish).map(([path, value]) => stringify(validWith(path, value)));
    fc.assert(fc.property(mutated, acceptsOrRejectsCleanly), runs);
  });
});
