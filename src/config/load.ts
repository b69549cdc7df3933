/**
 * YAML text -> validated, typed `Config`. Every problem names its key path, what was expected,
 * what was given and the line it sits on, so an operator can fix the file without guessing.
 */

import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { BatonError } from '../errors.js';
import { configSchema, type RawConfig } from './schema.js';
import { describeValue } from './values.js';
import type { Config } from './types.js';
import { resolveTlsPaths } from './tls-schema.js';

/** One thing wrong with a config file; `path` is empty for YAML syntax errors. */
export interface ConfigProblem {
  /** Key path like `services.web.hosts[0]`. */
  path: string;
  /** `expected ..., got ...`. */
  message: string;
  /** 1-based line of the offending node (of its parent mapping when the key is missing). */
  line: number;
}

/** The `file` of a config that did not come from disk. */
const EMBEDDED = '<default>';

type Segment = PropertyKey;

/**
 * Parse and validate config text. Pure apart from resolving paths: it reads no file.
 *
 * @param file where `text` came from: named in errors, and the base of relative paths.
 * @throws BatonError `CONFIG_INVALID`, with details `{ file, problems: ConfigProblem[] }`.
 */
export function parseConfig(text: string, file: string): Config {
  const absFile = file === EMBEDDED ? EMBEDDED : resolve(file);
  const lineCounter = new LineCounter();
  let doc: Document;
  let data: unknown;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const syntax = doc.errors.map((e) => ({ path: '', message: `YAML syntax error: ${firstLine(e.message)}`, line: lineOfOffset(lineCounter, e.pos[0]) }));
    if (syntax.length > 0) throw invalid(file, absFile, syntax);
    // maxAliasCount bounds alias expansion ("billion laughs"), so a hostile file cannot hang us.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof BatonError) throw err;
    // e.g. too many aliases, or nesting deep enough to overflow the stack
    const message = `YAML could not be read: ${err instanceof Error ? firstLine(err.message) : String(err)}`;
    throw invalid(file, absFile, [{ path: '', message, line: 1 }], err);
  }

  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const issue of result.error.issues) {
      for (const { path, message } of describeIssue(issue)) {
        const key = formatPath(path);
        if (seen.has(key)) continue; // one problem per key: the first is the most telling
        seen.add(key);
        problems.push({ path: key, message, line: lineOfPath(doc, lineCounter, path) });
      }
    }
    problems.sort((a, b) => a.line - b.line);
    throw invalid(file, absFile, problems, result.error);
  }
  return resolvePaths(result.data, absFile);
}

/**
 * Read and parse a config file.
 *
 * @throws BatonError `CONFIG_UNREADABLE` naming the file and the OS reason, or `CONFIG_INVALID`.
 */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BatonError('CONFIG_UNREADABLE', `cannot read config file ${file}: ${osReason(err)}`, {
      cause: err,
      details: { file: resolve(file) },
    });
  }
  return parseConfig(text, file);
}

/** Render one problem as the contract shows it: `path: expected ..., got ... (line N)`. */
export function formatProblem(p: ConfigProblem): string {
  return p.path === '' ? `${p.message} (line ${p.line})` : `${p.path}: ${p.message} (line ${p.line})`;
}

function invalid(file: string, absFile: string, problems: ConfigProblem[], cause?: unknown): BatonError {
  // One line: the CLI prints the reason on a single stderr line.
  const message = `invalid config ${file}: ${problems.map(formatProblem).join('; ')}`;
  return new BatonError('CONFIG_INVALID', message, { cause, details: { file: absFile, problems } });
}

function resolvePaths(raw: RawConfig, absFile: string): Config {
  const embedded = absFile === EMBEDDED;
  const dir = embedded ? resolve('.') : dirname(absFile);
  const stem = embedded ? 'baton' : basename(absFile, extname(absFile));
  const services: Config['services'] = {};
  for (const [name, service] of Object.entries(raw.services)) {
    const maintenance = service.maintenance.page === undefined ? service.maintenance : { ...service.maintenance, page: resolve(dir, service.maintenance.page) };
    services[name] = { ...service, process: { ...service.process, cwd: resolve(dir, service.process.cwd) }, maintenance };
  }
  return {
    file: absFile,
    dir,
    listen: raw.listen,
    control: {
      socket: resolve(dir, raw.control.socket),
      ...(raw.control.tcp === undefined ? {} : { tcp: { listen: raw.control.tcp.listen, tokenFile: resolve(dir, raw.control.tcp.token_file) } }),
    },
    stateFile: resolve(dir, raw.stateFile ?? `${stem}.state.json`),
    trustedProxies: raw.trustedProxies,
    limits: raw.limits,
    ...(raw.tls === undefined ? {} : { tls: resolveTlsPaths(raw.tls, dir) }),
    accessLog: raw.accessLog.path === 'stdout' ? raw.accessLog : { ...raw.accessLog, path: resolve(dir, raw.accessLog.path) },
    traceparent: raw.traceparent,
    services,
  };
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Turn a zod issue into problems (one per unknown key) with `expected ..., got ...` wording. */
function describeIssue(issue: z.core.$ZodIssue): Array<{ path: Segment[]; message: string }> {
  const path = [...issue.path];
  const got = issueGot(issue);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key, ${issue.message}` }));
    case 'invalid_type': {
      if (path.length === 0) return [{ path, message: `expected a mapping with a "services" key, got ${got}` }];
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      const tail = issue.input === undefined && !('received' in issue) ? 'but the key is missing' : `got ${got}`;
      return [{ path, message: `expected ${expected}, ${tail}` }];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      if (issue.origin === 'array') {
        const word = issue.code === 'too_small' ? 'at least' : 'at most';
        return [{ path, message: `expected ${word} ${bound} item${Number(bound) === 1 ? '' : 's'}, got ${got}` }];
      }
      if (issue.origin === 'string' && issue.code === 'too_small') return [{ path, message: `expected a non-empty string, got ${got}` }];
      return [{ path, message: `expected a number ${op} ${bound}, got ${got}` }];
    }
    case 'invalid_value':
      return [{ path, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}` }];
    case 'invalid_key':
      return [{ path, message: `${issue.issues[0]?.message ?? 'invalid key'}, got ${got}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

function issueGot(issue: z.core.$ZodIssue): string {
  // zod reports Infinity and NaN (YAML `.inf`, `.nan`) as `received`, not `input`.
  const received = (issue as { received?: unknown }).received;
  return typeof received === 'string' ? received : describeValue(issue.input);
}

/** `services.web.hosts[0]`; keys that are not plain words are quoted: `services["a.b"]`. */
function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/**
 * The line of the node at `path`: of its key when it is a mapping entry, of the deepest
 * existing ancestor when it is missing (its parent mapping).
 */
function lineOfPath(doc: Document, lineCounter: LineCounter, path: readonly Segment[]): number {
  let node: unknown = doc.contents;
  let line = lineOfNode(lineCounter, node) ?? 1;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let at: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      at = lineOfNode(lineCounter, pair.key) ?? lineOfNode(lineCounter, pair.value);
      next = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      next = node.items[seg];
      at = lineOfNode(lineCounter, next);
    } else {
      break;
    }
    if (at !== undefined) line = at;
    node = next;
  }
  return line;
}

function lineOfNode(lineCounter: LineCounter, node: unknown): number | undefined {
  return isNode(node) && node.range ? lineOfOffset(lineCounter, node.range[0]) : undefined;
}

function lineOfOffset(lineCounter: LineCounter, offset: number): number {
  return lineCounter.linePos(offset).line;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/** `ENOENT: no such file or directory, open 'x'` -> `no such file or directory (ENOENT)`. */
function osReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const match = /^([A-Z0-9_]+): ([^,]+)/.exec(err.message);
  return match ? `${match[2]} (${match[1]})` : err.message;
}
