/** A sample access-log record, for the tests of the line's two writers. */
import type { AccessFields } from '../../src/observe/access-line.js';

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
