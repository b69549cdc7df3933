/**
 * The access log in tests: a sample record, for the tests of the line's two writers, and the
 * lines a running Baton wrote to its file.
 */
import { readFile } from 'node:fs/promises';
import type { AccessFields } from '../../src/observe/access-line.js';

/** One access-log line, parsed. */
export type Line = Record<string, unknown>;

/** The lines of the access log `file` as they are now (none while it does not exist). */
export async function readLines(file: string): Promise<Line[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** The lines of `file`, once there are at least `n` (bounded wait: Baton batches them). */
export async function linesOf(file: string, n: number, timeoutMs = 5000): Promise<Line[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const lines = await readLines(file);
    if (lines.length >= n || Date.now() > until) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const FIELDS: AccessFields = {
  kind: 'http',
  service: 'web',
  host: 'example.com',
  method: 'GET',
  path: '/a',
  status: 200,
  bytes_in: 0,
  bytes_out: 12,
  duration_ms: 1.23456,
  ttfb_ms: 0.5,
  version: 'v1',
  upstream: '127.0.0.1:4000',
  request_id: 'id-1',
  client: '203.0.113.7',
  user_agent: 'curl/8',
  protocol: 'http/1.1',
  tls: null,
  held_ms: 0,
  attempts: 1,
  outcome: 'ok',
  traceparent: null,
};
